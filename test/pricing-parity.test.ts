// Issue 11 end to end through the gateway: the peers' models written with createPricePlan and rated to the cent, a seat
// metric carried across three periods, usage by window, and a re-send that stays DUPLICATE after a new major version.
import { client, unique } from './support';

const g = client('pricing-parity-test');
const u = unique('pp');

const INGEST = `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted duplicates held rejected results { status problems { code field reason } } } }`;
const RATE = `mutation($s: ID!, $p: String!) { rateBillingPeriod(subscriptionId: $s, period: $p) {
  total { amount currency } ratedCharges { usageTypeKey kind model quantity amount { amount } explanation }
} }`;

const register = async (input: Record<string, unknown>) =>
  (
    await g.ok(
      `mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { key version } }`,
      {
        i: input,
      },
    )
  ).registerUsageType;
const plan = async (input: Record<string, unknown>) =>
  (await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, { i: input }))
    .createPricePlan.id as string;
async function subscribe(planId: string, startsAt: string) {
  const key = unique('cust');
  await g.ok(
    `mutation { upsertCustomer(input: { externalKey: "${key}", name: "Customer ${key}", currency: "USD" }) { id } }`,
  );
  const { createSubscription } = await g.ok(
    `mutation($p: ID!, $s: DateTime!) { createSubscription(input: { customerExternalKey: "${key}", pricePlanId: $p, startsAt: $s }) { id } }`,
    { p: planId, s: startsAt },
  );
  return { customerKey: key, subscriptionId: createSubscription.id as string };
}
const ingest = async (events: Array<Record<string, unknown>>) => (await g.ok(INGEST, { e: events })).ingestUsageEvents;
const send = async (events: Array<Record<string, unknown>>) => {
  const r = await ingest(events);
  expect({ accepted: r.accepted, problems: r.results.flatMap((x: any) => x.problems) }).toEqual({
    accepted: events.length,
    problems: [],
  });
};
const event = (type: string, customer: string, id: string, timestamp: string, data: Record<string, unknown>) => ({
  id,
  source: `parity/${u}/${customer}`,
  type,
  customer,
  timestamp,
  data,
});
const rate = async (subscriptionId: string, period: string) =>
  (await g.ok(RATE, { s: subscriptionId, p: period })).rateBillingPeriod;
const usageLines = (r: any) =>
  Object.fromEntries(
    r.ratedCharges.filter((c: any) => c.kind === 'USAGE').map((c: any) => [c.usageTypeKey, c.amount.amount]),
  );

const CALLS = `${u}_calls`;
const PAY = `${u}_pay`;
const SEATS = `${u}_seats`;

beforeAll(async () => {
  await register({
    key: CALLS,
    unit: 'call',
    productLine: 'api',
    fields: [
      { name: 'calls', type: 'INTEGER' },
      { name: 'price', type: 'DECIMAL', required: false },
      { name: 'region', type: 'STRING', required: false, allowedValues: ['eu', 'us'] },
    ],
    dimensions: ['region'],
    aggregation: { type: 'SUM', field: 'calls' },
  });
  await register({
    key: PAY,
    unit: 'payment',
    productLine: 'payments',
    fields: [{ name: 'amount', type: 'DECIMAL' }],
    aggregation: { type: 'SUM', field: 'amount' },
  });
  await register({
    key: SEATS,
    unit: 'seat',
    productLine: 'platform',
    fields: [
      { name: 'user', type: 'STRING' },
      { name: 'op', type: 'STRING', required: false, allowedValues: ['add', 'remove'] },
    ],
    aggregation: { type: 'UNIQUE_COUNT', field: 'user', recurring: true, operationField: 'op' },
  });
});

