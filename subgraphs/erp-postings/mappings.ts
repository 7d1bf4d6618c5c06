// Account mappings finance keeps in the graph, effective-dated: legal entity → receivable and deferred revenue,
// product line → revenue, tax jurisdiction → tax payable, customer → ERP customer id. A row applies from its day until
// a later row of the same kind and key; product lines and jurisdictions fall back to a "*" row (a template).
import { z } from 'zod';
import { parseInput } from '../../lib/errors';
import { contentHash, deterministicId } from '../../lib/ids';
import type { MappingLookup } from './journal';
import type { AccountMappingDoc, MappingKind, MissingMapping, PostingsStore } from './store';

/** What a fresh system books to, so it works before finance maps anything; each can be superseded by a later row. */
export const DEFAULT_MAPPINGS: Array<Pick<AccountMappingDoc, 'kind' | 'key' | 'value'>> = [
  { kind: 'RECEIVABLE_ACCOUNT', key: 'DEFAULT', value: 'assets:receivable' },
  { kind: 'DEFERRED_REVENUE_ACCOUNT', key: 'DEFAULT', value: 'liabilities:deferred-revenue' },
  { kind: 'UNBILLED_RECEIVABLE_ACCOUNT', key: 'DEFAULT', value: 'assets:unbilled-receivable' },
  { kind: 'REVENUE_ACCOUNT', key: '*', value: 'revenue:{kind}:{productLine}' },
  { kind: 'REVENUE_ACCOUNT', key: 'commitment', value: 'revenue:commitment' },
  { kind: 'TAX_PAYABLE_ACCOUNT', key: '*', value: 'liabilities:tax:{jurisdiction}' },
  { kind: 'PREPAID_CREDIT_ACCOUNT', key: '*', value: 'liabilities:prepaid-credits' },
  { kind: 'PROMOTIONAL_CREDIT_ACCOUNT', key: '*', value: 'expenses:promotional-credits' },
  { kind: 'EXPIRED_CREDIT_ACCOUNT', key: '*', value: 'revenue:expired-credits' },
];
const ALWAYS = '1970-01-01';

export const mappingId = (kind: MappingKind, key: string, effectiveFrom: string): string =>
  deterministicId('map', kind, key, effectiveFrom);

/** Inserted once at start-up; finance's later rows supersede them, and a row of finance's is never overwritten. */
export async function seedDefaultMappings(store: PostingsStore): Promise<void> {
  for (const m of DEFAULT_MAPPINGS) {
    const _id = mappingId(m.kind, m.key, ALWAYS);
    if (await store.mappings.findOne({ _id })) continue;
    await store.mappings
      .insertOne({ _id, ...m, effectiveFrom: ALWAYS, setAt: new Date(), setBy: 'system', correlationId: 'start-up' })
      .catch(() => undefined);
  }
}

/** Which kinds fall back to a "*" row. */
const WILDCARD: ReadonlySet<MappingKind> = new Set([
  'REVENUE_ACCOUNT',
  'TAX_PAYABLE_ACCOUNT',
  'PREPAID_CREDIT_ACCOUNT',
  'PROMOTIONAL_CREDIT_ACCOUNT',
  'EXPIRED_CREDIT_ACCOUNT',
]);

/** The mappings in force on a day, and a hash of the rows an entry used (its mappingVersion). */
export function mappingsAt(
  rows: readonly AccountMappingDoc[],
  day: string,
): { lookup: MappingLookup; version: () => string } {
  const used = new Set<string>();
  const inForce = (kind: MappingKind, key: string) =>
    rows
      .filter((r) => r.kind === kind && r.key === key && r.effectiveFrom <= day)
      .sort((a, b) => b.effectiveFrom.localeCompare(a.effectiveFrom))[0];
  const lookup: MappingLookup = (kind, key) => {
    const row = inForce(kind, key) ?? (WILDCARD.has(kind) ? inForce(kind, '*') : undefined);
    if (!row) return null;
    used.add(`${row._id}:${row.value}`);
    return row.value;
  };
  return { lookup, version: () => contentHash([...used].sort()) };
}

