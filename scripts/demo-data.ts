// Loads a small, realistic demo through the gateway — idempotently: deterministic ids make a second load change nothing.
import { mustGraphql } from '../runtime/graph-client';
import { seededRandom } from '../runtime/seeded-random';
import { applyUsageTypes } from '../contracts/usage-type-files';

export interface DemoResult {
  period: string;
  invoiceNumbers: string[];
  /** The credit note the demo's late discount gave Acme. */
  noteNumbers: string[];
  correlationId: string;
  events: { accepted: number; duplicates: number; rejected: number };
}

/** The last complete calendar month (UTC) before `now`. */
export function lastCompleteMonth(now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

// Acme is taxed where its billing address is (California); Globex buys under reverse charge, so it is billed no tax.
const CUSTOMERS = [
  {
    externalKey: 'acme-analytics',
    name: 'Acme Analytics',
    apiEvents: 380,
    storageEvents: 220,
    billingAddress: {
      line1: '500 Market Street',
      city: 'San Francisco',
      postalCode: '94105',
      region: 'CA',
      country: 'US',
    },
  },
  {
    externalKey: 'globex-retail',
    name: 'Globex Retail',
    apiEvents: 260,
    storageEvents: 140,
    billingAddress: { line1: 'Herengracht 100', city: 'Amsterdam', postalCode: '1015 BS', country: 'NL' },
    taxId: 'NL123456789B01',
    taxExemption: { reason: 'REVERSE_CHARGE' },
  },
];

export async function loadDemoData(
  gatewayUrl: string,
  credential: string,
  period = lastCompleteMonth(),
  log: (m: string) => void = () => undefined,
): Promise<DemoResult> {
  const correlationId = `demo-${period}`;
  const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) =>
    mustGraphql<T>(gatewayUrl, query, variables, { correlationId, credential });

  log(
    '  registering usage types, a legal entity and its accounts, a tax table, a price plan, customers, subscriptions…',
  );
  await gql(
    `mutation { upsertLegalEntity(input: { code: "US01", name: "UsageGraph Demo Inc", functionalCurrency: "USD", roundingMode: HALF_UP,
        taxRounding: PER_LINE, taxId: "US-EIN-12-3456789",
        address: { line1: "1 Ledger Way", city: "San Francisco", postalCode: "94107", region: "CA", country: "US" } }) { code }
      receivable: setAccountMapping(input: { kind: RECEIVABLE_ACCOUNT, key: "US01", value: "assets:receivable:us01" }) { id }
      deferred: setAccountMapping(input: { kind: DEFERRED_REVENUE_ACCOUNT, key: "US01", value: "liabilities:deferred-revenue:us01" }) { id }
      state: setTaxRate(input: { jurisdiction: "US-CA", name: "California sales tax", ratePercent: "7.25", effectiveFrom: "2026-01-01" }) { id } }`,
  );
  // The demo's usage types are schema files, applied the way a product team applies its own.
  await applyUsageTypes({ graphql: gql, writeLock: false });
  const { createPricePlan: plan } = await gql<{ createPricePlan: { id: string } }>(
    `mutation { createPricePlan(input: { key: "growth-usd", name: "Growth (USD)", currency: "USD", charges: [
        { usageTypeKey: "api_calls", unitPrice: "0.0004", includedQuantity: "100000" },
        { usageTypeKey: "storage_gb_hours", unitPrice: "0.0125", includedQuantity: "500" } ],
      recurringFees: [{ key: "platform", description: "Platform fee", amount: "99.00", timing: IN_ADVANCE }] }) { id } }`,
  );

  const random = seededRandom(20261);
  const [year, month] = period.split('-').map(Number) as [number, number];
  const start = Date.UTC(year, month - 1, 1);
  const span = Date.UTC(year, month, 1) - start;
  const events: unknown[] = [];
  const subscriptionIds: string[] = [];
  for (const c of CUSTOMERS) {
    await gql(`mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id } }`, {
      input: {
        externalKey: c.externalKey,
        name: c.name,
        currency: 'USD',
        legalEntityCode: 'US01',
        billingAddress: c.billingAddress,
        ...(c.taxId ? { taxId: c.taxId } : {}),
        ...(c.taxExemption ? { taxExemption: c.taxExemption } : {}),
      },
    });
    const { createSubscription } = await gql<{ createSubscription: { id: string } }>(
      `mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id } }`,
      { input: { customerExternalKey: c.externalKey, pricePlanId: plan.id, startsAt: '2026-01-01T00:00:00Z' } },
    );
    subscriptionIds.push(createSubscription.id);
    const at = () => new Date(start + Math.floor(random() * span)).toISOString();
    for (let i = 0; i < c.apiEvents; i++) {
      events.push({
        id: `${c.externalKey}-api-${period}-${i}`,
        source: 'demo/api-gateway',
        type: 'api_calls',
        customer: c.externalKey,
        timestamp: at(),
        data: {
          calls: 200 + Math.floor(random() * 2800),
          endpoint: ['/v1/search', '/v1/ingest', '/v1/report'][i % 3],
          region: i % 2 ? 'eu-west-1' : 'us-east-1',
        },
      });
    }
    for (let i = 0; i < c.storageEvents; i++) {
      events.push({
        id: `${c.externalKey}-storage-${period}-${i}`,
        source: 'demo/storage-meter',
        type: 'storage_gb_hours',
        customer: c.externalKey,
        timestamp: at(),
        data: { gb_hours: (5 + random() * 120).toFixed(3), bucket: `${c.externalKey}-data` },
      });
    }
  }

  log(`  ingesting ${events.length} usage events for ${period}…`);
  const { ingestUsageEvents: ingested } = await gql<{ ingestUsageEvents: DemoResult['events'] }>(
    `mutation($events: [UsageEventInput!]!) { ingestUsageEvents(events: $events) { accepted duplicates rejected } }`,
    { events },
  );

  log('  rating and invoicing, then finalizing and posting to the ledger in one batch…');
  const invoiceIds: string[] = [];
  for (const subscriptionId of subscriptionIds) {
    await gql(
      `mutation($s: ID!, $p: String!) { rateBillingPeriod(subscriptionId: $s, period: $p) { total { amount } } }`,
      { s: subscriptionId, p: period },
    );
    const { generateInvoice } = await gql<{ generateInvoice: { id: string } }>(
      `mutation($s: ID!, $p: String!) { generateInvoice(subscriptionId: $s, period: $p) { id } }`,
      { s: subscriptionId, p: period },
    );
    invoiceIds.push(generateInvoice.id);
  }
  // Billing's batch entry: every draft finalized (numbered in this order) and posted, one result per invoice.
  const { finalizeAndPostInvoices: run } = await gql<{
    finalizeAndPostInvoices: Array<{
      documentId: string;
      code: string | null;
      posting: { documentNumber: string } | null;
    }>;
  }>(
    `mutation($ids: [ID!]!) { finalizeAndPostInvoices(invoiceIds: $ids) { documentId code posting { documentNumber } } }`,
    { ids: invoiceIds },
  );
  const failed = run.find((r) => !r.posting);
  if (failed) throw new Error(`demo invoice ${failed.documentId} was not finalized and posted: ${failed.code}`);
  const invoiceNumbers = run.map((r) => r.posting!.documentNumber);

  log('  a 5 % discount agreed after invoicing: re-rating, and the credit note that corrects the posted invoice…');
  const acme = subscriptionIds[0]!;
  await gql(`mutation($s: ID!) { setContractTerms(subscriptionId: $s, terms: { discountPercent: "5" }) { id } }`, {
    s: acme,
  });
  await gql(
    `mutation($s: ID!, $p: String!) { rateBillingPeriod(subscriptionId: $s, period: $p) { adjustmentsRecorded } }`,
    {
      s: acme,
      p: period,
    },
  );
  await gql(`mutation($ids: [ID!]!) { issueNotes(invoiceIds: $ids) { status } }`, { ids: [invoiceIds[0]] });
  // A second load finds nothing open to issue: the note numbers are read back, not taken from the answer.
  const { invoice } = await gql<{ invoice: { notes: Array<{ number: string }> } }>(
    `query($id: ID!) { invoice(id: $id) { notes { number } } }`,
    { id: invoiceIds[0] },
  );
  return { period, invoiceNumbers, noteNumbers: invoice.notes.map((n) => n.number), correlationId, events: ingested };
}

export const LINEAGE_QUERY = `query Lineage($number: String!) {
  invoiceByNumber(number: $number) {
    number status period { key } total { amount currency } correlationId
    lines {
      lineNo description amount { amount currency } correlationId
      ratedCharge {
        explanation correlationId
        aggregate {
          quantity eventCount correlationId
          events(first: 3) { nodes { eventId source timestamp quantity correlationId } pageInfo { hasNextPage endCursor } }
        }
      }
    }
    erpPostings {
      status postingKey correlationId
      erpDocument { system documentId location }
      entry { postingDate lines { account side amount { amount currency } } totalDebits { amount } totalCredits { amount } }
    }
  }
}`;