it('bills the first tier’s flat fee at zero usage by default, and nothing when the charge says NOT_BILLED', async () => {
  const tiers = [
    { upTo: '100', unitPrice: '0.10', flatFee: '5' },
    { upTo: null, unitPrice: '0.05' },
  ];
  const billed = await plan({
    key: `${u}-zero-billed`,
    name: 'Zero usage billed',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, model: 'GRADUATED', tiers }],
  });
  const { pricePlan } = await g.ok(`query($id: ID!) { pricePlan(id: $id) { charges { flatFeeAtZeroUsage } } }`, {
    id: billed,
  });
  expect(pricePlan.charges).toEqual([{ flatFeeAtZeroUsage: 'BILLED' }]);
  const notBilled = await plan({
    key: `${u}-zero-not-billed`,
    name: 'Zero usage not billed',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, model: 'VOLUME', tiers, flatFeeAtZeroUsage: 'NOT_BILLED' }],
  });
  const a = await subscribe(billed, '2026-04-01T00:00:00Z');
  const b = await subscribe(notBilled, '2026-04-01T00:00:00Z');
  expect(usageLines(await rate(a.subscriptionId, '2026-04'))).toEqual({ [CALLS]: '5.00' });
  expect(usageLines(await rate(b.subscriptionId, '2026-04'))[CALLS] ?? '0.00').toBe('0.00');
  // revisePricePlan takes the option too: from May the same subscription pays nothing at zero usage.
  await g.ok(
    `mutation($k: String!, $c: [UsageChargeInput!]!) { revisePricePlan(key: $k, effectiveFrom: "2026-05-01T00:00:00Z", input: { name: "Zero usage billed", charges: $c }) { version } }`,
    {
      k: `${u}-zero-billed`,
      c: [{ usageTypeKey: CALLS, model: 'GRADUATED', tiers, flatFeeAtZeroUsage: 'NOT_BILLED' }],
    },
  );
  expect(usageLines(await rate(a.subscriptionId, '2026-05'))[CALLS] ?? '0.00').toBe('0.00');
});

it('rates graduated percentage, tiered blocks, dynamic prices and a free amount, to the cent', async () => {
  const p = await plan({
    key: `${u}-models`,
    name: 'Peer models',
    currency: 'USD',
    charges: [
      {
        usageTypeKey: PAY,
        model: 'GRADUATED_PERCENTAGE',
        percentageTiers: [
          { upTo: '10000', rate: '0.01', flatFee: '2' },
          { upTo: null, rate: '0.005', flatFee: '3' },
        ],
      },
      {
        usageTypeKey: CALLS,
        model: 'TIERED_BLOCKS',
        blockSize: '10',
        blockTiers: [
          { upTo: '100', blockPrice: '5' },
          { upTo: null, blockPrice: '3' },
        ],
      },
    ],
  });
  const s = await subscribe(p, '2026-05-01T00:00:00Z');
  const c = s.customerKey;
  await send([
    event(PAY, c, 'p1', '2026-05-03T10:00:00Z', { amount: '9000' }),
    event(PAY, c, 'p2', '2026-05-20T10:00:00Z', { amount: '6000' }),
    event(CALLS, c, 'c1', '2026-05-04T10:00:00Z', { calls: 100, region: 'eu' }),
    event(CALLS, c, 'c2', '2026-05-05T10:00:00Z', { calls: 25, region: null }),
  ]);
  // 15,000: 10,000 × 1 % + 2 + 5,000 × 0.5 % + 3 = 130.00; 125 calls: 10 blocks × 5 + ⌈25/10⌉ = 3 × 3 = 59.00.
  expect(usageLines(await rate(s.subscriptionId, '2026-05'))).toEqual({ [PAY]: '130.00', [CALLS]: '59.00' });
  // Invoiced and posted like any other line, each to its product line's revenue account.
  const { generateInvoice: inv } = await g.ok(
    `mutation($s: ID!) { generateInvoice(subscriptionId: $s, period: "2026-05") { id total { amount } } }`,
    { s: s.subscriptionId },
  );
  expect(inv.total.amount).toBe('189.00');
  await g.ok(`mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number } }`, { id: inv.id });
  const { postInvoice } = await g.ok(
    `mutation($id: ID!) { postInvoice(invoiceId: $id) { status journalEntry { lines { account side amount { amount } } } } }`,
    { id: inv.id },
  );
  expect(postInvoice.status).toBe('POSTED');
  expect(
    Object.fromEntries(postInvoice.journalEntry.lines.map((l: any) => [l.account, `${l.side} ${l.amount.amount}`])),
  ).toEqual({
    'assets:receivable': 'DEBIT 189.00',
    'revenue:usage:api': 'CREDIT 59.00',
    'revenue:usage:payments': 'CREDIT 130.00',
  });

  const dyn = await plan({
    key: `${u}-dynamic`,
    name: 'Dynamic and free amount',
    currency: 'USD',
    charges: [
      { usageTypeKey: CALLS, model: 'DYNAMIC', priceField: 'price' },
      { usageTypeKey: PAY, model: 'PERCENTAGE', rate: '0.02', fixedFeePerEvent: '0.30', freeAmount: '100' },
    ],
  });
  const d = await subscribe(dyn, '2026-05-01T00:00:00Z');
  await send([
    event(CALLS, d.customerKey, 'd1', '2026-05-02T00:00:00Z', { calls: 1, price: '0.1234' }),
    event(CALLS, d.customerKey, 'd2', '2026-05-03T00:00:00Z', { calls: 1, price: '2.0001' }),
    event(CALLS, d.customerKey, 'd3', '2026-05-04T00:00:00Z', { calls: 1 }),
    event(PAY, d.customerKey, 'f1', '2026-05-02T00:00:00Z', { amount: '60' }),
    event(PAY, d.customerKey, 'f2', '2026-05-03T00:00:00Z', { amount: '50' }),
    event(PAY, d.customerKey, 'f3', '2026-05-04T00:00:00Z', { amount: '0' }),
    event(PAY, d.customerKey, 'f4', '2026-05-05T00:00:00Z', { amount: '200' }),
  ]);
  // Dynamic: 0.1234 + 2.0001 = 2.1235 → 2.12; percentage: 0 + 0.50 + 0.30 + 4.30 = 5.10 (as Lago).
  expect(usageLines(await rate(d.subscriptionId, '2026-05'))).toEqual({ [CALLS]: '2.12', [PAY]: '5.10' });

  const refused = await g.raw(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: {
      key: `${u}-bad-dynamic`,
      name: 'Bad',
      currency: 'USD',
      charges: [{ usageTypeKey: PAY, model: 'DYNAMIC', priceField: 'price' }],
    },
  });
  expect(JSON.stringify(refused.errors)).toContain('charges[0].priceField');
});

