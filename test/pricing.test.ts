// Pricing and rating through the gateway: every charge model, fees and commitments, plan versions and changes,
// contract terms against the pricing policy, re-rating after invoicing, and a billing run with a bad record.
import { MongoClient } from 'mongodb';
import { billingRun, client, clientAs, eventually, keyFor, subgraphClient, unique } from './support';
import { repairSubscriptionLists, subscriptionsStore } from '../subgraphs/subscriptions/store';

const g = client('pricing-test');
const APRIL = '2026-04';

const INGEST = `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted held rejected results { problems { code field reason } } } }`;
const RATE = `mutation($s: ID!, $p: String!) { rateBillingPeriod(subscriptionId: $s, period: $p) {
  status total { amount currency }
  ratedCharges { id lineKey kind usageTypeKey feeKey revision model quantity billableQuantity amount { amount } explanation pricePlanVersion termsVersion servicePeriodStart }
  adjustments { id lineKey difference { amount currency } invoice { id } }
  exception { id status violations { field reason allowed } heldPeriods }
} }`;

const register = (input: Record<string, unknown>) =>
  g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { key } }`, { i: input });
const plan = async (input: Record<string, unknown>) =>
  (await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id key version } }`, { i: input }))
    .createPricePlan;
async function subscribe(planId: string, startsAt = '2026-01-01T00:00:00Z') {
  const key = unique('cust');
  await g.ok(
    `mutation { upsertCustomer(input: { externalKey: "${key}", name: "Customer ${key}", currency: "USD" }) { id } }`,
  );
  const { createSubscription } = await g.ok(
    `mutation($p: ID!, $s: DateTime!) { createSubscription(input: { customerExternalKey: "${key}", pricePlanId: $p, startsAt: $s }) { id customer { id } } }`,
    { p: planId, s: startsAt },
  );
  return {
    customerKey: key,
    subscriptionId: createSubscription.id as string,
    customerId: createSubscription.customer.id as string,
  };
}
const send = async (events: Array<Record<string, unknown>>) => {
  const { ingestUsageEvents } = await g.ok(INGEST, { e: events });
  expect({
    held: ingestUsageEvents.held,
    rejected: ingestUsageEvents.rejected,
    problems: ingestUsageEvents.results.flatMap((r: any) => r.problems),
  }).toEqual({ held: 0, rejected: 0, problems: [] });
};
const rate = async (subscriptionId: string, period = APRIL) =>
  (await g.ok(RATE, { s: subscriptionId, p: period })).rateBillingPeriod;
const byLine = (charges: Array<{ lineKey: string; amount: { amount: string } }>) =>
  Object.fromEntries(charges.map((c) => [c.lineKey.replace(/T00:00:00.000Z$/, ''), c.amount.amount]));

const u = unique('px');
const CALLS = `${u}_calls`;
const GB = `${u}_gb`;
const PAY = `${u}_pay`;
const SEATS = `${u}_seats`;
const event = (
  type: string,
  customer: string,
  id: string,
  day: number,
  data: Record<string, unknown>,
  month = '04',
) => ({
  id: `${id}`,
  source: `pricing/${u}/${customer}`,
  type,
  customer,
  timestamp: `2026-${month}-${String(day).padStart(2, '0')}T12:00:00Z`,
  data,
});

beforeAll(async () => {
  await register({
    key: CALLS,
    unit: 'call',
    productLine: 'api',
    fields: [{ name: 'calls', type: 'INTEGER' }],
    aggregation: { type: 'SUM', field: 'calls' },
  });
  await register({
    key: GB,
    unit: 'GB',
    productLine: 'storage',
    fields: [{ name: 'gb', type: 'DECIMAL' }],
    aggregation: { type: 'SUM', field: 'gb' },
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
    fields: [{ name: 'seats', type: 'INTEGER' }],
    aggregation: { type: 'LATEST', field: 'seats' },
  });
});

