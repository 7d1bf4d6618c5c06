// Rating subscriptions for a period, one or thousands at a time: load plans, terms and usage in batches, rate each
// subscription with the pure core, store what changed as new revisions, and record adjustments against invoices.
// One subscription that fails never stops the others.
import { contentHash, deterministicId } from '../../lib/ids';
import type { Laps } from '../../lib/laps';
import { duplicateKeyWriteErrors } from '../../lib/mongo';
import { sumMoney, zero, type Money, type RoundingMode } from '../../lib/money';
import { parsePeriod, type BillingPeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import type { Logger } from '../../lib/logger';
import { exceptionId, holdForPolicy, policyViolations, releaseHeldPeriod } from './pricing-policy';
import {
  rateSubscriptionPeriod,
  segmentsOf,
  usageNeeds,
  type PlanVersion,
  type RatedLine,
  type SubscriptionForRating,
  type UsageSegment,
} from './rate-subscription-period';
import {
  currentRevisions,
  planVersionOf,
  type PricingExceptionDoc,
  type PricingStore,
  type RatedChargeDoc,
} from './store';

export const SUBSCRIPTION_FIELDS = `id startsAt endsAt
  customer { id legalEntity { roundingMode } }
  phases { pricePlan { id } startsAt endsAt }
  contractTerms { minimumCommitment unitPriceOverrides { usageTypeKey unitPrice } discountPercent version }`;

export interface SubscriptionView {
  id: string;
  startsAt: string;
  endsAt: string | null;
  customer: { id: string; legalEntity: { roundingMode: RoundingMode } };
  phases: Array<{ pricePlan: { id: string }; startsAt: string; endsAt: string | null }>;
  contractTerms: {
    minimumCommitment: string | null;
    unitPriceOverrides: Array<{ usageTypeKey: string; unitPrice: string }>;
    discountPercent: string | null;
    version: number;
  } | null;
}

export type RatingStatus = 'RATED' | 'HELD' | 'NOT_ACTIVE' | 'FAILED';

export interface SubscriptionRating {
  subscriptionId: string;
  customerId: string;
  status: RatingStatus;
  ratedCharges: RatedChargeDoc[];
  total: Money | null;
  /** The open differences of the period's finalized invoice after this rating (owned by the invoices subgraph). */
  adjustments: Array<{ id: string }>;
  /** How many of them this rating recorded. */
  adjustmentsRecorded: number;
  exception: PricingExceptionDoc | null;
  error: { code: string; message: string } | null;
}

/** Subscriptions per usage request, and per store of their charges. */
const USAGE_CHUNK = 200;

/** Every version of every plan these subscriptions are on, oldest first per plan key. */
async function planVersions(store: PricingStore, planIds: string[]): Promise<Map<string, PlanVersion[]>> {
  const named = await store.pricePlans
    .find({ _id: { $in: [...new Set(planIds)] } }, { projection: { key: 1 } })
    .toArray();
  const all = await store.pricePlans.find({ key: { $in: [...new Set(named.map((p) => p.key))] } }).toArray();
  const byKey = new Map<string, PlanVersion[]>();
  for (const doc of all.sort((a, b) => a.version - b.version))
    byKey.set(doc.key, [...(byKey.get(doc.key) ?? []), planVersionOf(doc)]);
  const byId = new Map<string, PlanVersion[]>();
  for (const p of named) byId.set(p._id, byKey.get(p.key) ?? []);
  return byId;
}

function forRating(view: SubscriptionView, plans: Map<string, PlanVersion[]>): SubscriptionForRating {
  return {
    id: view.id,
    startsAt: new Date(view.startsAt),
    endsAt: view.endsAt ? new Date(view.endsAt) : null,
    rounding: view.customer.legalEntity.roundingMode,
    phases: view.phases.map((p) => {
      const versions = plans.get(p.pricePlan.id);
      if (!versions || versions.length === 0)
        throw Object.assign(new Error(`price plan ${p.pricePlan.id} does not exist`), { code: 'NOT_FOUND' });
      return { startsAt: new Date(p.startsAt), endsAt: p.endsAt ? new Date(p.endsAt) : null, planVersions: versions };
    }),
    terms: view.contractTerms,
  };
}

interface UsageView {
  subscriptionId: string;
  usageTypeKey: string;
  productLine: string;
  unit: string;
  aggregate: { id: string };
  segments: Array<{
    from: string;
    to: string;
    quantity: string;
    eventCount: number;
    values: string[] | null;
    fieldTotals?: Array<{ field: string; total: string }> | null;
  }>;
}

type UsageRequest = { subscriptionId: string; usageTypeKeys: string[]; boundaries: Date[]; valuesFor: string[] };

const USAGE_QUERY =
  'mutation($p: String!, $r: [UsageForRatingRequest!]!) { usageForRating(period: $p, requests: $r) { subscriptionId usageTypeKey productLine unit aggregate { id } segments { from to quantity eventCount values fieldTotals { field total } } } }';

/**
 * Usage of a chunk of subscriptions (at most USAGE_CHUNK) in one request. A chunk the usage subgraph refuses (e.g. a
 * usage type it does not know) is asked for again one subscription at a time, so only the subscription at fault fails.
 */
async function usageFor(
  period: BillingPeriod,
  requests: UsageRequest[],
): Promise<{ usage: Map<string, UsageSegment[]>; failed: Map<string, unknown> }> {
  const bySubscription = new Map<string, UsageSegment[]>();
  const failed = new Map<string, unknown>();
  const wanted = requests.filter((r) => r.usageTypeKeys.length > 0);
  const ask = async (chunk: UsageRequest[]) =>
    (await querySubgraph<{ usageForRating: UsageView[] }>('usage', USAGE_QUERY, { p: period.key, r: chunk }))
      .usageForRating;
  let views: UsageView[] = [];
  try {
    if (wanted.length > 0) views = await ask(wanted);
  } catch (error) {
    if (wanted.length === 1) failed.set(wanted[0]!.subscriptionId, error);
    else
      for (const one of wanted) views.push(...(await ask([one]).catch((e) => (failed.set(one.subscriptionId, e), []))));
  }
  for (const u of views) {
    const list = bySubscription.get(u.subscriptionId) ?? [];
    for (const s of u.segments)
      list.push({
        usageTypeKey: u.usageTypeKey,
        from: new Date(s.from),
        to: new Date(s.to),
        quantity: s.quantity,
        eventCount: s.eventCount,
        values: s.values,
        fieldTotals: s.fieldTotals ? Object.fromEntries(s.fieldTotals.map((t) => [t.field, t.total])) : null,
        aggregateId: u.aggregate.id,
        productLine: u.productLine,
        unit: u.unit,
      });
    bySubscription.set(u.subscriptionId, list);
  }
  return { usage: bySubscription, failed };
}

export function chargeKey(subscriptionId: string, periodKey: string, lineKey: string): string {
  return deterministicId('chg', subscriptionId, periodKey, lineKey);
}

type Candidate = Omit<RatedChargeDoc, '_id' | 'revision' | 'ratedAt' | 'correlationId'>;

function candidateOf(
  sub: SubscriptionView,
  period: BillingPeriod,
  line: RatedLine,
  rounding: RoundingMode,
  termsVersion: number | null,
): Candidate {
  const c: Omit<Candidate, 'inputsHash'> = {
    chargeKey: chargeKey(sub.id, period.key, line.lineKey),
    lineKey: line.lineKey,
    kind: line.kind,
    voided: false,
    subscriptionId: sub.id,
    customerId: sub.customer.id,
    periodKey: period.key,
    servicePeriod: line.servicePeriod,
    usageTypeKey: line.usageTypeKey,
    feeKey: line.feeKey,
    productLine: line.productLine,
    unit: line.unit,
    aggregateId: line.aggregateId,
    eventCount: line.eventCount,
    pricePlanId: line.plan?.id ?? null,
    pricePlanVersion: line.plan?.version ?? null,
    model: line.model,
    quantity: line.quantity,
    includedQuantity: line.includedQuantity,
    billableQuantity: line.billableQuantity,
    unitPrice: line.unitPrice,
    exactAmount: line.exactAmount,
    amount: line.amount,
    rounding,
    termsVersion,
    breakdown: line.breakdown,
    explanation: line.explanation,
  };
  return {
    ...c,
    inputsHash: contentHash({
      ...c,
      servicePeriod: { from: c.servicePeriod.from.toISOString(), to: c.servicePeriod.to.toISOString() },
    }),
  };
}

function voidOf(latest: RatedChargeDoc): Candidate {
  const { _id, revision, ratedAt, correlationId, ...rest } = latest;
  const c = {
    ...rest,
    voided: true,
    amount: zero(latest.amount.currency),
    exactAmount: '0',
    quantity: '0',
    billableQuantity: '0',
    breakdown: [],
    explanation: `no longer charged after re-rating (was ${latest.amount.amount} ${latest.amount.currency})`,
  };
  return {
    ...c,
    inputsHash: contentHash({
      ...c,
      servicePeriod: {
        from: new Date(c.servicePeriod.from).toISOString(),
        to: new Date(c.servicePeriod.to).toISOString(),
      },
      inputsHash: undefined,
    }),
  };
}

/**
 * Appends a revision wherever a line changed (or disappeared), in one insert for the whole batch. Two raters of the
 * same subscription meet on the unique (chargeKey, revision): the later one re-reads and tries the next revision.
 */
async function recordRevisions(
  store: PricingStore,
  candidates: Candidate[],
  existing: RatedChargeDoc[],
  correlationId: string,
): Promise<Map<string, RatedChargeDoc>> {
  const latest = new Map(currentRevisions(existing).map((d) => [d.chargeKey, d]));
  const current = new Map<string, RatedChargeDoc>();
  let pending = candidates;
  for (let round = 0; pending.length > 0 && round < 5; round++) {
    const toInsert: RatedChargeDoc[] = [];
    for (const c of pending) {
      const last = latest.get(c.chargeKey);
      if (last && last.inputsHash === c.inputsHash) {
        current.set(c.chargeKey, last);
        continue;
      }
      const revision = (last?.revision ?? 0) + 1;
      toInsert.push({
        ...c,
        _id: deterministicId('rc', c.chargeKey, revision),
        revision,
        ratedAt: new Date(),
        correlationId,
      });
    }
    const failed = new Set<number>();
    if (toInsert.length > 0) {
      try {
        await store.ratedCharges.insertMany(toInsert, { ordered: false });
      } catch (error) {
        const duplicates = duplicateKeyWriteErrors(error);
        if (!duplicates) throw error;
        for (const w of duplicates) failed.add(w.index);
      }
    }
    toInsert.forEach((d, i) => !failed.has(i) && current.set(d.chargeKey, d));
    const retry = toInsert.filter((_, i) => failed.has(i));
    if (retry.length === 0) break;
    for (const d of currentRevisions(
      await store.ratedCharges.find({ chargeKey: { $in: retry.map((r) => r.chargeKey) } }).toArray(),
    ))
      latest.set(d.chargeKey, d);
    pending = pending.filter((c) => retry.some((r) => r.chargeKey === c.chargeKey));
  }
  return current;
}

/**
 * Stores the charges of these subscriptions (rated without error) as new revisions where they changed; their lines
 * not produced again are voided. Returns every line's current revision.
 */
async function storeCharges(
  store: PricingStore,
  period: BillingPeriod,
  rated: readonly string[],
  candidates: Candidate[],
  correlationId: string,
): Promise<Map<string, RatedChargeDoc>> {
  if (rated.length === 0) return new Map();
  const existing = await store.ratedCharges
    .find({ subscriptionId: { $in: [...rated] }, periodKey: period.key })
    .toArray();
  const produced = new Set(candidates.map((c) => c.chargeKey));
  const ratedNow = new Set(rated);
  const voids = currentRevisions(existing)
    .filter((d) => !d.voided && !produced.has(d.chargeKey) && ratedNow.has(d.subscriptionId))
    .map(voidOf);
  return recordRevisions(store, [...candidates, ...voids], existing, correlationId);
}

/** What pricing hands the invoices subgraph for a subscription: every line's latest revision, voided ones too. */
export const chargeSnapshot = (d: RatedChargeDoc) => ({
  id: d._id,
  lineKey: d.lineKey ?? d.chargeKey,
  kind: d.kind ?? 'USAGE',
  voided: d.voided ?? false,
  productLine: d.productLine,
  usageTypeKey: d.usageTypeKey,
  feeKey: d.feeKey ?? null,
  unit: d.unit,
  quantity: d.quantity,
  billableQuantity: d.billableQuantity,
  includedQuantity: d.includedQuantity,
  unitPrice: d.unitPrice,
  amount: d.amount.amount,
  currency: d.amount.currency,
  explanation: d.explanation,
  servicePeriodStart: new Date(d.servicePeriod.from).toISOString(),
  servicePeriodEnd: new Date(d.servicePeriod.to).toISOString(),
});

/**
 * Hands the current charges of the subscriptions that have a finalized invoice for the period to the invoices
 * subgraph, which owns invoices, notes and so the open difference of every invoice line.
 */
async function reconcileWithInvoices(
  period: BillingPeriod,
  currentBySubscription: Map<string, RatedChargeDoc[]>,
): Promise<Map<string, { adjustments: Array<{ id: string }>; recorded: number }>> {
  const out = new Map<string, { adjustments: Array<{ id: string }>; recorded: number }>();
  const ids = [...currentBySubscription.keys()];
  if (ids.length === 0) return out;
  const { invoicesForSubscriptions } = await querySubgraph<{
    invoicesForSubscriptions: Array<{ subscription: { id: string } }>;
  }>(
    'invoices',
    'query($p: String!, $s: [ID!]!) { invoicesForSubscriptions(period: $p, subscriptionIds: $s, status: FINALIZED) { subscription { id } } }',
    { p: period.key, s: ids },
  );
  const invoiced = [...new Set(invoicesForSubscriptions.map((i) => i.subscription.id))];
  if (invoiced.length === 0) return out;
  const { reconcileRatedCharges } = await querySubgraph<{
    reconcileRatedCharges: Array<{ subscriptionId: string; openAdjustments: Array<{ id: string }>; recorded: number }>;
  }>(
    'invoices',
    'mutation($p: String!, $s: [SubscriptionChargesInput!]!) { reconcileRatedCharges(period: $p, subscriptions: $s) { subscriptionId openAdjustments { id } recorded } }',
    {
      p: period.key,
      s: invoiced.map((subscriptionId) => ({
        subscriptionId,
        charges: (currentBySubscription.get(subscriptionId) ?? []).map(chargeSnapshot),
      })),
    },
  );
  for (const r of reconcileRatedCharges)
    out.set(r.subscriptionId, { adjustments: r.openAdjustments, recorded: r.recorded });
  return out;
}

export async function rateSubscriptions(
  store: PricingStore,
  periodKey: string,
  subscriptions: SubscriptionView[],
  correlationId: string,
  log: Logger,
  laps?: Laps,
): Promise<SubscriptionRating[]> {
  const period = parsePeriod(periodKey);
  const outcome = new Map<string, SubscriptionRating>();
  const base = (s: SubscriptionView): SubscriptionRating => ({
    subscriptionId: s.id,
    customerId: s.customer.id,
    status: 'RATED',
    ratedCharges: [],
    total: null,
    adjustments: [],
    adjustmentsRecorded: 0,
    exception: null,
    error: null,
  });
  const fail = (s: SubscriptionView, error: unknown) => {
    const e = error as { code?: string; message?: string; extensions?: { code?: string } };
    log.warn({ subscriptionId: s.id, err: error }, 'rating a subscription failed; the others go on');
    outcome.set(s.id, {
      ...base(s),
      status: 'FAILED',
      error: { code: e.extensions?.code ?? e.code ?? 'RATING_FAILED', message: e.message ?? String(error) },
    });
  };

  const [plans, policy] = await Promise.all([
    planVersions(
      store,
      subscriptions.flatMap((s) => s.phases.map((p) => p.pricePlan.id)),
    ),
    store.policy.findOne({ _id: 'policy' }),
  ]);
  laps?.lap('plans');
  const rateable: Array<{ view: SubscriptionView; sub: SubscriptionForRating }> = [];
  for (const view of subscriptions) {
    try {
      const sub = forRating(view, plans);
      if (segmentsOf(sub, period).length === 0) {
        outcome.set(view.id, { ...base(view), status: 'NOT_ACTIVE' });
        continue;
      }
      const violations = policyViolations(sub.terms, policy);
      if (violations.length > 0) {
        const approved = await store.exceptions.findOne({
          _id: exceptionId(view.id, sub.terms!.version),
          status: 'APPROVED',
        });
        if (!approved) {
          const exception = await holdForPolicy(
            store,
            view.id,
            view.customer.id,
            sub.terms!.version,
            violations,
            period.key,
            correlationId,
          );
          outcome.set(view.id, { ...base(view), status: 'HELD', exception });
          continue;
        }
      }
      rateable.push({ view, sub });
    } catch (error) {
      fail(view, error);
    }
  }

  laps?.lap('policy');
  // A chunk at a time: while one chunk's charges are stored, the next chunk's usage is read and rated (the usage
  // subgraph and the database work side by side). At most one store is in flight; a store that fails fails the call,
  // as it did when the whole call was stored at once.
  const current = new Map<string, RatedChargeDoc>();
  let storing: Promise<{ error: unknown } | null> = Promise.resolve(null);
  const storeFailure = async () => {
    const failed = await storing;
    if (failed) throw failed.error;
  };
  for (let i = 0; i < rateable.length; i += USAGE_CHUNK) {
    const chunk = rateable.slice(i, i + USAGE_CHUNK);
    const { usage, failed } = await usageFor(
      period,
      chunk.map(({ view, sub }) => ({ subscriptionId: view.id, ...usageNeeds(sub, period) })),
    );
    laps?.lap('usage');
    const candidates: Candidate[] = [];
    for (const { view, sub } of chunk) {
      if (failed.has(view.id)) {
        fail(view, failed.get(view.id));
        continue;
      }
      try {
        const lines = rateSubscriptionPeriod(sub, period, usage.get(view.id) ?? []);
        candidates.push(...lines.map((l) => candidateOf(view, period, l, sub.rounding, sub.terms?.version ?? null)));
      } catch (error) {
        fail(view, error);
      }
    }
    laps?.lap('rate');
    await storeFailure();
    laps?.lap('waitForStore');
    const rated = chunk.map(({ view }) => view.id).filter((id) => !outcome.has(id));
    storing = storeCharges(store, period, rated, candidates, correlationId).then(
      (stored) => {
        for (const [key, doc] of stored) current.set(key, doc);
        return null;
      },
      (error: unknown) => ({ error }),
    );
  }
  await storeFailure();
  laps?.lap('waitForStore');

  const currentBySubscription = new Map<string, RatedChargeDoc[]>();
  for (const doc of current.values())
    currentBySubscription.set(doc.subscriptionId, [...(currentBySubscription.get(doc.subscriptionId) ?? []), doc]);
  const adjustments = await reconcileWithInvoices(period, currentBySubscription);
  laps?.lap('reconcile');

  for (const { view, sub } of rateable) {
    if (outcome.has(view.id)) continue;
    const charges = (currentBySubscription.get(view.id) ?? [])
      .filter((c) => !c.voided)
      .sort((a, b) => a.lineKey.localeCompare(b.lineKey));
    const currency = sub.phases[0]!.planVersions[0]!.currency;
    outcome.set(view.id, {
      ...base(view),
      ratedCharges: charges,
      total: sumMoney(
        charges.map((c) => c.amount),
        currency,
      ),
      adjustments: adjustments.get(view.id)?.adjustments ?? [],
      adjustmentsRecorded: adjustments.get(view.id)?.recorded ?? 0,
    });
  }
  // Rated within policy (terms corrected, or the policy relaxed) or under an approval: no exception holds the period now.
  const released = rateable.filter(({ view }) => outcome.get(view.id)?.status === 'RATED').map(({ view }) => view.id);
  if (released.length > 0) {
    for (const held of await store.exceptions.find({ subscriptionId: { $in: released } }).toArray()) {
      if (held.heldPeriods.includes(period.key))
        await releaseHeldPeriod(store, held._id, period.key, held.status === 'OPEN');
    }
  }
  laps?.lap('release');
  return subscriptions.map((s) => outcome.get(s.id)!);
}
