// Use case: create or update a customer by its external key.
import { UserFacingError, parseInput } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { customerInput } from './inputs';
import { customerId, type CustomerDoc, type SubscriptionsStore } from './store';

export async function upsertCustomer(
  store: SubscriptionsStore,
  rawInput: unknown,
  correlationId: string,
): Promise<CustomerDoc> {
  const input = parseInput(customerInput, rawInput, 'input');
  if (!(await store.legalEntities.findOne({ _id: input.legalEntityCode }))) {
    throw new UserFacingError(
      'VALIDATION_FAILED',
      `input.legalEntityCode: legal entity "${input.legalEntityCode}" does not exist`,
      {
        field: 'input.legalEntityCode',
        expected: 'the code of a legal entity created with upsertLegalEntity, or DEFAULT',
      },
    );
  }
  const wanted = { name: input.name, currency: input.currency, legalEntityCode: input.legalEntityCode };
  return store.locks.run(`customer:${input.externalKey}`, async () => {
    const existing = await store.customers.findOne({ _id: customerId(input.externalKey) });
    if (existing) {
      const unchanged =
        existing.name === wanted.name &&
        existing.currency === wanted.currency &&
        existing.legalEntityCode === wanted.legalEntityCode;
      if (unchanged) return existing;
      const updated: CustomerDoc = { ...existing, ...wanted, updatedAt: new Date() };
      await store.customers.replaceOne({ _id: existing._id }, updated);
      return updated;
    }
    const now = new Date();
    const doc: CustomerDoc = {
      _id: customerId(input.externalKey),
      externalKey: input.externalKey,
      ...wanted,
      createdAt: now,
      updatedAt: now,
      correlationId,
    };
    try {
      await store.customers.insertOne(doc);
      return doc;
    } catch (error) {
      // Another process inserted the same key first: theirs stands, as a concurrent update would.
      if (!isDuplicateKeyError(error)) throw error;
      return (await store.customers.findOne({ _id: customerId(input.externalKey) }))!;
    }
  });
}