it('rates every charge model, recurring fees and the minimum commitment, and books each to its account', async () => {
  const p = await plan({
    key: `${u}-all`,
    name: 'Every model',
    currency: 'USD',
    charges: [
      {
        usageTypeKey: CALLS,
        model: 'GRADUATED',
        tiers: [
          { upTo: '1000', unitPrice: '0' },
          { upTo: '10000', unitPrice: '0.002' },
          { upTo: null, unitPrice: '0.001', flatFee: '5' },
        ],
      },
      {
        usageTypeKey: GB,
        model: 'VOLUME',
        tiers: [
          { upTo: '100', unitPrice: '0.10' },
          { upTo: null, unitPrice: '0.08' },
        ],
      },
      { usageTypeKey: PAY, model: 'PERCENTAGE', rate: '0.029', fixedFeePerEvent: '0.30', minPerEvent: '0.50' },
      { usageTypeKey: SEATS, model: 'PACKAGE', packageSize: '5', packagePrice: '20', freeUnits: '2' },
    ],
    recurringFees: [
      { key: 'platform', description: 'Platform fee', amount: '49.00', productLine: 'platform' },
      { key: 'support', description: 'Support', amount: '10.00', timing: 'IN_ADVANCE', productLine: 'support' },
    ],
    minimumCommitment: '500',
  });
  const s = await subscribe(p.id);
  const c = s.customerKey;
  await send([
    event(CALLS, c, 'c1', 3, { calls: 5000 }),
    event(CALLS, c, 'c2', 9, { calls: 5000 }),
    event(CALLS, c, 'c3', 20, { calls: 2000 }),
    event(GB, c, 'g1', 4, { gb: '100.5' }),
    event(GB, c, 'g2', 5, { gb: '50' }),
    event(PAY, c, 'p1', 6, { amount: '10.00' }),
    event(PAY, c, 'p2', 7, { amount: '100.00' }),
    event(SEATS, c, 's1', 2, { seats: 7 }),
    event(SEATS, c, 's2', 20, { seats: 12 }),
  ]);
  const r = await rate(s.subscriptionId);
  expect(r.status).toBe('RATED');
  expect(byLine(r.ratedCharges)).toEqual({
    // 1,000 free + 9,000 × 0.002 = 18 + 2,000 × 0.001 = 2 + a 5 flat fee for the top tier = 25.00
    [`USAGE:${CALLS}:2026-04-01`]: '25.00',
    // 150.5 GB reach the second tier: every GB at 0.08 = 12.04
    [`USAGE:${GB}:2026-04-01`]: '12.04',
    // 10 × 2.9 % + 0.30 = 0.59; 100 × 2.9 % + 0.30 = 3.20
    [`USAGE:${PAY}:2026-04-01`]: '3.79',
    // latest 12 seats − 2 free = 10 → 2 packages × 20
    [`USAGE:${SEATS}:2026-04-01`]: '40.00',
    'FEE:platform:2026-04-01': '49.00',
    // 25 + 12.04 + 3.79 + 40 + 49 = 129.83 of the 500 minimum
    COMMITMENT: '370.17',
    'FEE:support:2026-05-01': '10.00',
  });
  expect(r.total).toEqual({ amount: '510.00', currency: 'USD' });
  expect(r.ratedCharges.find((x: any) => x.kind === 'COMMITMENT').explanation).toBe(
    'plan minimum commitment 500 USD − 129.83 USD rated usage = 370.17 USD true-up',
  );

  const { generateInvoice: inv } = await g.ok(
    `mutation($s: ID!) { generateInvoice(subscriptionId: $s, period: "${APRIL}") { id total { amount } lines { kind description amount { amount } } } }`,
    { s: s.subscriptionId },
  );
  expect(inv.total.amount).toBe('510.00');
  expect(inv.lines.map((l: any) => l.kind)).toEqual(['USAGE', 'USAGE', 'USAGE', 'USAGE', 'FEE', 'FEE', 'COMMITMENT']);
  expect(inv.lines.map((l: any) => l.description)).toContain('Support (in advance) for 2026-05');
  await g.ok(`mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number } }`, { id: inv.id });
  const { postInvoice } = await g.ok(
    `mutation($id: ID!) { postInvoice(invoiceId: $id) { status journalEntry { lines { account side amount { amount } } } } }`,
    { id: inv.id },
  );
  expect(postInvoice.status).toBe('POSTED');
  expect(
    Object.fromEntries(postInvoice.journalEntry.lines.map((l: any) => [l.account, `${l.side} ${l.amount.amount}`])),
  ).toEqual({
    'assets:receivable': 'DEBIT 510.00',
    'revenue:commitment': 'CREDIT 370.17',
    'revenue:fees:platform': 'CREDIT 49.00',
    // The support fee is billed in advance for May: a contract liability until May is served.
    'liabilities:deferred-revenue': 'CREDIT 10.00',
    'revenue:usage:api': 'CREDIT 25.00',
    'revenue:usage:payments': 'CREDIT 3.79',
    'revenue:usage:platform': 'CREDIT 40.00',
    'revenue:usage:storage': 'CREDIT 12.04',
  });
});

