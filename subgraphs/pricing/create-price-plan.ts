// Use case: create a price plan whose charges name registered usage types.
import { z } from 'zod';
import { deterministicId, stableStringify } from '../../lib/ids';
import { UserFacingError, parseInput, validationFailed, type Problem } from '../../lib/errors';
import { canonicalDecimal, isCurrency, isDecimalString } from '../../lib/money';
import { isDuplicateKeyError } from '../../lib/mongo';
import { querySubgraph } from '../../lib/subgraph-client';
import type { PlanCharge, PricePlanDoc, PricingStore } from './store';

const nonNegativeDecimal = z
  .string()
  .refine(isDecimalString, { message: 'is not a decimal number' })
  .refine((v) => !v.startsWith('-'), { message: 'must not be negative' })
  .transform(canonicalDecimal);

const planInput = z.object({
  key: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1–64 lower-case letters, digits, ".", "_" or "-"'),
  name: z.string().trim().min(1, 'must not be empty').max(200),
  currency: z.string().refine(isCurrency, { message: 'is not an ISO 4217 currency code (expected e.g. "USD")' }),
  charges: z
    .array(z.object({ usageTypeKey: z.string().min(1), model: z.literal('PER_UNIT').default('PER_UNIT'), unitPrice: nonNegativeDecimal, includedQuantity: nonNegativeDecimal.default('0') }))
    .min(1, 'a plan needs at least one charge'),
});

export async function createPricePlan(store: PricingStore, rawInput: unknown, correlationId: string): Promise<PricePlanDoc> {
  const input = parseInput(planInput, rawInput, 'input');
  const keys = input.charges.map((c) => c.usageTypeKey);
  const duplicates = keys.filter((k, i) => keys.indexOf(k) !== i);
  const problems: Problem[] = duplicates.map((k) => ({ code: 'VALIDATION_FAILED', field: `input.charges[${keys.lastIndexOf(k)}].usageTypeKey`, reason: `usage type "${k}" is priced twice`, expected: 'one charge per usage type' }));
  const { usageTypesByKeys } = await querySubgraph<{ usageTypesByKeys: Array<{ key: string } | null> }>('usage', 'query($keys: [String!]!) { usageTypesByKeys(keys: $keys) { key } }', { keys });
  usageTypesByKeys.forEach((found, i) => {
    if (!found) problems.push({ code: 'USAGE_TYPE_UNKNOWN', field: `input.charges[${i}].usageTypeKey`, reason: `no usage type "${keys[i]}" is registered`, expected: 'the key of a usage type registered with registerUsageType' });
  });
  if (problems.length > 0) throw validationFailed(problems);

  const version = 1;
  const charges: PlanCharge[] = input.charges.map((c) => ({ usageTypeKey: c.usageTypeKey, model: c.model, unitPrice: c.unitPrice, includedQuantity: c.includedQuantity }));
  const doc: PricePlanDoc = { _id: deterministicId('plan', input.key, version), key: input.key, version, name: input.name, currency: input.currency, charges, createdAt: new Date(), correlationId };
  const existing = await store.pricePlans.findOne({ _id: doc._id });
  if (existing) return sameOrConflict(existing, doc);
  try {
    await store.pricePlans.insertOne(doc);
    return doc;
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    return sameOrConflict((await store.pricePlans.findOne({ _id: doc._id }))!, doc);
  }
}

function sameOrConflict(existing: PricePlanDoc, wanted: PricePlanDoc): PricePlanDoc {
  const same = existing.name === wanted.name && existing.currency === wanted.currency && stableStringify(existing.charges) === stableStringify(wanted.charges);
  if (same) return existing;
  throw new UserFacingError('CONFLICT', `price plan "${wanted.key}" version ${existing.version} already exists with different terms; plans are immutable once created`, {
    field: 'input.key',
    expected: 'the same name, currency and charges as the existing plan, or a new plan key',
  });
}
