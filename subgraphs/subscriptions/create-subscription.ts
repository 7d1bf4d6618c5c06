// Use case: subscribe a customer to a price plan (owned by pricing, checked there) from a start instant.
import { deterministicId } from '../../lib/ids';
import { UserFacingError, notFound, parseInput } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { querySubgraph } from '../../lib/subgraph-client';
import { subscriptionInput } from './inputs';
import {
  customerId,
  listSubscription,
  subscriptionsOfCustomerLoader,
  endsAtOrOpen,
  type SubscriptionDoc,
  type SubscriptionsStore,
} from './store';

export async function createSubscription(
  store: SubscriptionsStore,
  rawInput: unknown,
  correlationId: string,
): Promise<SubscriptionDoc> {
  const input = parseInput(subscriptionInput, rawInput, 'input');
  const customer = input.customerId
    ? await store.customers.findOne({ _id: input.customerId })
    : await store.customers.findOne({ _id: customerId(input.customerExternalKey!) });
  if (!customer) {
    throw input.customerId
      ? notFound('customer', 'input.customerId', input.customerId)
      : new UserFacingError('CUSTOMER_UNKNOWN', `no customer has external key "${input.customerExternalKey}"`, {
          field: 'input.customerExternalKey',
          expected: 'the externalKey of a customer created with upsertCustomer',
        });
  }
  const { pricePlan } = await querySubgraph<{ pricePlan: { id: string; currency: string } | null }>(
    'pricing',
    'query($id: ID!) { pricePlan(id: $id) { id currency } }',
    { id: input.pricePlanId },
  );
  if (!pricePlan) throw notFound('price plan', 'input.pricePlanId', input.pricePlanId);
  if (pricePlan.currency !== customer.currency) {
    throw new UserFacingError(
      'VALIDATION_FAILED',
      `input.pricePlanId: the plan bills in ${pricePlan.currency} but customer "${customer.externalKey}" is billed in ${customer.currency}`,
      {
        field: 'input.pricePlanId',
        expected: `a price plan in ${customer.currency}`,
      },
    );
  }

  const id = deterministicId('sub', customer._id, pricePlan.id, input.startsAt.toISOString());
  const endsAt = input.endsAt ?? null;
  // The overlap check and the insert must not interleave with another subscription for this customer.
  return store.locks.run(`subscriptions-of:${customer._id}`, () =>
    insertUnlessOverlapping(store, {
      id,
      customerId: customer._id,
      customerKey: customer.externalKey,
      pricePlanId: pricePlan.id,
      startsAt: input.startsAt,
      endsAt,
      correlationId,
    }),
  );
}

async function insertUnlessOverlapping(
  store: SubscriptionsStore,
  s: {
    id: string;
    customerId: string;
    customerKey: string;
    pricePlanId: string;
    startsAt: Date;
    endsAt: Date | null;
    correlationId: string;
  },
): Promise<SubscriptionDoc> {
  const { id, endsAt } = s;
  const existing = await store.subscriptions.findOne({ _id: id });
  if (existing) return sameOrConflict(existing, endsAt);

  const overlapping = (await subscriptionsOfCustomerLoader(store).load(s.customerId)).find(
    (o) => o.startsAt < (endsAt ?? new Date(8.64e15)) && (o.endsAt === null || o.endsAt > s.startsAt),
  );
  if (overlapping) {
    throw new UserFacingError(
      'CONFLICT',
      `customer "${s.customerKey}" already has subscription ${overlapping._id} over that time (from ${overlapping.startsAt.toISOString()})`,
      {
        field: 'input.startsAt',
        expected: overlapping.endsAt
          ? `a start on or after ${overlapping.endsAt.toISOString()}`
          : 'a customer without an open-ended subscription',
      },
    );
  }
  const doc: SubscriptionDoc = {
    _id: id,
    customerId: s.customerId,
    pricePlanId: s.pricePlanId,
    startsAt: s.startsAt,
    endsAt,
    endsAtOrOpen: endsAtOrOpen(endsAt),
    createdAt: new Date(),
    correlationId: s.correlationId,
  };
  await listSubscription(store, s.customerId, id);
  try {
    await store.subscriptions.insertOne(doc);
    return doc;
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    return sameOrConflict((await store.subscriptions.findOne({ _id: id }))!, endsAt);
  }
}

function sameOrConflict(existing: SubscriptionDoc, endsAt: Date | null): SubscriptionDoc {
  if ((existing.endsAt?.getTime() ?? null) === (endsAt?.getTime() ?? null)) return existing;
  throw new UserFacingError('CONFLICT', `subscription ${existing._id} already exists with a different end`, {
    field: 'input.endsAt',
    expected: existing.endsAt ? existing.endsAt.toISOString() : 'no end (the existing subscription is open-ended)',
  });
}
