// The pricing subgraph: price plans, rated charges, the pricing policy and its exceptions, adjustments.
import type DataLoader from 'dataloader';
import { actingSubject, type BaseContext, type SubgraphDefinition } from '../../lib/subgraph-server';
import type { Resolvers } from './generated/resolvers-types';
import type { Logger } from '../../lib/logger';
import { loaderByField } from '../../lib/loaders';
import { pageBy, pageById, withCount, type SortOrder } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { createPricePlan, revisePricePlan } from './create-price-plan';
import { chargeAsStored } from './charge-input';
import { approvePricingException, setPricingPolicy } from './pricing-policy';
import { rateBillingPeriod, rateBillingPeriodForAll } from './rate-billing-period';
import { setSpendingAlert } from './spending-alerts';
import type { SubscriptionRating } from './rating-run';
import { startHeldRatingWorker, rateHeldPeriods } from './held-ratings';
import { Jobs, jobIndexes } from '../../lib/jobs';
import { BILLING_RUN_JOB, billingRunJob, billingRunOf, type BillingRunJobView } from './billing-run-job';
import {
  currentRevisions,
  indexes,
  pricingStore,
  type PricePlanDoc,
  type PricingStore,
  type RatedChargeDoc,
} from './store';

interface Services {
  store: PricingStore;
  log: Logger;
  /** Billing runs as jobs (lib/jobs.ts). */
  jobs: Jobs;
}

export interface Context extends BaseContext, Services {
  plans: DataLoader<string, PricePlanDoc | null>;
  ratedCharges: DataLoader<string, RatedChargeDoc | null>;
}

/** Work queues and the record of adjustments: oldest first. */
const OLDEST_FIRST: SortOrder = [
  ['createdAt', 1],
  ['_id', 1],
];

const issue = (r: SubscriptionRating) => ({
  subscription: { id: r.subscriptionId },
  status: r.status,
  code: r.error?.code ?? null,
  message: r.error?.message ?? null,
  exception: r.exception,
});

