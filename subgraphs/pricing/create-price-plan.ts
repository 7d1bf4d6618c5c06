// Use cases: create a price plan, and revise it — a new version that prices usage and fees from a date on.
// Versions never change; invoices keep the version they were rated with.
import { z } from 'zod';
import { deterministicId, stableStringify } from '../../lib/ids';
import { UserFacingError, notFound, parseInput, validationFailed, type Problem } from '../../lib/errors';
import { canonicalDecimal, isCurrency, isDecimalString } from '../../lib/money';
import { isDuplicateKeyError } from '../../lib/mongo';
import { querySubgraph } from '../../lib/subgraph-client';
import { chargeAsStored, chargeModelInput } from './charge-input';
import type { PlanCharge, PricePlanDoc, PricingStore } from './store';
import type { RecurringFee } from './rate-subscription-period';
import { usageThresholdsInput } from './usage-thresholds';

const nonNegativeDecimal = z
  .string()
  .refine(isDecimalString, { message: 'is not a decimal number (send it as a string, e.g. "30.00")' })
  .refine((v) => !v.startsWith('-'), { message: 'must not be negative' })
  .transform(canonicalDecimal);

const terms = {
  name: z.string().trim().min(1, 'must not be empty').max(200),
  interval: z.literal('MONTHLY', { error: 'only MONTHLY billing is supported' }).default('MONTHLY'),
  charges: z.array(z.object({ usageTypeKey: z.string().min(1) }).passthrough()),
  recurringFees: z
    .array(
      z.object({
        key: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be lower-case letters, digits, "_" or "-"'),
        description: z.string().trim().min(1).max(200),
        amount: nonNegativeDecimal,
        timing: z.enum(['IN_ADVANCE', 'IN_ARREARS']).default('IN_ARREARS'),
        productLine: z
          .string()
          .regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and "-"')
          .default('subscription'),
      }),
    )
    .default([]),
  minimumCommitment: nonNegativeDecimal.nullish(),
  usageThresholds: usageThresholdsInput,
};

const planInput = z.object({
  key: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1–64 lower-case letters, digits, ".", "_" or "-"'),
  currency: z.string().refine(isCurrency, { message: 'is not an ISO 4217 currency code (expected e.g. "USD")' }),
  effectiveFrom: z.date().nullish(),
  ...terms,
});

const revisionInput = z.object({ ...terms });

type Terms = {
  name: string;
  charges: Array<{ usageTypeKey: string }>;
  recurringFees: RecurringFee[];
  minimumCommitment?: string | null;
};

/** Each charge checked by its model's rules, with the usage type registered and priced once. */
async function checkedCharges(
  raw: Array<Record<string, unknown> & { usageTypeKey: string }>,
  base: string,
): Promise<PlanCharge[]> {
  const problems: Problem[] = [];
  const charges: PlanCharge[] = [];
  raw.forEach((c, i) => {
    const { usageTypeKey, ...model } = c;
    const compact = Object.fromEntries(Object.entries(model).filter(([, v]) => v !== null && v !== undefined));
    const parsed = chargeModelInput.safeParse(compact);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push({
          code: 'VALIDATION_FAILED',
          field: `${base}.charges[${i}]${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`,
          reason: issue.message,
        });
    } else {
      charges.push({ ...parsed.data, usageTypeKey } as PlanCharge);
    }
  });
  const keys = raw.map((c) => c.usageTypeKey);
  keys.forEach(
    (k, i) =>
      keys.indexOf(k) !== i &&
      problems.push({
        code: 'VALIDATION_FAILED',
        field: `${base}.charges[${i}].usageTypeKey`,
        reason: `usage type "${k}" is priced twice`,
        expected: 'one charge per usage type',
      }),
  );
  if (keys.length > 0) {
    const { usageTypesByKeys } = await querySubgraph<{
      usageTypesByKeys: Array<{ key: string; fields: Array<{ name: string; type: string }> } | null>;
    }>('usage', 'query($keys: [String!]!) { usageTypesByKeys(keys: $keys) { key fields { name type } } }', { keys });
    usageTypesByKeys.forEach((found, i) => {
      if (!found)
        problems.push({
          code: 'USAGE_TYPE_UNKNOWN',
          field: `${base}.charges[${i}].usageTypeKey`,
          reason: `no active usage type "${keys[i]}" is registered`,
          expected: 'the key of a usage type registered and activated with registerUsageType',
        });
      const priceField = raw[i]!['model'] === 'DYNAMIC' ? raw[i]!['priceField'] : undefined;
      if (found && typeof priceField === 'string') {
        const numeric = found.fields.filter((f) => f.type === 'DECIMAL' || f.type === 'INTEGER').map((f) => f.name);
        if (!numeric.includes(priceField))
          problems.push({
            code: 'VALIDATION_FAILED',
            field: `${base}.charges[${i}].priceField`,
            reason: `usage type "${found.key}" has no numeric field "${priceField}" to carry each event's price`,
            expected: numeric.length
              ? `one of its DECIMAL or INTEGER fields: ${numeric.join(', ')}`
              : 'a DECIMAL field for the price, added to the usage type first',
          });
      }
    });
  }
  if (raw.length === 0 && problems.length === 0) return charges;
  if (problems.length > 0) throw validationFailed(problems);
  return charges;
}

