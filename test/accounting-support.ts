// What the accounting tests share: a legal entity with its own accounts, a billed subscription, the ledger's balances.
import { appendFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { client, eventually, unique } from './support';

export const g = client('accounting-test');

/** A legal entity with its own receivable and deferred revenue accounts (unless `mapped` is false). */
export async function legalEntity(
  prefix: string,
  options: { mapped?: boolean; roundingMode?: 'HALF_UP' | 'HALF_EVEN'; taxRounding?: string; notePolicy?: object } = {},
): Promise<{ code: string; receivable: string; deferred: string }> {
  const code = `${prefix}${unique('').slice(1).toUpperCase()}`;
  await g.ok(`mutation($i: UpsertLegalEntityInput!) { upsertLegalEntity(input: $i) { code } }`, {
    i: {
      code,
      name: `${prefix} Ltd`,
      functionalCurrency: 'USD',
      roundingMode: options.roundingMode ?? 'HALF_UP',
      ...(options.taxRounding ? { taxRounding: options.taxRounding } : {}),
      ...(options.notePolicy ? { notePolicy: options.notePolicy } : {}),
      address: { line1: '1 Ledger Way', city: 'San Francisco', postalCode: '94105', region: 'CA', country: 'US' },
      taxId: `EIN-${code}`,
    },
  });
  const receivable = `assets:receivable:${code.toLowerCase()}`;
  const deferred = `liabilities:deferred-revenue:${code.toLowerCase()}`;
  if (options.mapped !== false) {
    await mapAccount('RECEIVABLE_ACCOUNT', code, receivable);
    await mapAccount('DEFERRED_REVENUE_ACCOUNT', code, deferred);
  }
  return { code, receivable, deferred };
}

export const mapAccount = (kind: string, key: string, value: string) =>
  g.ok(`mutation($i: AccountMappingInput!) { setAccountMapping(input: $i) { id kind key value } }`, {
    i: { kind, key, value },
  });

export interface Billed {
  subscriptionId: string;
  customerId: string;
  customerKey: string;
  usageType: string;
  productLine: string;
  invoiceId: string;
}

/**
 * A customer of `entity` on a plan pricing one usage type at 0.01 a call (plus `fees` and a minimum commitment),
 * with `calls` rated and invoiced for `period` (a draft; `finalize` finalizes it).
 */
export async function billedCustomer(
  prefix: string,
  entity: string,
  calls: number,
  options: {
    period?: string;
    fees?: Array<{
      key: string;
      description: string;
      amount: string;
      timing: 'IN_ADVANCE' | 'IN_ARREARS';
      productLine: string;
    }>;
    minimumCommitment?: string;
    customer?: Record<string, unknown>;
    extraUsage?: { productLine: string; calls: number };
    usageThresholds?: Array<{ amount: string; recurring?: boolean }>;
    finalize?: boolean;
  } = {},
): Promise<Billed> {
  const period = options.period ?? '2026-09';
  const u = unique(prefix);
  const productLine = `${u.replace(/_/g, '-')}-api`.toLowerCase();
  const usageType = `${u}_calls`;
  const types = [{ key: usageType, productLine, calls }];
  if (options.extraUsage)
    types.push({ key: `${u}_gb`, productLine: options.extraUsage.productLine, calls: options.extraUsage.calls });
  for (const t of types)
    await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
      i: {
        key: t.key,
        unit: 'call',
        productLine: t.productLine,
        fields: [{ name: 'calls', type: 'INTEGER' }],
        aggregation: { type: 'SUM', field: 'calls' },
      },
    });
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: {
      key: `${u}-plan`.toLowerCase(),
      name: 'plan',
      currency: 'USD',
      charges: types.map((t) => ({ usageTypeKey: t.key, unitPrice: '0.01' })),
      recurringFees: options.fees ?? [],
      ...(options.minimumCommitment ? { minimumCommitment: options.minimumCommitment } : {}),
      ...(options.usageThresholds ? { usageThresholds: options.usageThresholds } : {}),
    },
  });
  const customerKey = `${u}-c`;
  const { upsertCustomer } = await g.ok(`mutation($i: UpsertCustomerInput!) { upsertCustomer(input: $i) { id } }`, {
    i: {
      externalKey: customerKey,
      name: `Customer ${u}`,
      currency: 'USD',
      legalEntityCode: entity,
      ...options.customer,
    },
  });
  const { createSubscription } = await g.ok(
    `mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }`,
    { i: { customerExternalKey: customerKey, pricePlanId: createPricePlan.id, startsAt: '2026-01-01T00:00:00Z' } },
  );
  const billed: Billed = {
    subscriptionId: createSubscription.id,
    customerId: upsertCustomer.id,
    customerKey,
    usageType,
    productLine,
    invoiceId: '',
  };
  for (const t of types) await sendCalls(billed, t.calls, `${period}-10T10:00:00Z`, t.key);
  await rate(billed, period);
  const { generateInvoice } = await g.ok(
    `mutation($s: ID!, $p: String!) { generateInvoice(subscriptionId: $s, period: $p) { id } }`,
    { s: billed.subscriptionId, p: period },
  );
  billed.invoiceId = generateInvoice.id;
  if (options.finalize !== false)
    await g.ok(`mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number } }`, { id: billed.invoiceId });
  return billed;
}

