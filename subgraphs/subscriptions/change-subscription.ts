// Use cases that change a running subscription: a plan change from an instant, a cancellation, contract terms.
// Each is idempotent; rating picks the change up, and anything already invoiced is corrected by an adjustment.
import { stableStringify } from '../../lib/ids';
import { UserFacingError, notFound, parseInput } from '../../lib/errors';
import { querySubgraph } from '../../lib/subgraph-client';
import { contractTermsInput } from './inputs';
import { endsAtOrOpen, phasesOf, type ContractTerms, type SubscriptionDoc, type SubscriptionsStore } from './store';

async function withSubscription(
  store: SubscriptionsStore,
  id: string,
  change: (s: SubscriptionDoc) => Promise<SubscriptionDoc | null>,
): Promise<SubscriptionDoc> {
  const found = await store.subscriptions.findOne({ _id: id });
  if (!found) throw notFound('subscription', 'subscriptionId', id);
  return store.locks.run(`subscriptions-of:${found.customerId}`, async () => {
    const current = (await store.subscriptions.findOne({ _id: id }))!;
    const next = await change(current);
    if (!next) return current;
    const updated = { ...next, endsAtOrOpen: endsAtOrOpen(next.endsAt), updatedAt: new Date() };
    await store.subscriptions.replaceOne({ _id: id }, updated);
    return updated;
  });
}

/** From `effectiveAt` the subscription is on `pricePlanId`; phases after that instant are replaced. */
export function changeSubscriptionPlan(
  store: SubscriptionsStore,
  id: string,
  pricePlanId: string,
  effectiveAt: Date,
): Promise<SubscriptionDoc> {
  return withSubscription(store, id, async (s) => {
    if (effectiveAt <= s.startsAt || (s.endsAt && effectiveAt >= s.endsAt)) {
      throw new UserFacingError(
        'VALIDATION_FAILED',
        `effectiveAt: ${effectiveAt.toISOString()} is outside subscription ${id}`,
        {
          field: 'effectiveAt',
          expected: `an instant after ${s.startsAt.toISOString()}${s.endsAt ? ` and before ${s.endsAt.toISOString()}` : ''}`,
        },
      );
    }
    const phases = phasesOf(s);
    const current = [...phases].reverse().find((p) => p.startsAt <= effectiveAt)!;
    if (current.startsAt.getTime() === effectiveAt.getTime() && current.pricePlanId === pricePlanId) return null;
    const { next, previous } = await querySubgraph<{
      next: { currency: string } | null;
      previous: { currency: string } | null;
    }>(
      'pricing',
      'query($next: ID!, $previous: ID!) { next: pricePlan(id: $next) { currency } previous: pricePlan(id: $previous) { currency } }',
      { next: pricePlanId, previous: current.pricePlanId },
    );
    if (!next) throw notFound('price plan', 'pricePlanId', pricePlanId);
    if (previous && previous.currency !== next.currency) {
      throw new UserFacingError(
        'VALIDATION_FAILED',
        `pricePlanId: the new plan bills in ${next.currency}, the subscription in ${previous.currency}`,
        { field: 'pricePlanId', expected: `a plan in ${previous.currency}` },
      );
    }
    const kept = phases
      .filter((p) => p.startsAt < effectiveAt)
      .map((p) => (p.endsAt === null || p.endsAt > effectiveAt ? { ...p, endsAt: effectiveAt } : p));
    return { ...s, phases: [...kept, { pricePlanId, startsAt: effectiveAt, endsAt: s.endsAt }] };
  });
}

/** The subscription ends at `endsAt` (exclusive); moving the date again is allowed, to correct it. */
export function cancelSubscription(store: SubscriptionsStore, id: string, endsAt: Date): Promise<SubscriptionDoc> {
  return withSubscription(store, id, async (s) => {
    if (s.endsAt?.getTime() === endsAt.getTime()) return null;
    const phases = phasesOf(s);
    if (endsAt <= s.startsAt) {
      throw new UserFacingError('VALIDATION_FAILED', `endsAt: the subscription starts at ${s.startsAt.toISOString()}`, {
        field: 'endsAt',
        expected: `an instant after ${s.startsAt.toISOString()}`,
      });
    }
    const last = phases[phases.length - 1]!;
    if (endsAt <= last.startsAt) {
      throw new UserFacingError('VALIDATION_FAILED', `endsAt: a plan change starts at ${last.startsAt.toISOString()}`, {
        field: 'endsAt',
        expected: `an instant after ${last.startsAt.toISOString()}, or change the plan change first`,
      });
    }
    return { ...s, endsAt, phases: phases.map((p, i) => (i === phases.length - 1 ? { ...p, endsAt } : p)) };
  });
}

export function setContractTerms(store: SubscriptionsStore, id: string, rawTerms: unknown): Promise<SubscriptionDoc> {
  const input = parseInput(contractTermsInput, rawTerms, 'terms');
  return withSubscription(store, id, async (s) => {
    const wanted = {
      minimumCommitment: input.minimumCommitment ?? null,
      unitPriceOverrides: input.unitPriceOverrides,
      discountPercent: input.discountPercent ?? null,
    };
    const current = s.terms
      ? {
          minimumCommitment: s.terms.minimumCommitment,
          unitPriceOverrides: s.terms.unitPriceOverrides,
          discountPercent: s.terms.discountPercent,
        }
      : null;
    if (current && stableStringify(current) === stableStringify(wanted)) return null;
    const terms: ContractTerms = { ...wanted, version: (s.terms?.version ?? 0) + 1, setAt: new Date() };
    return { ...s, terms };
  });
}
