// Nothing counts twice when the same work arrives at the same time.
import { client, draftInvoice, finalizedInvoice, unique } from './support';

const g = client('concurrency-test');

it('stores each event once when two ingesters send the same batch at the same moment', async () => {
  const u = unique('conc');
  await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
    i: { key: `${u}_ev`, unit: 'event', productLine: 'api', fields: [], aggregation: { type: 'COUNT' } },
  });
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: { key: `${u}-plan`, name: 'p', currency: 'USD', charges: [{ usageTypeKey: `${u}_ev`, unitPrice: '1' }] },
  });
  await g.ok(`mutation { upsertCustomer(input: { externalKey: "${u}-c", name: "c", currency: "USD" }) { id } }`);
  const { createSubscription } = await g.ok(
    `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${u}-c", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
    { p: createPricePlan.id },
  );
  const events = Array.from({ length: 500 }, (_, i) => ({
    id: `e${i}`,
    source: u,
    type: `${u}_ev`,
    customer: `${u}-c`,
    timestamp: '2026-07-15T00:00:00Z',
    data: {},
  }));
  const ingest = `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted duplicates rejected } }`;

  const [a, b] = await Promise.all([g.ok(ingest, { e: events }), g.ok(ingest, { e: events })]);
  expect(a.ingestUsageEvents.accepted + b.ingestUsageEvents.accepted).toBe(500);
  expect(a.ingestUsageEvents.duplicates + b.ingestUsageEvents.duplicates).toBe(500);
  expect(a.ingestUsageEvents.rejected + b.ingestUsageEvents.rejected).toBe(0);

  const rate = `mutation($s: ID!) { rateBillingPeriod(subscriptionId: $s, period: "2026-07") { ratedCharges { id revision quantity } total { amount } } }`;
  const ratings = await Promise.all([1, 2, 3, 4].map(() => g.ok(rate, { s: createSubscription.id })));
  const charges = ratings.map((r) => r.rateBillingPeriod.ratedCharges[0]);
  expect(new Set(charges.map((c) => c.id)).size).toBe(1);
  expect(charges[0]).toMatchObject({ revision: 1, quantity: '500' });
  expect(ratings[0].rateBillingPeriod.total.amount).toBe('500.00');
});

it('numbers invoices finalized at the same time without gaps or repeats', async () => {
  const entity = `T${unique('x').slice(2).toUpperCase()}`;
  await g.ok(
    `mutation { upsertLegalEntity(input: { code: "${entity}", name: "Numbering test", functionalCurrency: "USD" }) { code } }`,
  );
  const drafts = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => draftInvoice('num', n, { legalEntityCode: entity })));
  const finalize = `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number } }`;
  // Every draft finalized twice, all at once.
  const results = await Promise.all([...drafts, ...drafts].map((d) => g.ok(finalize, { id: d.invoiceId })));
  const numbers = results.map((r) => r.finalizeInvoice.number);
  expect(numbers.slice(0, 6)).toEqual(numbers.slice(6));
  const year = new Date().getUTCFullYear();
  expect(numbers.slice(0, 6).sort()).toEqual(
    [1, 2, 3, 4, 5, 6].map((n) => `${entity}-${year}-${String(n).padStart(6, '0')}`),
  );
});

it('numbers invoices without gaps or repeats when bulk and single finalizations of overlapping drafts run at once', async () => {
  const entity = `B${unique('x').slice(2).toUpperCase()}`;
  await g.ok(
    `mutation { upsertLegalEntity(input: { code: "${entity}", name: "Bulk numbering test", functionalCurrency: "USD" }) { code } }`,
  );
  const ids = (
    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => draftInvoice('bulknum', n, { legalEntityCode: entity })))
  ).map((d) => d.invoiceId as string);
  const many = `mutation($ids: [ID!]!) { finalizeInvoices(invoiceIds: $ids) { invoiceId code invoice { number } } }`;
  const one = `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number } }`;
  // Two batches overlapping in opposite orders, and single finalizations of drafts both batches hold.
  const [first, second, third, fourth] = await Promise.all([
    g.ok(many, { ids: ids.slice(0, 6) }),
    g.ok(many, { ids: ids.slice(2).reverse() }),
    g.ok(one, { id: ids[3] }),
    g.ok(one, { id: ids[7] }),
  ]);
  const numberOf = new Map<string, string>();
  const seen = (id: string, number: string) => {
    expect(numberOf.get(id) ?? number).toBe(number); // every answer for one invoice names the same number
    numberOf.set(id, number);
  };
  for (const r of [...first.finalizeInvoices, ...second.finalizeInvoices]) {
    expect(r.code).toBeNull();
    seen(r.invoiceId, r.invoice.number);
  }
  seen(ids[3]!, third.finalizeInvoice.number);
  seen(ids[7]!, fourth.finalizeInvoice.number);
  const year = new Date().getUTCFullYear();
  expect([...numberOf.values()].sort()).toEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `${entity}-${year}-${String(n).padStart(6, '0')}`),
  );
});

it('posts an invoice once when five requests ask at the same moment', async () => {
  const invoice = await finalizedInvoice('conc_post', 12);
  const post = `mutation($id: ID!) { postInvoice(invoiceId: $id) { id postingKey status } }`;
  const results = await Promise.all([1, 2, 3, 4, 5].map(() => g.ok(post, { id: invoice.invoiceId })));
  expect(new Set(results.map((r) => r.postInvoice.id)).size).toBe(1);
  const key = results[0].postInvoice.postingKey;
  const transactions = (await (await fetch(`${process.env.USAGEGRAPH_TEST_LEDGER_URL}/transactions`)).json()) as Array<{
    tcode: string;
  }>;
  expect(transactions.filter((t) => t.tcode === key)).toHaveLength(1);
});
