// Use case: threshold (progressive) billing. A plan may carry usage amount thresholds (and one recurring "every X
// more"); when a subscription's accrued usage amount of a period crosses one, the invoices subgraph issues a
// progressive invoice for what is not billed yet. Crossing is an insert keyed `<subscription>:<period>:<index>`, so
// replicas and retries record it once; the invoices subgraph issues at most one invoice per crossing.
import { z } from 'zod';
import { Dec, canonicalDecimal, isDecimalString } from '../../lib/money';
import { isDuplicateKeyError } from '../../lib/mongo';
import { querySubgraph } from '../../lib/subgraph-client';
import type { Logger } from '../../lib/logger';
import { chargeSnapshot, type SubscriptionRating } from './rating-run';
import type { PricingStore, RatedChargeDoc } from './store';

/** An amount threshold of a plan, in its currency; a recurring one repeats every `amount` above the highest fixed one. */
export interface UsageThreshold {
  amount: string;
  recurring: boolean;
}

export const usageThresholdsInput = z
  .array(
    z.object({
      amount: z
        .string()
        .refine(isDecimalString, { message: 'is not a decimal number (send it as a string, e.g. "100.00")' })
        .refine((v) => !v.startsWith('-') && !/^0(\.0*)?$/.test(v), { message: 'must be more than zero' })
        .transform(canonicalDecimal),
      recurring: z
        .boolean()
        .nullish()
        .transform((v) => v ?? false),
    }),
  )
  .max(20, 'at most 20 thresholds')
  .default([])
  .superRefine((list, ctx) => {
    if (list.filter((t) => t.recurring).length > 1)
      ctx.addIssue({ code: 'custom', message: 'at most one threshold may be recurring' });
    const fixed = list.filter((t) => !t.recurring).map((t) => t.amount);
    if (new Set(fixed.map((a) => new Dec(a).toFixed())).size !== fixed.length)
      ctx.addIssue({ code: 'custom', message: 'fixed threshold amounts must differ from each other' });
  })
  .transform(normalizeThresholds);

/** Fixed thresholds ascending, then the recurring one: the order threshold indexes count in. */
export function normalizeThresholds(list: readonly UsageThreshold[]): UsageThreshold[] {
  const fixed = list.filter((t) => !t.recurring).sort((a, b) => new Dec(a.amount).comparedTo(b.amount));
  return [...fixed, ...list.filter((t) => t.recurring).slice(0, 1)];
}

/** The amount of threshold `index` (fixed ones first, then every recurring step above the highest fixed); null past the end. */
export function thresholdAmount(thresholds: readonly UsageThreshold[], index: number): Dec | null {
  const fixed = thresholds.filter((t) => !t.recurring);
  if (index < fixed.length) return new Dec(fixed[index]!.amount);
  const recurring = thresholds.find((t) => t.recurring);
  if (!recurring) return null;
  const top = fixed.length > 0 ? new Dec(fixed[fixed.length - 1]!.amount) : new Dec(0);
  return top.plus(new Dec(recurring.amount).times(index - fixed.length + 1));
}

/**
 * The highest threshold index the accrued amount reaches above the last one crossed (-1 for none), or null when no
 * new threshold is reached. Thresholds passed together are one crossing: one invoice, as Lago does.
 */
export function thresholdToCross(
  thresholds: readonly UsageThreshold[],
  accrued: Dec | string,
  lastCrossedIndex: number,
): number | null {
  let highest: number | null = null;
  for (let i = lastCrossedIndex + 1; ; i++) {
    const amount = thresholdAmount(thresholds, i);
    if (amount === null || new Dec(accrued).lessThan(amount)) return highest;
    highest = i;
  }
}

/** Pure: the threshold index to record a crossing for now, after the period's last crossing; null for none. */
export function crossingToRecord(
  thresholds: readonly UsageThreshold[],
  accrued: Dec | string,
  last: { thresholdIndex: number; accrued: string } | null,
): number | null {
  const index = thresholdToCross(thresholds, accrued, last?.thresholdIndex ?? -1);
  return index !== null && (!last || new Dec(accrued).greaterThan(last.accrued)) ? index : null;
}

export interface UsageThresholdCrossingDoc {
  /** `${subscriptionId}:${periodKey}:${thresholdIndex}`: the insert that makes a crossing happen once. */
  _id: string;
  subscriptionId: string;
  customerId: string;
  periodKey: string;
  thresholdIndex: number;
  threshold: string;
  /** The accrued usage amount (rated, before tax) that crossed it, and the usage charges it was made of. */
  accrued: string;
  currency: string;
  charges: ReturnType<typeof chargeSnapshot>[];
  pricePlanId: string;
  crossedAt: Date;
  /** Set once the invoices subgraph issued (or skipped) its progressive invoice; only a hint to stop re-asking. */
  handedOver: boolean;
}