it('rates usage against the plan version in force when it happened, and a plan change and a cancellation by day', async () => {
  const p2 = await plan({
    key: `${u}-ver`,
    name: 'Versioned',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, unitPrice: '0.01' }],
    recurringFees: [{ key: 'base', description: 'Base fee', amount: '30.00' }],
  });
  const { revisePricePlan: v2 } = await g.ok(
    `mutation($k: String!) { revisePricePlan(key: $k, effectiveFrom: "2026-04-16T00:00:00Z", input: { name: "Versioned", charges: [{ usageTypeKey: "${CALLS}", unitPrice: "0.02" }], recurringFees: [{ key: "base", description: "Base fee", amount: "30.00" }] }) { id version effectiveFrom } }`,
    { k: `${u}-ver` },
  );
  expect(v2).toMatchObject({ version: 2, effectiveFrom: '2026-04-16T00:00:00.000Z' });
  const s = await subscribe(p2.id);
  await send([
    event(CALLS, s.customerKey, 'a1', 10, { calls: 100 }),
    event(CALLS, s.customerKey, 'a2', 20, { calls: 100 }),
  ]);
  const april = await rate(s.subscriptionId);
  // April 1–15 at version 1: 100 × 0.01; April 16–30 at version 2: 100 × 0.02; the fee split 15/30 + 15/30.
  expect(byLine(april.ratedCharges)).toEqual({
    [`USAGE:${CALLS}:2026-04-01`]: '1.00',
    'FEE:base:2026-04-01': '15.00',
    [`USAGE:${CALLS}:2026-04-16`]: '2.00',
    'FEE:base:2026-04-16': '15.00',
  });
  expect(april.ratedCharges.filter((c: any) => c.kind === 'USAGE').map((c: any) => c.pricePlanVersion)).toEqual([1, 2]);

  const p3 = await plan({
    key: `${u}-next`,
    name: 'Next',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, unitPrice: '0.05' }],
  });
  await g.ok(
    `mutation($s: ID!, $p: ID!) { changeSubscriptionPlan(subscriptionId: $s, pricePlanId: $p, effectiveAt: "2026-05-11T00:00:00Z") { phases { startsAt endsAt } } }`,
    { s: s.subscriptionId, p: p3.id },
  );
  const { cancelSubscription } = await g.ok(
    `mutation($s: ID!) { cancelSubscription(subscriptionId: $s, endsAt: "2026-05-21T00:00:00Z") { endsAt phases { pricePlan { id } startsAt endsAt } } }`,
    { s: s.subscriptionId },
  );
  expect(cancelSubscription.phases).toEqual([
    { pricePlan: { id: p2.id }, startsAt: '2026-01-01T00:00:00.000Z', endsAt: '2026-05-11T00:00:00.000Z' },
    { pricePlan: { id: p3.id }, startsAt: '2026-05-11T00:00:00.000Z', endsAt: '2026-05-21T00:00:00.000Z' },
  ]);
  await send([
    event(CALLS, s.customerKey, 'm1', 5, { calls: 10 }, '05'),
    event(CALLS, s.customerKey, 'm2', 15, { calls: 10 }, '05'),
  ]);
  const may = await rate(s.subscriptionId, '2026-05');
  // May 1–10 on the old plan (version 2): 10 × 0.02, fee 30 × 10/31 = 9.677… → 9.68; May 11–20 on the new plan: 10 × 0.05.
  expect(byLine(may.ratedCharges)).toEqual({
    [`USAGE:${CALLS}:2026-05-01`]: '0.20',
    'FEE:base:2026-05-01': '9.68',
    [`USAGE:${CALLS}:2026-05-11`]: '0.50',
  });
});

