// Finance's pricing policy: the limits negotiated terms must stay within, and the decisions on terms outside them.
import { z } from 'zod';
import { deterministicId } from '../../lib/ids';
import { UserFacingError, notFound, parseInput } from '../../lib/errors';
import { Dec, canonicalDecimal, isDecimalString } from '../../lib/money';
import type { Terms } from './rate-subscription-period';
import type { PolicyViolation, PricingExceptionDoc, PricingPolicyDoc, PricingStore } from './store';

const decimal = z
  .string()
  .refine(isDecimalString, { message: 'is not a decimal number (send it as a string)' })
  .transform(canonicalDecimal);

const policyInput = z.object({
  maxDiscountPercent: decimal
    .refine((v) => new Dec(v).gte(0) && new Dec(v).lte(100), { message: 'must be from 0 to 100' })
    .nullish(),
  unitPriceRanges: z
    .array(z.object({ usageTypeKey: z.string().min(1), minimum: decimal.nullish(), maximum: decimal.nullish() }))
    .default([])
    .superRefine((ranges, ctx) =>
      ranges.forEach((r, i) => {
        if (r.minimum && r.maximum && new Dec(r.minimum).gt(r.maximum))
          ctx.addIssue({ code: 'custom', path: [i, 'maximum'], message: `must not be below the minimum ${r.minimum}` });
      }),
    ),
});

export async function setPricingPolicy(store: PricingStore, rawInput: unknown): Promise<PricingPolicyDoc> {
  const input = parseInput(policyInput, rawInput, 'input');
  const doc: PricingPolicyDoc = {
    _id: 'policy',
    maxDiscountPercent: input.maxDiscountPercent ?? null,
    unitPriceRanges: input.unitPriceRanges.map((r) => ({
      usageTypeKey: r.usageTypeKey,
      minimum: r.minimum ?? null,
      maximum: r.maximum ?? null,
    })),
    updatedAt: new Date(),
  };
  await store.locks.run('policy', () => store.policy.replaceOne({ _id: 'policy' }, doc, { upsert: true }));
  return doc;
}

/** Where terms go beyond the policy, field by field; none when within it (or when there is no policy). */
export function policyViolations(terms: Terms | null, policy: PricingPolicyDoc | null): PolicyViolation[] {
  if (!terms || !policy) return [];
  const out: PolicyViolation[] = [];
  if (
    terms.discountPercent &&
    policy.maxDiscountPercent &&
    new Dec(terms.discountPercent).gt(policy.maxDiscountPercent)
  ) {
    out.push({
      field: 'contractTerms.discountPercent',
      reason: `a ${terms.discountPercent} % discount is above the ${policy.maxDiscountPercent} % the policy allows`,
      allowed: `at most ${policy.maxDiscountPercent} %`,
    });
  }
  for (const o of terms.unitPriceOverrides) {
    const range = policy.unitPriceRanges.find((r) => r.usageTypeKey === o.usageTypeKey);
    if (!range) continue;
    const below = range.minimum && new Dec(o.unitPrice).lt(range.minimum);
    const above = range.maximum && new Dec(o.unitPrice).gt(range.maximum);
    if (below || above) {
      const allowed =
        range.minimum && range.maximum
          ? `from ${range.minimum} to ${range.maximum}`
          : range.minimum
            ? `at least ${range.minimum}`
            : `at most ${range.maximum}`;
      out.push({
        field: `contractTerms.unitPriceOverrides[${o.usageTypeKey}]`,
        reason: `a negotiated unit price of ${o.unitPrice} for ${o.usageTypeKey} is ${below ? 'below' : 'above'} the policy's range`,
        allowed,
      });
    }
  }
  return out;
}

export function exceptionId(subscriptionId: string, termsVersion: number): string {
  return deterministicId('pex', subscriptionId, termsVersion);
}