/** The accrued usage amount of a period: current usage charges, rated, before tax. */
export function accruedUsage(charges: readonly RatedChargeDoc[]): { amount: Dec; usage: RatedChargeDoc[] } {
  const usage = charges.filter((c) => !c.voided && (c.kind ?? 'USAGE') === 'USAGE');
  return { amount: usage.reduce((s, c) => s.plus(c.amount.amount), new Dec(0)), usage };
}

/** Records the crossings the subscriptions' ratings reached and hands every crossing not yet handed over to invoicing. */
export async function checkUsageThresholds(
  store: PricingStore,
  periodKey: string,
  results: readonly SubscriptionRating[],
  log: Logger,
): Promise<UsageThresholdCrossingDoc[]> {
  const rated = results.filter((r) => r.status === 'RATED' && r.ratedCharges.length > 0);
  if (rated.length === 0) return [];
  const planIds = [
    ...new Set(rated.flatMap((r) => r.ratedCharges.flatMap((c) => (c.pricePlanId ? [c.pricePlanId] : [])))),
  ];
  const plans = await store.pricePlans
    .find({ _id: { $in: planIds }, 'usageThresholds.0': { $exists: true } })
    .project<{ _id: string; version: number; usageThresholds: UsageThreshold[] }>({ version: 1, usageThresholds: 1 })
    .toArray();
  if (plans.length === 0) return [];
  const planById = new Map(plans.map((p) => [p._id, p]));
  const recorded: UsageThresholdCrossingDoc[] = [];
  for (const r of rated) {
    const { amount: accrued, usage } = accruedUsage(r.ratedCharges);
    // The thresholds of the latest plan version that priced the period's usage.
    const plan = usage
      .map((c) => (c.pricePlanId ? planById.get(c.pricePlanId) : undefined))
      .filter((p) => p !== undefined)
      .sort((a, b) => b.version - a.version)[0];
    if (!plan || usage.length === 0) continue;
    const existing = await store.usageThresholdCrossings
      .find({ subscriptionId: r.subscriptionId, periodKey })
      .sort({ thresholdIndex: 1 })
      .toArray();
    const index = crossingToRecord(plan.usageThresholds, accrued, existing[existing.length - 1] ?? null);
    if (index !== null) {
      const crossing: UsageThresholdCrossingDoc = {
        _id: `${r.subscriptionId}:${periodKey}:${index}`,
        subscriptionId: r.subscriptionId,
        customerId: r.customerId,
        periodKey,
        thresholdIndex: index,
        threshold: thresholdAmount(plan.usageThresholds, index)!.toFixed(),
        accrued: accrued.toFixed(),
        currency: usage[0]!.amount.currency,
        charges: usage.map(chargeSnapshot),
        pricePlanId: plan._id,
        crossedAt: new Date(),
        handedOver: false,
      };
      try {
        await store.usageThresholdCrossings.insertOne(crossing);
        existing.push(crossing);
        recorded.push(crossing);
        log.info(
          {
            subscriptionId: r.subscriptionId,
            period: periodKey,
            threshold: crossing.threshold,
            accrued: crossing.accrued,
          },
          'usage threshold crossed',
        );
      } catch (error) {
        // Another replica or a retry crossed it first: its record stands.
        if (!isDuplicateKeyError(error)) throw error;
        existing.push((await store.usageThresholdCrossings.findOne({ _id: crossing._id }))!);
      }
    }
    // The invoices subgraph knows what it issued: only crossings it has not taken yet are sent.
    const pending = existing.filter((c) => !c.handedOver);
    if (pending.length > 0) await handOver(store, r.subscriptionId, periodKey, pending);
  }
  return recorded;
}

/** Asks the invoices subgraph to issue the progressive invoices of these crossings (idempotent there). */
async function handOver(
  store: PricingStore,
  subscriptionId: string,
  periodKey: string,
  crossings: UsageThresholdCrossingDoc[],
): Promise<void> {
  await querySubgraph(
    'invoices',
    'mutation($p: String!, $s: ID!, $c: [UsageThresholdCrossingInput!]!) { issueProgressiveInvoices(period: $p, subscriptionId: $s, crossings: $c) { id } }',
    {
      p: periodKey,
      s: subscriptionId,
      c: [...crossings]
        .sort((a, b) => a.thresholdIndex - b.thresholdIndex)
        .map((c) => ({
          id: c._id,
          thresholdIndex: c.thresholdIndex,
          threshold: c.threshold,
          accrued: c.accrued,
          charges: c.charges,
        })),
    },
  );
  await store.usageThresholdCrossings.updateMany(
    { _id: { $in: crossings.map((c) => c._id) } },
    { $set: { handedOver: true } },
  );
}