let eventNo = 0;
export async function sendCalls(
  b: Pick<Billed, 'customerKey' | 'usageType'>,
  calls: number,
  at: string,
  type = b.usageType,
) {
  const { ingestUsageEvents } = await g.ok(
    `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted rejected held } }`,
    {
      e: [
        {
          id: `e${++eventNo}-${Date.now()}`,
          source: 'accounting-test',
          type,
          customer: b.customerKey,
          timestamp: at,
          data: { calls },
        },
      ],
    },
  );
  expect(ingestUsageEvents).toEqual({ accepted: 1, rejected: 0, held: 0 });
}

export const rate = async (b: Pick<Billed, 'subscriptionId'>, period = '2026-09') =>
  (
    await g.ok(
      `mutation($s: ID!, $p: String!) { rateBillingPeriod(subscriptionId: $s, period: $p) { status total { amount } adjustments { id lineKey difference { amount } status } } }`,
      { s: b.subscriptionId, p: period },
    )
  ).rateBillingPeriod;

export const POSTING = `id postingKey kind status documentNumber legalEntityCode exceptionId
  lastError { code kind message remedy } history { outcome code }
  journalEntry: entry { documentDate postingDate accountingPeriod requestedPeriod periodMoveReason lines { account side amount { amount } dimensions { name value } } }`;

export async function posted(id: string) {
  return eventually(
    `posting ${id} to reach the ledger`,
    async () => {
      const { erpPosting } = await g.ok(`query($id: ID!) { erpPosting(id: $id) { ${POSTING} } }`, { id });
      return erpPosting.status === 'POSTED' && erpPosting;
    },
    20_000,
  );
}

const ledgerUrl = () => process.env.USAGEGRAPH_TEST_LEDGER_URL!;

/** The ledger's own transactions with this code (hledger-web ignores query strings, so they are filtered here). */
export async function ledgerTransactions(code: string): Promise<any[]> {
  return ((await (await fetch(`${ledgerUrl()}/transactions`)).json()) as any[]).filter((t) => t.tcode === code);
}

/** Each account's own balance in minor units, as hledger-web's /accounts reports it (exact mantissas). */
export async function ledgerBalances(): Promise<Map<string, bigint>> {
  const accounts = (await (await fetch(`${ledgerUrl()}/accounts`)).json()) as Array<{
    aname: string;
    aebalance: Array<{ acommodity: string; aquantity: { decimalMantissa: number; decimalPlaces: number } }>;
  }>;
  const out = new Map<string, bigint>();
  for (const a of accounts) {
    for (const amount of a.aebalance) {
      if (amount.acommodity !== 'USD') continue;
      const { decimalMantissa, decimalPlaces } = amount.aquantity;
      out.set(a.aname, BigInt(decimalMantissa) * 10n ** BigInt(2 - decimalPlaces));
    }
  }
  return out;
}

/**
 * Each account's balance from the ledger's transactions that UsageGraph did not make (no posting key as their code):
 * the entries finance makes in the ERP by hand, which reconciliation tests add to the shared ledger.
 */
export async function manualLedgerBalances(): Promise<Map<string, bigint>> {
  const transactions = (await (await fetch(`${ledgerUrl()}/transactions`)).json()) as Array<{
    tcode: string;
    tpostings: Array<{
      paccount: string;
      pamount: Array<{ acommodity: string; aquantity: { decimalMantissa: number; decimalPlaces: number } }>;
    }>;
  }>;
  const out = new Map<string, bigint>();
  for (const t of transactions) {
    if (t.tcode !== '') continue;
    for (const p of t.tpostings)
      for (const amount of p.pamount) {
        if (amount.acommodity !== 'USD') continue;
        const { decimalMantissa, decimalPlaces } = amount.aquantity;
        const minor = BigInt(decimalMantissa) * 10n ** BigInt(2 - decimalPlaces);
        out.set(p.paccount, (out.get(p.paccount) ?? 0n) + minor);
      }
  }
  return out;
}

/** Declares an account in the ledger's journal, as finance would create a customer in the ERP. */
export function declareInLedger(account: string): void {
  appendFileSync(process.env.USAGEGRAPH_TEST_JOURNAL!, `\naccount ${account}\n`);
}

/** The text of a PDF, read back by PDF.js (test/pdf-text.mjs). */
export function pdfText(pdf: Buffer): { pages: number; text: string; title: string } {
  return JSON.parse(
    execFileSync(process.execPath, [join(__dirname, 'pdf-text.mjs')], {
      input: pdf,
      stdio: ['pipe', 'pipe', 'pipe'],
    }).toString(),
  );
}

export const journalText = (): string => readFileSync(process.env.USAGEGRAPH_TEST_JOURNAL!, 'utf8');

/** hledger itself checks the whole journal: it parses, every transaction balances, assertions hold. */
export function hledgerCheck(): void {
  execFileSync('hledger', ['-f', process.env.USAGEGRAPH_TEST_JOURNAL!, 'check'], { stdio: 'pipe' });
}

export const cents = (amount: string): bigint => {
  const [whole, fraction = ''] = amount.replace('-', '').split('.');
  const v = BigInt(whole!) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2));
  return amount.startsWith('-') ? -v : v;
};