it('bills a seat metric across three periods by the days each seat was active, carrying seats over', async () => {
  const p = await plan({
    key: `${u}-seats`,
    name: 'Seats',
    currency: 'USD',
    charges: [{ usageTypeKey: SEATS, model: 'PER_UNIT', unitPrice: '10' }],
  });
  const s = await subscribe(p, '2026-04-01T00:00:00Z');
  const c = s.customerKey;
  await send([
    event(SEATS, c, 's1', '2026-04-01T09:30:00Z', { user: 'ann' }),
    event(SEATS, c, 's2', '2026-04-16T17:00:00Z', { user: 'bob', op: 'add' }),
    event(SEATS, c, 's3', '2026-05-11T08:00:00Z', { user: 'bob', op: 'remove' }),
    event(SEATS, c, 's4', '2026-06-30T23:59:00Z', { user: 'cid' }),
  ]);
  // June first: its carry is replayed from April and May without them being rated.
  const june = await rate(s.subscriptionId, '2026-06');
  expect(usageLines(june)).toEqual({ [SEATS]: '10.33' }); // (1 + 1/30) × 10
  // April: ann 30/30 + bob 15/30 = 1.5 × 10; May: ann 31/31 + bob 10/31 → 13.2258… → 13.23.
  const april = await rate(s.subscriptionId, '2026-04');
  expect(april.ratedCharges.find((x: any) => x.kind === 'USAGE')).toMatchObject({ quantity: '1.5' });
  expect(usageLines(april)).toEqual({ [SEATS]: '15.00' });
  expect(usageLines(await rate(s.subscriptionId, '2026-05'))).toEqual({ [SEATS]: '13.23' });

  const { customerUsage } = await g.ok(
    `query($c: String!) { customerUsage(customerKey: $c, period: "2026-05") { usage { usageTypeKey quantity } } }`,
    { c },
  );
  expect(customerUsage.usage).toEqual([{ usageTypeKey: SEATS, quantity: '1.32258064516129032258064516129' }]);

  // A late April seat (dan from the 21st) is carried into May, whose own aggregate received nothing: 2.32258… × 10.
  await send([event(SEATS, c, 's5', '2026-04-21T10:00:00Z', { user: 'dan' })]);
  expect(usageLines(await rate(s.subscriptionId, '2026-05'))).toEqual({ [SEATS]: '23.23' });
  expect(usageLines(await rate(s.subscriptionId, '2026-04'))).toEqual({ [SEATS]: '18.33' }); // 1.5 + 10/30
});