/** The whole table: small (a row per entity, product line, jurisdiction, mapped customer and change). */
export const allMappings = (store: PostingsStore) => store.mappings.find({}).toArray();

const ACCOUNT = /^[a-z][a-z0-9_-]*(:[A-Za-z0-9{][A-Za-z0-9_{}.-]*)*$/;
const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

const mappingInput = z
  .object({
    kind: z.enum([
      'RECEIVABLE_ACCOUNT',
      'DEFERRED_REVENUE_ACCOUNT',
      'UNBILLED_RECEIVABLE_ACCOUNT',
      'REVENUE_ACCOUNT',
      'TAX_PAYABLE_ACCOUNT',
      'ERP_CUSTOMER_ID',
      'PREPAID_CREDIT_ACCOUNT',
      'PROMOTIONAL_CREDIT_ACCOUNT',
      'EXPIRED_CREDIT_ACCOUNT',
    ]),
    key: z
      .string()
      .regex(
        /^(\*|[A-Za-z0-9][A-Za-z0-9._:-]{0,127})$/,
        'must be a code, product line, jurisdiction, customer id or *',
      ),
    value: z.string().min(1).max(200),
    effectiveFrom: z.string().regex(DAY, 'must be a day as YYYY-MM-DD'),
  })
  .superRefine((m, ctx) => {
    if (m.key === '*' && !WILDCARD.has(m.kind))
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message: `${m.kind} is per key; "*" is for product lines and jurisdictions`,
      });
    if (m.kind === 'ERP_CUSTOMER_ID') {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(m.value))
        ctx.addIssue({
          code: 'custom',
          path: ['value'],
          message: 'an ERP customer id is 1–64 letters, digits, ".", "_" or "-"',
        });
    } else if (!ACCOUNT.test(m.value)) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message:
          'must be a ledger account: lower-case segments of letters, digits, "-" and "_" separated by ":", e.g. revenue:api',
      });
    }
  });

export async function upsertMapping(
  store: PostingsStore,
  rawInput: unknown,
  setBy: string,
  correlationId: string,
): Promise<AccountMappingDoc> {
  const input = parseInput(mappingInput, rawInput, 'input');
  const _id = mappingId(input.kind, input.key, input.effectiveFrom);
  return store.locks.run(_id, async () => {
    const existing = await store.mappings.findOne({ _id });
    if (existing && existing.value === input.value) return existing;
    const doc: AccountMappingDoc = { _id, ...input, setAt: new Date(), setBy, correlationId };
    await store.mappings.replaceOne({ _id }, doc, { upsert: true });
    return doc;
  });
}

/** What finance does about a missing mapping, in words (the posting's remedy and the exception's). */
export function remedyFor(missing: readonly MissingMapping[]): string {
  return `finance adds ${missing
    .map(
      (m) =>
        `setAccountMapping(input: { kind: ${m.kind}, key: "${m.key}", value: "<${m.kind === 'ERP_CUSTOMER_ID' ? 'ERP customer id' : 'ledger account'}>" })`,
    )
    .join(' and ')}; the posting is then built and sent by itself`;
}

export function describeMissing(missing: readonly MissingMapping[]): string {
  const what: Record<MappingKind, string> = {
    RECEIVABLE_ACCOUNT: 'receivable account of legal entity',
    DEFERRED_REVENUE_ACCOUNT: 'deferred revenue account of legal entity',
    UNBILLED_RECEIVABLE_ACCOUNT: 'unbilled receivable account of legal entity',
    REVENUE_ACCOUNT: 'revenue account of product line',
    TAX_PAYABLE_ACCOUNT: 'tax payable account of jurisdiction',
    ERP_CUSTOMER_ID: 'ERP customer id of customer',
    PREPAID_CREDIT_ACCOUNT: 'prepaid credit (liability) account of legal entity',
    PROMOTIONAL_CREDIT_ACCOUNT: 'promotional credit (expense) account of legal entity',
    EXPIRED_CREDIT_ACCOUNT: 'expired credit (income) account of legal entity',
  };
  return `no account mapping for the ${missing.map((m) => `${what[m.kind]} "${m.key}"`).join(', the ')}`;
}