/** Opens (or extends) the exception for these terms, holding the period; returns it. */
export async function holdForPolicy(
  store: PricingStore,
  subscriptionId: string,
  customerId: string,
  termsVersion: number,
  violations: PolicyViolation[],
  periodKey: string,
  correlationId: string,
): Promise<PricingExceptionDoc> {
  const _id = exceptionId(subscriptionId, termsVersion);
  return store.locks.run(_id, async () => {
    const existing = await store.exceptions.findOne({ _id });
    const doc: PricingExceptionDoc = existing
      ? {
          ...existing,
          violations,
          heldPeriods: existing.heldPeriods.includes(periodKey)
            ? existing.heldPeriods
            : [...existing.heldPeriods, periodKey].sort(),
        }
      : {
          _id,
          subscriptionId,
          customerId,
          termsVersion,
          violations,
          status: 'OPEN',
          heldPeriods: [periodKey],
          createdAt: new Date(),
          decidedAt: null,
          decidedBy: null,
          correlationId,
        };
    await store.exceptions.replaceOne({ _id }, doc, { upsert: true });
    await store.outbox.raise({
      id: `exception.raised:${_id}`,
      type: 'exception.raised',
      subject: _id,
      data: {
        exceptionId: _id,
        kind: 'PRICING_POLICY',
        subscriptionId,
        customerId,
        violations,
        periods: doc.heldPeriods,
        // The work queue's standard fields (lib/exceptions.ts).
        problem: `the negotiated terms (version ${termsVersion}) of subscription ${subscriptionId} are outside the pricing policy: ${violations.map((v) => v.reason).join('; ')}`,
        remedy:
          'approve the terms as they are, or correct them within the policy; the held periods are then rated by themselves',
        held: { count: doc.heldPeriods.length, unit: 'billing periods not rated', amounts: [] },
        references: { subscriptionId, customerId, period: doc.heldPeriods[0] ?? periodKey, pricingExceptionId: _id },
      },
    });
    return doc;
  });
}

/** `exception.resolved`, once per pricing exception, saying how. */
const announceResolved = (store: PricingStore, doc: PricingExceptionDoc, resolution: string) =>
  store.outbox.raise({
    id: `exception.resolved:${doc._id}`,
    type: 'exception.resolved',
    subject: doc._id,
    data: {
      exceptionId: doc._id,
      kind: 'PRICING_POLICY',
      resolution,
      subscriptionId: doc.subscriptionId,
      decidedBy: doc.decidedBy,
      detail:
        resolution === 'APPROVED'
          ? 'the terms were approved as they are'
          : 'the terms were corrected within the policy',
      afterwards: 'the held periods are rated again by themselves',
      resolvedBy: doc.decidedBy,
    },
  });

/** Finance approves the terms as they are: the held periods are rated by themselves. */
export async function approvePricingException(
  store: PricingStore,
  id: string,
  approvedBy: string,
): Promise<PricingExceptionDoc> {
  return store.locks.run(id, async () => {
    const doc = await store.exceptions.findOne({ _id: id });
    if (!doc) throw notFound('pricing exception', 'id', id);
    if (doc.status === 'APPROVED') return doc;
    if (doc.status === 'RESOLVED') {
      throw new UserFacingError('CONFLICT', `pricing exception ${id} was already resolved by corrected terms`, {
        field: 'id',
        expected: 'an OPEN exception',
      });
    }
    const approved: PricingExceptionDoc = { ...doc, status: 'APPROVED', decidedAt: new Date(), decidedBy: approvedBy };
    await store.exceptions.replaceOne({ _id: id }, approved);
    await announceResolved(store, approved, 'APPROVED');
    return approved;
  });
}

export async function releaseHeldPeriod(
  store: PricingStore,
  id: string,
  periodKey: string,
  resolved: boolean,
): Promise<void> {
  await store.locks.run(id, async () => {
    const doc = await store.exceptions.findOne({ _id: id });
    if (!doc) return;
    const next: PricingExceptionDoc = {
      ...doc,
      status: resolved && doc.status === 'OPEN' ? 'RESOLVED' : doc.status,
      decidedAt: resolved && doc.status === 'OPEN' ? new Date() : doc.decidedAt,
      heldPeriods: doc.heldPeriods.filter((p) => p !== periodKey),
    };
    await store.exceptions.replaceOne({ _id: id }, next);
    if (next.status === 'RESOLVED') await announceResolved(store, next, 'TERMS_CORRECTED');
  });
}