it('answers usage by window with group-by on dimensions', async () => {
  const p = await plan({
    key: `${u}-series`,
    name: 'Series',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, model: 'PER_UNIT', unitPrice: '0.01' }],
  });
  const s = await subscribe(p, '2026-07-01T00:00:00Z');
  const c = s.customerKey;
  await send([
    event(CALLS, c, 'w1', '2026-07-01T10:15:00Z', { calls: 3, region: 'eu' }),
    event(CALLS, c, 'w2', '2026-07-01T10:45:00Z', { calls: 4, region: 'us' }),
    event(CALLS, c, 'w3', '2026-07-03T08:00:00Z', { calls: 5, region: 'eu' }),
  ]);
  const SERIES = `query($c: String!, $k: String!, $w: UsageWindowSize, $g: [String!]) {
    usageSeries(customerKey: $c, usageTypeKey: $k, from: "2026-07-01T00:00:00Z", to: "2026-07-04T00:00:00Z", windowSize: $w, groupBy: $g) {
      unit windows { from quantity eventCount groups { dimensions { name value } quantity } } } }`;
  const byDay = (await g.ok(SERIES, { c, k: CALLS, w: 'DAY', g: ['region'] })).usageSeries;
  expect(byDay.windows.map((w: any) => [w.from.slice(0, 10), w.quantity, w.eventCount, w.groups.length])).toEqual([
    ['2026-07-01', '7', 2, 2],
    ['2026-07-02', '0', 0, 0],
    ['2026-07-03', '5', 1, 1],
  ]);
  expect(byDay.windows[0].groups).toEqual([
    { dimensions: [{ name: 'region', value: 'eu' }], quantity: '3' },
    { dimensions: [{ name: 'region', value: 'us' }], quantity: '4' },
  ]);
  const byMonth = (await g.ok(SERIES, { c, k: CALLS, w: 'MONTH', g: [] })).usageSeries;
  expect(byMonth.windows.map((w: any) => [w.from.slice(0, 10), w.quantity, w.groups])).toEqual([
    ['2026-07-01', '12', []],
  ]);
  const tooMany = await g.raw(SERIES, { c, k: CALLS, w: 'MINUTE', g: [] });
  expect(tooMany.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');
  expect(tooMany.errors?.[0]?.message).toContain('more than 1000');
  const badGroup = await g.raw(SERIES, { c, k: CALLS, w: 'DAY', g: ['colour'] });
  expect(badGroup.errors?.[0]?.message).toContain('"colour" is not a dimension');
});

it('reports an identical re-send of a stored event as DUPLICATE after a new major version became the default', async () => {
  const key = `${u}_tokens`;
  await register({
    key,
    unit: 'token',
    productLine: 'ai',
    fields: [{ name: 'tokens', type: 'INTEGER' }],
    aggregation: { type: 'SUM', field: 'tokens' },
  });
  const p = await plan({
    key: `${u}-tokens`,
    name: 'Tokens',
    currency: 'USD',
    charges: [{ usageTypeKey: key, model: 'PER_UNIT', unitPrice: '0.001' }],
  });
  const s = await subscribe(p, '2026-08-01T00:00:00Z');
  const original = event(key, s.customerKey, 't1', '2026-08-02T00:00:00Z', { tokens: 7 });
  await send([original]);
  // 2.0 makes a new field required: the stored event would fail it, yet it is already stored.
  await register({
    key,
    version: '2.0',
    unit: 'token',
    productLine: 'ai',
    fields: [
      { name: 'tokens', type: 'INTEGER' },
      { name: 'model', type: 'STRING' },
    ],
    aggregation: { type: 'SUM', field: 'tokens' },
  });
  const again = await ingest([original]);
  expect({ duplicates: again.duplicates, rejected: again.rejected, status: again.results[0].status }).toEqual({
    duplicates: 1,
    rejected: 0,
    status: 'DUPLICATE',
  });
  // A bad timestamp does not hide what is wrong in the data: every problem of the event at once.
  const bad = await ingest([{ ...event(key, s.customerKey, 't9', 'yesterday', { tokens: 'many' }), typeVersion: '1' }]);
  expect(bad.results[0].problems.map((p: any) => p.field)).toEqual(['events[0].timestamp', 'events[0].data.tokens']);
  // A different payload under the same id is still not a duplicate.
  const changed = await ingest([{ ...original, data: { tokens: 8 } }]);
  expect(changed.results[0].status).toBe('REJECTED');
});
