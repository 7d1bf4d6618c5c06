// Use cases: map another key to a customer (how finance resolves "unknown customer"), and look customers up by either.
import DataLoader from 'dataloader';
import { CUSTOMER_KEY_EXPECTED, customerKeyProblem } from '../../lib/customer-key';
import { UserFacingError, notFound } from '../../lib/errors';
import { MAX_KEYS_PER_QUERY, queryableKeys } from '../../lib/loaders';
import { isDuplicateKeyError } from '../../lib/mongo';
import { customerId as customerIdOf, type CustomerAliasDoc, type CustomerDoc, type SubscriptionsStore } from './store';

export async function addCustomerAlias(
  store: SubscriptionsStore,
  customerId: string,
  alias: string,
  correlationId: string,
): Promise<CustomerDoc> {
  const problem = customerKeyProblem(alias);
  if (problem) {
    throw new UserFacingError('VALIDATION_FAILED', `alias: ${JSON.stringify(alias.slice(0, 200))} ${problem}`, {
      field: 'alias',
      expected: CUSTOMER_KEY_EXPECTED,
    });
  }
  const customer = await store.customers.findOne({ _id: customerId });
  if (!customer) throw notFound('customer', 'customerId', customerId);
  const owner = await store.customers.findOne({ _id: customerIdOf(alias) });
  if (owner && owner._id !== customerId) {
    throw new UserFacingError('CONFLICT', `"${alias}" is already the external key of customer ${owner._id}`, {
      field: 'alias',
      expected: 'a key no other customer uses',
    });
  }
  if (owner) return customer;
  const doc: CustomerAliasDoc = { _id: alias, customerId, createdAt: new Date(), correlationId };
  try {
    await store.aliases.insertOne(doc);
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    const existing = (await store.aliases.findOne({ _id: alias }))!;
    if (existing.customerId !== customerId) {
      throw new UserFacingError('CONFLICT', `"${alias}" is already an alias of customer ${existing.customerId}`, {
        field: 'alias',
        expected: 'a key no other customer uses',
      });
    }
  }
  return customer;
}

/** Customers by external key or alias, in input order; every read is by _id (a customer's _id derives from its key). */
export function customerByKeyLoader(store: SubscriptionsStore): DataLoader<string, CustomerDoc | null> {
  return new DataLoader(
    async (asked) => {
      const keys = queryableKeys(asked);
      // No empty $in: the embedded database reads the whole table to match nothing (an unknown key has no alias).
      const direct = keys.length ? await store.customers.find({ _id: { $in: keys.map(customerIdOf) } }).toArray() : [];
      const byKey = new Map(direct.map((c) => [c.externalKey, c]));
      const rest = keys.filter((k) => !byKey.has(k));
      const aliases = rest.length > 0 ? await store.aliases.find({ _id: { $in: rest } }).toArray() : [];
      if (aliases.length > 0) {
        const owners = new Map(
          (await store.customers.find({ _id: { $in: aliases.map((a) => a.customerId) } }).toArray()).map((c) => [
            c._id,
            c,
          ]),
        );
        for (const a of aliases) {
          const owner = owners.get(a.customerId);
          if (owner) byKey.set(a._id, owner);
        }
      }
      return asked.map((k) => byKey.get(k) ?? null);
    },
    { maxBatchSize: MAX_KEYS_PER_QUERY },
  );
}