it('applies negotiated terms within policy, holds terms beyond it until finance approves or corrects them', async () => {
  await g.ok(
    `mutation { setPricingPolicy(input: { maxDiscountPercent: "15", unitPriceRanges: [{ usageTypeKey: "${CALLS}", minimum: "0.005", maximum: "0.02" }] }) { maxDiscountPercent } }`,
  );
  const p4 = await plan({
    key: `${u}-terms`,
    name: 'Terms',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, unitPrice: '0.01' }],
  });
  const s = await subscribe(p4.id);
  await send([event(CALLS, s.customerKey, 't1', 10, { calls: 1000 })]);
  const setTerms = (terms: Record<string, unknown>) =>
    g.ok(
      `mutation($s: ID!, $t: ContractTermsInput!) { setContractTerms(subscriptionId: $s, terms: $t) { contractTerms { version } } }`,
      { s: s.subscriptionId, t: terms },
    );

  await setTerms({ discountPercent: '10', unitPriceOverrides: [{ usageTypeKey: CALLS, unitPrice: '0.008' }] });
  const within = await rate(s.subscriptionId);
  // 1,000 × 0.008 (negotiated) = 8.00, less 10 % = 7.20
  expect(within).toMatchObject({ status: 'RATED', total: { amount: '7.20' } });
  expect(within.ratedCharges[0].termsVersion).toBe(1);

  await setTerms({ discountPercent: '25', unitPriceOverrides: [{ usageTypeKey: CALLS, unitPrice: '0.008' }] });
  const held = await rate(s.subscriptionId);
  expect(held.status).toBe('HELD');
  expect(held.exception).toMatchObject({
    status: 'OPEN',
    heldPeriods: [APRIL],
    violations: [
      {
        field: 'contractTerms.discountPercent',
        reason: 'a 25 % discount is above the 15 % the policy allows',
        allowed: 'at most 15 %',
      },
    ],
  });
  const open = (await g.ok(`query { pricingExceptions(first: 500) { nodes { id } totalCount } }`)).pricingExceptions;
  expect(open.nodes.map((e: any) => e.id)).toContain(held.exception.id);
  expect(open.totalCount).toBeGreaterThanOrEqual(open.nodes.length);

  // The approver on record is the authenticated caller (a finance key), never a name typed in.
  const { approvePricingException } = await clientAs('finance').ok(
    `mutation($id: ID!) { approvePricingException(id: $id) { status heldPeriods decidedBy } }`,
    { id: held.exception.id },
  );
  expect(approvePricingException).toEqual({
    status: 'APPROVED',
    heldPeriods: [],
    decidedBy: `key:key_${keyFor('finance').slice(4, 12)}`,
  });
  const { ratedCharges: approved } = await g.ok(
    `query($s: ID!) { ratedCharges(subscriptionId: $s, period: "${APRIL}") { amount { amount } termsVersion } }`,
    { s: s.subscriptionId },
  );
  // Rated with the approved terms: 8.00 less 25 % = 6.00
  expect(approved).toEqual([{ amount: { amount: '6.00' }, termsVersion: 2 }]);

  await setTerms({ discountPercent: '10', unitPriceOverrides: [{ usageTypeKey: CALLS, unitPrice: '0.001' }] });
  const tooCheap = await rate(s.subscriptionId);
  expect(tooCheap.exception.violations[0]).toMatchObject({
    field: `contractTerms.unitPriceOverrides[${CALLS}]`,
    allowed: 'from 0.005 to 0.02',
  });
  await setTerms({ discountPercent: '10', unitPriceOverrides: [{ usageTypeKey: CALLS, unitPrice: '0.006' }] });
  // Nobody rates by hand: the held period is picked up again and the corrected terms are within policy.
  const resolved = await eventually('the corrected terms to be rated', async () => {
    const { pricingExceptions } = await g.ok(
      `query { pricingExceptions(status: RESOLVED, first: 500) { nodes { id heldPeriods } } }`,
    );
    return pricingExceptions.nodes.find((e: any) => e.id === tooCheap.exception.id);
  });
  expect(resolved.heldPeriods).toEqual([]);
  const { ratedCharges: corrected } = await g.ok(
    `query($s: ID!) { ratedCharges(subscriptionId: $s, period: "${APRIL}") { amount { amount } termsVersion } }`,
    { s: s.subscriptionId },
  );
  // 1,000 × 0.006 = 6.00, less 10 % = 5.40
  expect(corrected).toEqual([{ amount: { amount: '5.40' }, termsVersion: 4 }]);
});

