// Use case: aggregate a subscription's usage for a period and rate it into charges (new revision only on change).
import { contentHash, deterministicId } from '../../lib/ids';
import { UserFacingError, notFound } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { sumMoney, type Money, type RoundingMode } from '../../lib/money';
import { parsePeriod, type BillingPeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { rateCharge } from './rating';
import { currentRevisions, type PricingStore, type RatedChargeDoc } from './store';

interface SubscriptionView {
  id: string;
  startsAt: string;
  endsAt: string | null;
  customer: { id: string; currency: string; legalEntity: { roundingMode: RoundingMode } };
  pricePlan: { id: string };
}

interface AggregateView {
  id: string;
  quantity: string;
  eventCount: number;
  usageType: { key: string; productLine: string; unit: string };
}

export interface RatingResult {
  subscriptionId: string;
  period: BillingPeriod;
  ratedCharges: RatedChargeDoc[];
  total: Money;
  correlationId: string;
}

export async function rateBillingPeriod(store: PricingStore, subscriptionId: string, periodKey: string, correlationId: string): Promise<RatingResult> {
  const period = parsePeriod(periodKey);
  const { subscription } = await querySubgraph<{ subscription: SubscriptionView | null }>(
    'subscriptions',
    'query($id: ID!) { subscription(id: $id) { id startsAt endsAt customer { id currency legalEntity { roundingMode } } pricePlan { id } } }',
    { id: subscriptionId },
  );
  if (!subscription) throw notFound('subscription', 'subscriptionId', subscriptionId);
  const startsAt = new Date(subscription.startsAt);
  const endsAt = subscription.endsAt ? new Date(subscription.endsAt) : null;
  if (startsAt >= period.end || (endsAt !== null && endsAt <= period.start)) {
    throw new UserFacingError('SUBSCRIPTION_NOT_ACTIVE', `subscription ${subscriptionId} is not active in ${period.key}`, {
      field: 'period',
      expected: `a period between ${subscription.startsAt.slice(0, 7)} and ${subscription.endsAt ? subscription.endsAt.slice(0, 7) : 'now'}`,
    });
  }
  const plan = await store.pricePlans.findOne({ _id: subscription.pricePlan.id });
  if (!plan) throw notFound('price plan', 'subscription.pricePlan', subscription.pricePlan.id);

  const { aggregateUsage } = await querySubgraph<{ aggregateUsage: AggregateView[] }>(
    'usage',
    'mutation($s: ID!, $p: String!, $k: [String!]!) { aggregateUsage(subscriptionId: $s, period: $p, usageTypeKeys: $k) { id quantity eventCount usageType { key productLine unit } } }',
    { s: subscriptionId, p: period.key, k: plan.charges.map((c) => c.usageTypeKey) },
  );
  const byType = new Map(aggregateUsage.map((a) => [a.usageType.key, a]));
  const rounding = subscription.customer.legalEntity.roundingMode;

  const charges: RatedChargeDoc[] = [];
  for (const charge of plan.charges) {
    const aggregate = byType.get(charge.usageTypeKey);
    if (!aggregate) throw new Error(`usage returned no aggregate for ${charge.usageTypeKey}`);
    const rated = rateCharge(charge, { quantity: aggregate.quantity }, { currency: plan.currency, rounding });
    const chargeKey = deterministicId('chg', subscriptionId, period.key, charge.usageTypeKey);
    const candidate = {
      chargeKey,
      subscriptionId,
      customerId: subscription.customer.id,
      periodKey: period.key,
      usageTypeKey: charge.usageTypeKey,
      productLine: aggregate.usageType.productLine,
      unit: aggregate.usageType.unit,
      aggregateId: aggregate.id,
      eventCount: aggregate.eventCount,
      pricePlanId: plan._id,
      pricePlanVersion: plan.version,
      model: charge.model,
      quantity: rated.quantity,
      includedQuantity: charge.model === 'PER_UNIT' ? charge.includedQuantity : '0',
      billableQuantity: rated.billableQuantity,
      unitPrice: charge.model === 'PER_UNIT' ? charge.unitPrice : '0',
      exactAmount: rated.exactAmount,
      amount: rated.amount,
      rounding,
      breakdown: rated.breakdown,
      explanation: rated.explanation,
    };
    charges.push(await recordRevision(store, { ...candidate, inputsHash: contentHash({ ...candidate, explanation: undefined, breakdown: undefined }) }, correlationId));
  }
  return { subscriptionId, period, ratedCharges: charges, total: sumMoney(charges.map((c) => c.amount), plan.currency), correlationId };
}

/** Keeps the latest revision when nothing changed, else appends the next one; concurrent raters meet on the unique index. */
async function recordRevision(store: PricingStore, candidate: Omit<RatedChargeDoc, '_id' | 'revision' | 'ratedAt' | 'correlationId'>, correlationId: string): Promise<RatedChargeDoc> {
  for (;;) {
    const [latest] = currentRevisions(await store.ratedCharges.find({ chargeKey: candidate.chargeKey }).toArray());
    if (latest && latest.inputsHash === candidate.inputsHash) return latest;
    const revision = (latest?.revision ?? 0) + 1;
    const doc: RatedChargeDoc = { ...candidate, _id: deterministicId('rc', candidate.chargeKey, revision), revision, ratedAt: new Date(), correlationId };
    try {
      await store.ratedCharges.insertOne(doc);
      return doc;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
}