function nothingToPrice(t: Terms, base: string): void {
  if (t.charges.length === 0 && t.recurringFees.length === 0) {
    throw validationFailed([
      {
        code: 'VALIDATION_FAILED',
        field: `${base}.charges`,
        reason: 'a plan needs at least one usage charge or recurring fee',
        expected: 'a charge per usage type, or a recurring fee',
      },
    ]);
  }
}

const sameTerms = (a: PricePlanDoc, b: PricePlanDoc) =>
  stableStringify({
    n: a.name,
    c: a.currency,
    ch: a.charges.map(chargeAsStored),
    f: a.recurringFees ?? [],
    m: a.minimumCommitment ?? null,
    t: a.usageThresholds ?? [],
    e: (a.effectiveFrom ?? new Date(0)).getTime(),
  }) ===
  stableStringify({
    n: b.name,
    c: b.currency,
    ch: b.charges.map(chargeAsStored),
    f: b.recurringFees ?? [],
    m: b.minimumCommitment ?? null,
    t: b.usageThresholds ?? [],
    e: (b.effectiveFrom ?? new Date(0)).getTime(),
  });

async function insertVersion(store: PricingStore, doc: PricePlanDoc, field: string): Promise<PricePlanDoc> {
  const existing = await store.pricePlans.findOne({ _id: doc._id });
  if (!existing) {
    try {
      await store.pricePlans.insertOne(doc);
      return doc;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
  const stored = existing ?? (await store.pricePlans.findOne({ _id: doc._id }))!;
  if (sameTerms(stored, doc)) return stored;
  throw new UserFacingError(
    'CONFLICT',
    `price plan "${doc.key}" version ${doc.version} already exists with different terms; versions never change`,
    {
      field,
      expected: 'the same terms, or revisePricePlan for a new version from a date',
    },
  );
}

export function planVersionId(key: string, version: number): string {
  return deterministicId('plan', key, version);
}

export async function createPricePlan(
  store: PricingStore,
  rawInput: unknown,
  correlationId: string,
): Promise<PricePlanDoc> {
  const input = parseInput(planInput, rawInput, 'input');
  nothingToPrice(input as Terms, 'input');
  const charges = await checkedCharges(
    input.charges as Array<Record<string, unknown> & { usageTypeKey: string }>,
    'input',
  );
  const doc: PricePlanDoc = {
    _id: planVersionId(input.key, 1),
    key: input.key,
    version: 1,
    name: input.name,
    currency: input.currency,
    interval: input.interval,
    effectiveFrom: input.effectiveFrom ?? new Date(0),
    charges,
    recurringFees: input.recurringFees,
    minimumCommitment: input.minimumCommitment ?? null,
    usageThresholds: input.usageThresholds,
    createdAt: new Date(),
    correlationId,
  };
  return store.locks.run(`plan:${input.key}`, () => insertVersion(store, doc, 'input.key'));
}

/**
 * A new version of a plan, in force from `effectiveFrom` (after every earlier version's). Calling it again with the
 * same terms and date returns that version; subscriptions on the plan are rated with it from that date.
 */
export async function revisePricePlan(
  store: PricingStore,
  key: string,
  effectiveFrom: Date,
  rawInput: unknown,
  correlationId: string,
): Promise<PricePlanDoc> {
  const input = parseInput(revisionInput, rawInput, 'input');
  nothingToPrice(input as Terms, 'input');
  const charges = await checkedCharges(
    input.charges as Array<Record<string, unknown> & { usageTypeKey: string }>,
    'input',
  );
  return store.locks.run(`plan:${key}`, async () => {
    const versions = await store.pricePlans.find({ key }).sort({ version: -1 }).toArray();
    const latest = versions[0];
    if (!latest) throw notFound('price plan', 'key', key);
    const candidate = (version: number): PricePlanDoc => ({
      _id: planVersionId(key, version),
      key,
      version,
      name: input.name,
      currency: latest.currency,
      interval: input.interval,
      effectiveFrom,
      charges,
      recurringFees: input.recurringFees,
      minimumCommitment: input.minimumCommitment ?? null,
      usageThresholds: input.usageThresholds,
      createdAt: new Date(),
      correlationId,
    });
    const same = versions.find((v) => sameTerms(v, candidate(v.version)));
    if (same) return same;
    if (effectiveFrom <= (latest.effectiveFrom ?? new Date(0))) {
      throw new UserFacingError(
        'VALIDATION_FAILED',
        `effectiveFrom: version ${latest.version} is in force from ${(latest.effectiveFrom ?? new Date(0)).toISOString()}`,
        {
          field: 'effectiveFrom',
          expected: `an instant after ${(latest.effectiveFrom ?? new Date(0)).toISOString()}`,
        },
      );
    }
    return insertVersion(store, candidate(latest.version + 1), 'key');
  });
}
