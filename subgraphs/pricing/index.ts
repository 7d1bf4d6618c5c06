// The pricing subgraph: price plans, rated charges, the pricing policy and its exceptions, adjustments.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import { actingSubject, type BaseContext, type SubgraphDefinition } from '../../lib/subgraph-server';
import type { Logger } from '../../lib/logger';
import { loaderByField } from '../../lib/loaders';
import { pageBy, pageById, withCount, type SortOrder } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { createPricePlan, revisePricePlan } from './create-price-plan';
import { approvePricingException, setPricingPolicy } from './pricing-policy';
import { rateBillingPeriod, rateBillingPeriodForAll, type BillingRun, type RatingResult } from './rate-billing-period';
import type { SubscriptionRating } from './rating-run';
import { startHeldRatingWorker, rateHeldPeriods } from './held-ratings';
import {
  currentRevisions,
  indexes,
  pricingStore,
  type AdjustmentDoc,
  type PricePlanDoc,
  type PricingExceptionDoc,
  type PricingStore,
  type RatedChargeDoc,
} from './store';

interface Services {
  store: PricingStore;
  log: Logger;
}

interface Context extends BaseContext, Services {
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

export const pricingSubgraph: SubgraphDefinition<Services, Context> = {
  name: 'pricing',
  indexes,
  createServices: (db, log) => ({ store: pricingStore(db), log }),
  createContext: (services, base) => ({
    ...base,
    ...services,
    plans: loaderByField(services.store.pricePlans),
    ratedCharges: loaderByField(services.store.ratedCharges),
  }),
  startBackground: (s, log) => startHeldRatingWorker(s.store, log),
  resolvers: {
    Query: {
      pricePlan: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.plans.load(id),
      pricePlanVersions: async (_: unknown, a: { key: string; first?: number; after?: string }, ctx: Context) =>
        withCount(
          await pageBy(ctx.store.pricePlans, { key: a.key }, [['version', 1]], a.first, a.after),
          ctx.store.pricePlans,
          { key: a.key },
        ),
      pricePlans: (_: unknown, args: { first?: number; after?: string }, ctx: Context) =>
        pageById(ctx.store.pricePlans, {}, args.first, args.after),
      ratedCharge: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.ratedCharges.load(id),
      ratedCharges: async (_: unknown, args: { subscriptionId: string; period: string }, ctx: Context) =>
        currentRevisions(
          await ctx.store.ratedCharges
            .find({ subscriptionId: args.subscriptionId, periodKey: parsePeriod(args.period).key })
            .toArray(),
        ).filter((c) => !c.voided),
      ratedChargeHistory: async (
        _: unknown,
        args: { subscriptionId: string; period: string; first?: number; after?: string },
        ctx: Context,
      ) => {
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
      pricingPolicy: (_: unknown, __: unknown, ctx: Context) => ctx.store.policy.findOne({ _id: 'policy' }),
      pricingExceptions: async (
        _: unknown,
        args: { status?: PricingExceptionDoc['status'] | null; first?: number; after?: string },
        ctx: Context,
      ) => {
        const filter = args.status ? { status: args.status } : {};
        return withCount(
          await pageBy(ctx.store.exceptions, filter, OLDEST_FIRST, args.first, args.after),
          ctx.store.exceptions,
          args.status ? filter : null,
        );
      },
      ratingAdjustments: async (
        _: unknown,
        args: { subscriptionId?: string; period?: string; first?: number; after?: string },
        ctx: Context,
      ) => {
        const q: Filter<AdjustmentDoc> = {};
        if (args.subscriptionId) q.subscriptionId = args.subscriptionId;
        if (args.period) q.periodKey = parsePeriod(args.period).key;
        return withCount(
          await pageBy(ctx.store.adjustments, q, OLDEST_FIRST, args.first, args.after),
          ctx.store.adjustments,
          args.subscriptionId ? q : null,
        );
      },
    },
    Mutation: {
      createPricePlan: (_: unknown, { input }: { input: unknown }, ctx: Context) =>
        createPricePlan(ctx.store, input, ctx.correlationId),
      revisePricePlan: (_: unknown, args: { key: string; effectiveFrom: Date; input: unknown }, ctx: Context) =>
        revisePricePlan(ctx.store, args.key, args.effectiveFrom, args.input, ctx.correlationId),
      rateBillingPeriod: (_: unknown, args: { subscriptionId: string; period: string }, ctx: Context) =>
        rateBillingPeriod(ctx.store, args.subscriptionId, args.period, ctx.correlationId, ctx.log),
      rateBillingPeriodForAll: (_: unknown, { period }: { period: string }, ctx: Context) =>
        rateBillingPeriodForAll(ctx.store, period, ctx.correlationId, ctx.log),
      setPricingPolicy: (_: unknown, { input }: { input: unknown }, ctx: Context) => setPricingPolicy(ctx.store, input),
      approvePricingException: async (_: unknown, args: { id: string }, ctx: Context) => {
        const approved = await approvePricingException(ctx.store, args.id, actingSubject(ctx));
        await rateHeldPeriods(ctx.store, approved, ctx.correlationId, ctx.log);
        return (await ctx.store.exceptions.findOne({ _id: args.id }))!;
      },
    },
    PricePlan: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.plans.load(ref.id),
      id: (p: PricePlanDoc) => p._id,
      interval: (p: PricePlanDoc) => p.interval ?? 'MONTHLY',
      effectiveFrom: (p: PricePlanDoc) => p.effectiveFrom ?? new Date(0),
      recurringFees: (p: PricePlanDoc) => p.recurringFees ?? [],
      minimumCommitment: (p: PricePlanDoc) => p.minimumCommitment ?? null,
    },
    RatedCharge: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.ratedCharges.load(ref.id),
      id: (c: RatedChargeDoc) => c._id,
      lineKey: (c: RatedChargeDoc) => c.lineKey ?? c.chargeKey,
      kind: (c: RatedChargeDoc) => c.kind ?? 'USAGE',
      voided: (c: RatedChargeDoc) => c.voided ?? false,
      subscription: (c: RatedChargeDoc) => ({ id: c.subscriptionId }),
      customer: (c: RatedChargeDoc) => ({ id: c.customerId }),
      period: (c: RatedChargeDoc) => parsePeriod(c.periodKey),
      servicePeriodStart: (c: RatedChargeDoc) => c.servicePeriod?.from ?? parsePeriod(c.periodKey).start,
      servicePeriodEnd: (c: RatedChargeDoc) => c.servicePeriod?.to ?? parsePeriod(c.periodKey).end,
      aggregate: (c: RatedChargeDoc) => (c.aggregateId ? { id: c.aggregateId } : null),
      pricePlan: (c: RatedChargeDoc, _: unknown, ctx: Context) =>
        c.pricePlanId ? ctx.plans.load(c.pricePlanId) : null,
    },
    RatingResult: {
      subscription: (r: RatingResult) => ({ id: r.subscriptionId }),
    },
    BillingRun: {
      totals: (r: BillingRun) => [...r.totals].sort((a, b) => (a.currency < b.currency ? -1 : 1)),
      heldSubscriptions: (r: BillingRun) => r.heldSubscriptions.map(issue),
      failures: (r: BillingRun) => r.failures.map(issue),
    },
    PricingException: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.store.exceptions.findOne({ _id: ref.id }),
      id: (e: PricingExceptionDoc) => e._id,
      subscription: (e: PricingExceptionDoc) => ({ id: e.subscriptionId }),
      customer: (e: PricingExceptionDoc) => ({ id: e.customerId }),
      message: (e: PricingExceptionDoc) =>
        `the contract terms (version ${e.termsVersion}) are outside the pricing policy: ${e.violations.map((v) => v.reason).join('; ')}`,
      remedy: () =>
        'approve the terms with approvePricingException, or correct them with setContractTerms; the held periods are then rated by themselves',
    },
    RatingAdjustment: {
      id: (a: AdjustmentDoc) => a._id,
      subscription: (a: AdjustmentDoc) => ({ id: a.subscriptionId }),
      customer: (a: AdjustmentDoc) => ({ id: a.customerId }),
      period: (a: AdjustmentDoc) => parsePeriod(a.periodKey),
      invoice: (a: AdjustmentDoc) => ({ id: a.invoiceId }),
      invoicedCharge: (a: AdjustmentDoc, _: unknown, ctx: Context) =>
        a.invoicedRatedChargeId ? ctx.ratedCharges.load(a.invoicedRatedChargeId) : null,
      currentCharge: (a: AdjustmentDoc, _: unknown, ctx: Context) =>
        a.currentRatedChargeId ? ctx.ratedCharges.load(a.currentRatedChargeId) : null,
    },
    UsageAggregate: {
      __resolveReference: (ref: { id: string }) => ref,
      ratedCharges: async (a: { id: string }, args: { first?: number; after?: string }, ctx: Context) =>
        withCount(
          await pageBy(ctx.store.ratedCharges, { aggregateId: a.id }, [['revision', 1]], args.first, args.after),
          ctx.store.ratedCharges,
          { aggregateId: a.id },
        ),
    },
  },
};