it('records the difference against a finalized invoice when late usage is rated, once, and nothing when nothing changed', async () => {
  const p5 = await plan({
    key: `${u}-late`,
    name: 'Late',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, unitPrice: '0.01' }],
  });
  const s = await subscribe(p5.id);
  await send([event(CALLS, s.customerKey, 'l1', 10, { calls: 500 })]);
  expect((await rate(s.subscriptionId)).total.amount).toBe('5.00');
  const { generateInvoice } = await g.ok(
    `mutation($s: ID!) { generateInvoice(subscriptionId: $s, period: "${APRIL}") { id } }`,
    { s: s.subscriptionId },
  );
  await g.ok(`mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number } }`, { id: generateInvoice.id });

  const unchanged = await rate(s.subscriptionId);
  expect(unchanged.adjustments).toEqual([]);

  await send([event(CALLS, s.customerKey, 'l2-late', 28, { calls: 300 })]);
  const rerated = await rate(s.subscriptionId);
  expect(rerated.ratedCharges[0]).toMatchObject({ revision: 2, amount: { amount: '8.00' } });
  expect(rerated.adjustments).toEqual([
    {
      id: expect.stringMatching(/^adj_/),
      lineKey: `USAGE:${CALLS}:2026-04-01T00:00:00.000Z`,
      difference: { amount: '3.00', currency: 'USD' },
      invoice: { id: generateInvoice.id },
    },
  ]);
  const again = await rate(s.subscriptionId);
  expect(again.adjustments.map((a: any) => a.id)).toEqual(rerated.adjustments.map((a: any) => a.id));
  const { ratingAdjustments } = await g.ok(
    `query($s: ID!) { ratingAdjustments(subscriptionId: $s) { nodes { id } totalCount } }`,
    { s: s.subscriptionId },
  );
  expect(ratingAdjustments).toEqual({ nodes: [{ id: rerated.adjustments[0].id }], totalCount: 1 });
  const { invoice } = await g.ok(`query($id: ID!) { invoice(id: $id) { status total { amount } } }`, {
    id: generateInvoice.id,
  });
  expect(invoice).toEqual({ status: 'FINALIZED', total: { amount: '5.00' } });
});

it('rates every subscription of a period in a billing run; a broken one is reported and the rest are rated', async () => {
  const p6 = await plan({
    key: `${u}-run`,
    name: 'Run',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, unitPrice: '0.01' }],
  });
  const subs = [await subscribe(p6.id), await subscribe(p6.id)];
  await send(subs.map((s, i) => event(CALLS, s.customerKey, `r${i}`, 12, { calls: 100 * (i + 1) }, '06')));
  // A record damaged outside the application: its plan does not exist.
  const mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  const broken = `sub_broken_${u}`;
  await mongo
    .db(`${process.env.USAGEGRAPH_DB_PREFIX}_subscriptions`)
    .collection<{ _id: string }>('subscriptions')
    .insertOne({
      _id: broken,
      customerId: subs[0]!.customerId,
      pricePlanId: 'plan_missing',
      startsAt: new Date('2026-06-01T00:00:00Z'),
      endsAt: new Date('2026-07-01T00:00:00Z'),
      endsAtOrOpen: '2026-07-01T00:00:00.000Z',
      createdAt: new Date(),
      correlationId: 'damaged',
    } as never);
  await mongo.close();

  const { run, progress } = await billingRun(
    g,
    '2026-06',
    'subscriptions rated failed failures { subscription { id } code message } durationMs',
  );
  expect(progress).toMatchObject({ done: run.subscriptions, total: run.subscriptions, failures: run.failed });
  expect(run.failures).toContainEqual({
    subscription: { id: broken },
    code: 'NOT_FOUND',
    message: 'price plan plan_missing does not exist',
  });
  for (const [i, s] of subs.entries()) {
    const { ratedCharges } = await g.ok(
      `query($s: ID!) { ratedCharges(subscriptionId: $s, period: "2026-06") { amount { amount } } }`,
      { s: s.subscriptionId },
    );
    expect(ratedCharges).toEqual([{ amount: { amount: `${i + 1}.00` } }]);
  }
  expect(run.rated).toBeGreaterThanOrEqual(2);
});