export const pricingSubgraph: SubgraphDefinition<Services, Context, Resolvers> = {
  name: 'pricing',
  indexes: [...indexes, ...jobIndexes],
  createServices: (db, log) => {
    const store = pricingStore(db);
    const jobs = new Jobs(db, log);
    jobs.register(billingRunJob(store));
    return { store, log, jobs };
  },
  createContext: (services, base) => ({
    ...base,
    ...services,
    plans: loaderByField(services.store.pricePlans),
    ratedCharges: loaderByField(services.store.ratedCharges),
  }),
  startBackground: (s, log) => {
    const stopHeld = startHeldRatingWorker(s.store, log);
    const stopJobs = s.jobs.startWorker();
    return async () => {
      await stopJobs();
      await stopHeld();
    };
  },
  resolvers: {
    Query: {
      billingRunJob: async (_, { id }, ctx) => ctx.jobs.view(id) as Promise<BillingRunJobView | null>,
      pricePlan: (_, { id }, ctx) => ctx.plans.load(id),
      pricePlanVersions: async (_, a, ctx) =>
        withCount(
          await pageBy(ctx.store.pricePlans, { key: a.key }, [['version', 1]], a.first, a.after),
          ctx.store.pricePlans,
          { key: a.key },
        ),
      pricePlans: (_, args, ctx) => pageById(ctx.store.pricePlans, {}, args.first, args.after),
      ratedCharge: (_, { id }, ctx) => ctx.ratedCharges.load(id),
      ratedCharges: async (_, args, ctx) =>
        currentRevisions(
          await ctx.store.ratedCharges
            .find({ subscriptionId: args.subscriptionId, periodKey: parsePeriod(args.period).key })
            .toArray(),
        ).filter((c) => !c.voided),
      ratedChargesForPeriod: async (_, args, ctx) => {
        const periodKey = parsePeriod(args.period).key;
        const all: RatedChargeDoc[] = [];
        // Keyset pages on the period index, so each read is bounded however large the period is.
        for (let after: string | null = null; ;) {
          const page: RatedChargeDoc[] = await ctx.store.ratedCharges
            .find(after === null ? { periodKey } : { periodKey, _id: { $gt: after } })
            .sort({ _id: 1 })
            .limit(1_000)
            .toArray();
          all.push(...page);
          if (page.length < 1_000) break;
          after = page[page.length - 1]!._id;
        }
        return currentRevisions(all)
          .filter((c) => !c.voided)
          .sort((a, b) => a.subscriptionId.localeCompare(b.subscriptionId) || a.lineKey.localeCompare(b.lineKey));
      },
      ratedChargeHistory: async (_, args, ctx) => {
        const filter = { subscriptionId: args.subscriptionId, periodKey: parsePeriod(args.period).key };
        const order: SortOrder = [
          ['chargeKey', 1],
          ['revision', 1],
        ];
        return withCount(
          await pageBy(ctx.store.ratedCharges, filter, order, args.first, args.after),
          ctx.store.ratedCharges,
          filter,
        );
      },
      spendingAlerts: async (_, { customerId }, ctx) =>
        (await ctx.store.spendingAlerts.find({ customerId }).toArray()).sort(
          (a, b) =>
            a.usageTypeKey.localeCompare(b.usageTypeKey) ||
            a.metric.localeCompare(b.metric) ||
            a._id.localeCompare(b._id),
        ),
      pricingPolicy: (_, __, ctx) => ctx.store.policy.findOne({ _id: 'policy' }),
      pricingExceptions: async (_, args, ctx) => {
        const filter = args.status ? { status: args.status } : {};
        return withCount(
          await pageBy(ctx.store.exceptions, filter, OLDEST_FIRST, args.first, args.after),
          ctx.store.exceptions,
          args.status ? filter : null,
        );
      },
    },
    Mutation: {
      createPricePlan: (_, { input }, ctx) => createPricePlan(ctx.store, input, ctx.correlationId),
      revisePricePlan: (_, args, ctx) =>
        revisePricePlan(ctx.store, args.key, args.effectiveFrom, args.input, ctx.correlationId),
      rateBillingPeriod: (_, args, ctx) =>
        rateBillingPeriod(ctx.store, args.subscriptionId, args.period, ctx.correlationId, ctx.log),
      rateBillingPeriodForAll: (_, { period }, ctx) =>
        rateBillingPeriodForAll(ctx.store, period, ctx.correlationId, ctx.log),
      startBillingRun: async (_, { period }, ctx) => {
        const key = parsePeriod(period).key;
        const job = await ctx.jobs.start(
          BILLING_RUN_JOB,
          key,
          { period: key },
          { subject: actingSubject(ctx), correlationId: ctx.correlationId },
        );
        return (await ctx.jobs.view(job._id)) as BillingRunJobView;
      },
      setPricingPolicy: (_, { input }, ctx) => setPricingPolicy(ctx.store, input),
      setSpendingAlert: (_, { input }, ctx) => setSpendingAlert(ctx.store, input, actingSubject(ctx)),
      approvePricingException: async (_, args, ctx) => {
        const approved = await approvePricingException(ctx.store, args.id, actingSubject(ctx));
        await rateHeldPeriods(ctx.store, approved, ctx.correlationId, ctx.log);
        return (await ctx.store.exceptions.findOne({ _id: args.id }))!;
      },
    },
    SpendingAlert: {
      id: (a) => a._id,
      customer: (a) => ({ id: a.customerId }),
      triggers: async (a, _, ctx) =>
        (await ctx.store.spendingAlertTriggers.find({ alertId: a._id }).toArray()).sort((x, y) =>
          y.periodKey.localeCompare(x.periodKey),
        ),
    },
    SpendingAlertTrigger: {
      period: (t) => t.periodKey,
    },
    PricePlan: {
      __resolveReference: (ref, ctx) => ctx.plans.load(ref.id),
      id: (p) => p._id,
      interval: (p) => p.interval ?? 'MONTHLY',
      effectiveFrom: (p) => p.effectiveFrom ?? new Date(0),
      recurringFees: (p) => p.recurringFees ?? [],
      minimumCommitment: (p) => p.minimumCommitment ?? null,
      usageThresholds: (p) => p.usageThresholds ?? [],
    },
    UsageCharge: {
      // Each tiered model keeps its tiers under `tiers`; the API shows them in the field of their own shape.
      tiers: (c) => (c.model === 'GRADUATED' || c.model === 'VOLUME' ? c.tiers : null),
      percentageTiers: (c) => (c.model === 'GRADUATED_PERCENTAGE' ? c.tiers : null),
      blockTiers: (c) => (c.model === 'TIERED_BLOCKS' ? c.tiers : null),
      flatFeeAtZeroUsage: (c) => {
        const inForce = chargeAsStored(c);
        return 'flatFeeAtZeroUsage' in inForce ? (inForce.flatFeeAtZeroUsage ?? null) : null;
      },
    },
    RatedCharge: {
      __resolveReference: (ref, ctx) => ctx.ratedCharges.load(ref.id),
      id: (c) => c._id,
      lineKey: (c) => c.lineKey ?? c.chargeKey,
      kind: (c) => c.kind ?? 'USAGE',
      voided: (c) => c.voided ?? false,
      subscription: (c) => ({ id: c.subscriptionId }),
      customer: (c) => ({ id: c.customerId }),
      period: (c) => parsePeriod(c.periodKey),
      servicePeriodStart: (c) => c.servicePeriod?.from ?? parsePeriod(c.periodKey).start,
      servicePeriodEnd: (c) => c.servicePeriod?.to ?? parsePeriod(c.periodKey).end,
      aggregate: (c) => (c.aggregateId ? { id: c.aggregateId } : null),
      pricePlan: (c, _, ctx) => (c.pricePlanId ? ctx.plans.load(c.pricePlanId) : null),
    },
    RatingResult: {
      subscription: (r) => ({ id: r.subscriptionId }),
    },
    BillingRun: {
      totals: (r) => [...r.totals].sort((a, b) => (a.currency < b.currency ? -1 : 1)),
      heldSubscriptions: (r) => r.heldSubscriptions.map(issue),
      failures: (r) => r.failures.map(issue),
    },
    BillingRunJob: {
      id: (v) => v.job._id,
      period: (v) => parsePeriod(v.job.input.period),
      startedAt: (v) => v.job.startedAt,
      startedBy: (v) => v.job.startedBy,
      progress: (v) => ({ done: v.done, total: v.total, failures: v.failures, ratePerSecond: v.ratePerSecond }),
      run: (v) => billingRunOf(v),
    },
    PricingException: {
      __resolveReference: (ref, ctx) => ctx.store.exceptions.findOne({ _id: ref.id }),
      id: (e) => e._id,
      subscription: (e) => ({ id: e.subscriptionId }),
      customer: (e) => ({ id: e.customerId }),
      message: (e) =>
        `the contract terms (version ${e.termsVersion}) are outside the pricing policy: ${e.violations.map((v) => v.reason).join('; ')}`,
      remedy: () =>
        'approve the terms with approvePricingException, or correct them with setContractTerms; the held periods are then rated by themselves',
    },
    UsageAggregate: {
      __resolveReference: (ref) => ref,
      ratedCharges: async (a, args, ctx) =>
        withCount(
          await pageBy(ctx.store.ratedCharges, { aggregateId: a.id }, [['revision', 1]], args.first, args.after),
          ctx.store.ratedCharges,
          { aggregateId: a.id },
        ),
    },
  },
};
