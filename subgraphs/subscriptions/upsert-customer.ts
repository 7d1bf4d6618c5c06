// Use case: create or update a customer by its external key.
import { deterministicId } from '../../lib/ids';
import { UserFacingError, parseInput } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { customerInput } from './inputs';
import type { CustomerDoc, SubscriptionsStore } from './store';

export async function upsertCustomer(store: SubscriptionsStore, rawInput: unknown, correlationId: string): Promise<CustomerDoc> {
  const input = parseInput(customerInput, rawInput, 'input');
  if (!(await store.legalEntities.findOne({ _id: input.legalEntityCode }))) {
    throw new UserFacingError('VALIDATION_FAILED', `input.legalEntityCode: legal entity "${input.legalEntityCode}" does not exist`, {
      field: 'input.legalEntityCode',
      expected: 'the code of a legal entity created with upsertLegalEntity, or DEFAULT',
    });
  }
  const wanted = { name: input.name, currency: input.currency, legalEntityCode: input.legalEntityCode };
  for (let attempt = 0; ; attempt++) {
    const existing = await store.customers.findOne({ externalKey: input.externalKey });
    if (existing) {
      const unchanged = existing.name === wanted.name && existing.currency === wanted.currency && existing.legalEntityCode === wanted.legalEntityCode;
      if (unchanged) return existing;
      const updated = await store.customers.findOneAndUpdate({ _id: existing._id }, { $set: { ...wanted, updatedAt: new Date() } }, { returnDocument: 'after' });
      return updated ?? existing;
    }
    const now = new Date();
    const doc: CustomerDoc = { _id: deterministicId('cus', input.externalKey), externalKey: input.externalKey, ...wanted, createdAt: now, updatedAt: now, correlationId };
    try {
      await store.customers.insertOne(doc);
      return doc;
    } catch (error) {
      // A concurrent upsert of the same key won the insert: read it back and update if needed.
      if (!isDuplicateKeyError(error) || attempt > 0) throw error;
    }
  }
}