it('lists the subscriptions active at some time in a period by id across pages, counts them, and backfills old ones', async () => {
  const p7 = await plan({
    key: `${u}-active`,
    name: 'Active',
    currency: 'USD',
    charges: [{ usageTypeKey: CALLS, unitPrice: '0.01' }],
  });
  // Period 2391-04; ends and starts are exclusive: one ending at its start or starting at its end is not active in it.
  const cases: Array<[startsAt: string, endsAt: string | null, active: boolean]> = [
    ['2391-01-01T00:00:00Z', null, true],
    ['2391-01-01T00:00:00Z', '2391-04-01T00:00:00Z', false],
    ['2391-01-01T00:00:00Z', '2391-04-01T00:00:00.001Z', true],
    ['2391-04-30T23:59:59.999Z', '2391-06-01T00:00:00Z', true],
    ['2391-05-01T00:00:00Z', null, false],
    ['2391-02-01T00:00:00Z', '2391-03-15T00:00:00Z', false],
  ];
  const ids: Array<[string, boolean]> = [];
  for (const [startsAt, endsAt, active] of cases) {
    const s = await subscribe(p7.id, startsAt);
    if (endsAt)
      await g.ok(`mutation($s: ID!, $e: DateTime!) { cancelSubscription(subscriptionId: $s, endsAt: $e) { id } }`, {
        s: s.subscriptionId,
        e: endsAt,
      });
    ids.push([s.subscriptionId, active]);
  }
  // One stored before endsAtOrOpen existed: the start-up repair gives it the field.
  const mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  const db = mongo.db(`${process.env.USAGEGRAPH_DB_PREFIX}_subscriptions`);
  const old = `sub_before_endsAtOrOpen_${u}`;
  await db.collection<{ _id: string }>('subscriptions').insertOne({
    _id: old,
    customerId: `cus_before_${u}`,
    pricePlanId: p7.id,
    startsAt: new Date('2391-03-01T00:00:00Z'),
    endsAt: new Date('2391-04-10T00:00:00Z'),
    createdAt: new Date(),
    correlationId: 'old',
  } as never);
  const store = subscriptionsStore(db);
  expect(await repairSubscriptionLists(store)).toBeGreaterThanOrEqual(1);
  expect(await repairSubscriptionLists(store)).toBe(0);
  expect((await store.subscriptions.findOne({ _id: old }))?.endsAtOrOpen).toBe('2391-04-10T00:00:00.000Z');
  await mongo.close();
  ids.push([old, true]);

  const listed: string[] = [];
  let after: string | null = null;
  do {
    const { subscriptionsActiveIn: page } = (await g.ok(
      `query($a: String) { subscriptionsActiveIn(period: "2391-04", first: 3, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }`,
      { a: after },
    )) as {
      subscriptionsActiveIn: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string } };
    };
    listed.push(...page.nodes.map((n) => n.id));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  expect(listed).toEqual([...listed].sort());
  expect(new Set(listed).size).toBe(listed.length);
  const expected = ids.filter(([, active]) => active).map(([id]) => id);
  expect(
    ids
      .map(([id]) => id)
      .filter((id) => listed.includes(id))
      .sort(),
  ).toEqual(expected.sort());
  const { subscriptionsActiveInCount } = await subgraphClient(process.env.SUBGRAPH_URL_SUBSCRIPTIONS!).ok<{
    subscriptionsActiveInCount: number;
  }>(`{ subscriptionsActiveInCount(period: "2391-04") }`);
  expect(subscriptionsActiveInCount).toBe(listed.length);
});
