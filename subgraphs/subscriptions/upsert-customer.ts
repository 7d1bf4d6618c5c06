// Use case: create or update a customer by its external key, with its billing address and tax details.
import { UserFacingError, parseInput } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { customerInput } from './inputs';
import { customerId, type CustomerDoc, type SubscriptionsStore } from './store';

/** Whether the caller sent a field at all: tax details left out keep their value, an explicit null clears them. */
const given = (raw: unknown, field: string): boolean =>
  typeof raw === 'object' && raw !== null && field in raw && (raw as Record<string, unknown>)[field] !== undefined;

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
  return store.locks.run(`customer:${input.externalKey}`, async () => {
    const existing = await store.customers.findOne({ _id: customerId(input.externalKey) });
    const keepOr = <K extends 'billingAddress' | 'taxJurisdiction' | 'taxId' | 'taxExemption'>(
      field: K,
      value: CustomerDoc[K],
    ): CustomerDoc[K] | null => (given(rawInput, field) ? (value ?? null) : (existing?.[field] ?? null));
    const wanted = {
      name: input.name,
      currency: input.currency,
      legalEntityCode: input.legalEntityCode,
      billingAddress: keepOr('billingAddress', input.billingAddress),
      taxJurisdiction: keepOr('taxJurisdiction', input.taxJurisdiction),
      taxId: keepOr('taxId', input.taxId),
      taxExemption: keepOr('taxExemption', input.taxExemption),
    };
    if (existing) {
      const current = {
        name: existing.name,
        currency: existing.currency,
        legalEntityCode: existing.legalEntityCode,
        billingAddress: existing.billingAddress ?? null,
        taxJurisdiction: existing.taxJurisdiction ?? null,
        taxId: existing.taxId ?? null,
        taxExemption: existing.taxExemption ?? null,
      };
      if (JSON.stringify(current) === JSON.stringify(wanted)) return existing;
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
