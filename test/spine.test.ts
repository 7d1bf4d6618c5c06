// The whole spine through the gateway over HTTP: usage type → events → rating → invoice → ERP posting, and back.
import { execFileSync } from 'node:child_process';
import { client, firstError, unique } from './support';

const u = unique('spine');
const flow = `flow-${u}`;
const g = client(flow);
const PERIOD = '2026-09';
const CALLS = `${u}_calls`;
const GB = `${u}_gb`;
const customerKey = `${u}-customer`;
const source = `tests/${u}`;
const at = (day: number) => `2026-09-${String(day).padStart(2, '0')}T12:00:00Z`;

const callEvent = (id: string, calls: number | string, day = 3) => ({
  id,
  source,
  type: CALLS,
  customer: customerKey,
  timestamp: at(day),
  data: { calls },
});
const gbEvent = (id: string, gb: string, day = 4) => ({
  id,
  source,
  type: GB,
  customer: customerKey,
  timestamp: at(day),
  data: { gb_hours: gb },
});

const INGEST = `mutation($events: [UsageEventInput!]!) {
  ingestUsageEvents(events: $events) {
    accepted duplicates held rejected correlationId
    results { index eventId source status usageEventId quarantineId exceptionId problems { code field reason expected } }
  }
}`;
const RATE = `mutation($s: ID!, $p: String!) {
  rateBillingPeriod(subscriptionId: $s, period: $p) {
    total { amount currency } correlationId period { key start end }
    ratedCharges { id chargeKey revision usageTypeKey quantity billableQuantity exactAmount amount { amount currency } explanation correlationId aggregate { id } }
  }
}`;
const INVOICE_FIELDS = `id number status total { amount currency } updatedAt correlationId lines { id lineNo usageTypeKey amount { amount currency } ratedCharge { id } }`;

let subscriptionId: string;
let invoiceId: string;

// The batch of the first ingestion; indexes 0–5 are valid, 6 repeats 0, 7, 8 and 10 are bad, 9 names an unknown customer.
const batch = [
  callEvent('c1', 1000),
  callEvent('c2', '1000'),
  callEvent('c3', 1000),
  callEvent('c4', 333),
  gbEvent('g1', '12.345'),
  gbEvent('g2', '0.005'),
  callEvent('c1', 1000),
  { id: 'bad-missing', source, type: CALLS, customer: customerKey, timestamp: at(5), data: { endpoint: '/x' } },
  { id: 'bad-type', source, type: `${u}_nope`, customer: customerKey, timestamp: at(5), data: { calls: 1 } },
  { id: 'bad-customer', source, type: CALLS, customer: `${u}-stranger`, timestamp: at(5), data: { calls: 1 } },
  { id: 'bad-time', source, type: CALLS, customer: customerKey, timestamp: 'last tuesday', data: { calls: 1 } },
];

beforeAll(async () => {
  await g.ok(
    `mutation($a: RegisterUsageTypeInput!, $b: RegisterUsageTypeInput!) { a: registerUsageType(input: $a, activate: true) { id } b: registerUsageType(input: $b, activate: true) { id } }`,
    {
      a: {
        key: CALLS,
        unit: 'call',
        productLine: 'api',
        fields: [
          { name: 'calls', type: 'INTEGER' },
          { name: 'endpoint', type: 'STRING', required: false },
        ],
        aggregation: { type: 'SUM', field: 'calls' },
      },
      b: {
        key: GB,
        unit: 'GB-hour',
        productLine: 'storage',
        fields: [{ name: 'gb_hours', type: 'DECIMAL' }],
        aggregation: { type: 'SUM', field: 'gb_hours' },
      },
    },
  );
  const { createPricePlan } = await g.ok(
    `mutation($input: CreatePricePlanInput!) { createPricePlan(input: $input) { id } }`,
    {
      input: {
        key: `${u}-plan`,
        name: 'Spine test plan',
        currency: 'USD',
        charges: [
          { usageTypeKey: CALLS, unitPrice: '0.0015', includedQuantity: '1000' },
          { usageTypeKey: GB, unitPrice: '0.0125' },
        ],
      },
    },
  );
  await g.ok(`mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id } }`, {
    input: { externalKey: customerKey, name: 'Spine (Test) Co', currency: 'USD' },
  });
  const { createSubscription } = await g.ok(
    `mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id } }`,
    {
      input: { customerExternalKey: customerKey, pricePlanId: createPricePlan.id, startsAt: '2026-01-01T00:00:00Z' },
    },
  );
  subscriptionId = createSubscription.id;
});

describe('every setup mutation is idempotent', () => {
  it('returns the same result, and changes nothing, when called again with the same input', async () => {
    const twice = async (query: string, variables: Record<string, unknown>) => {
      const first = await g.ok(query, variables);
      const second = await g.ok(query, variables);
      expect(second).toEqual(first);
      return first;
    };
    await twice(
      `mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id key version status createdAt } }`,
      {
        i: {
          key: CALLS,
          unit: 'call',
          productLine: 'api',
          fields: [
            { name: 'calls', type: 'INTEGER' },
            { name: 'endpoint', type: 'STRING', required: false },
          ],
          aggregation: { type: 'SUM', field: 'calls' },
        },
      },
    );
    await twice(
      `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id version createdAt charges { usageTypeKey unitPrice includedQuantity } } }`,
      {
        i: {
          key: `${u}-plan`,
          name: 'Spine test plan',
          currency: 'USD',
          charges: [
            { usageTypeKey: CALLS, unitPrice: '0.0015', includedQuantity: '1000' },
            { usageTypeKey: GB, unitPrice: '0.0125' },
          ],
        },
      },
    );
    await twice(
      `mutation($i: UpsertCustomerInput!) { upsertCustomer(input: $i) { id externalKey createdAt updatedAt } }`,
      { i: { externalKey: customerKey, name: 'Spine (Test) Co', currency: 'USD' } },
    );
    const { createSubscription } = await twice(
      `mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id createdAt startsAt } }`,
      {
        i: {
          customerExternalKey: customerKey,
          pricePlanId: (
            await g.ok(`query($s: ID!) { subscription(id: $s) { pricePlan { id } } }`, { s: subscriptionId })
          ).subscription.pricePlan.id,
          startsAt: '2026-01-01T00:00:00Z',
        },
      },
    );
    expect(createSubscription.id).toBe(subscriptionId);
  });
});

describe('ingesting usage events', () => {
  it('gives every event its own result: accepted, duplicate, held, or rejected with the field, the reason and what is accepted', async () => {
    const { ingestUsageEvents: r } = await g.ok(INGEST, { events: batch });
    expect([r.accepted, r.duplicates, r.held, r.rejected]).toEqual([6, 1, 1, 3]);
    expect(r.correlationId).toBe(flow);
    expect(r.results.map((x: any) => x.status)).toEqual([
      'ACCEPTED',
      'ACCEPTED',
      'ACCEPTED',
      'ACCEPTED',
      'ACCEPTED',
      'ACCEPTED',
      'DUPLICATE',
      'REJECTED',
      'REJECTED',
      'HELD',
      'REJECTED',
    ]);
    expect(r.results[6].usageEventId).toBe(r.results[0].usageEventId);
    const problem = (i: number) => r.results[i].problems[0];
    expect(problem(7)).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'events[7].data.calls',
      reason: 'required field "calls" is missing',
      expected: 'an integer',
    });
    expect(problem(8)).toMatchObject({
      code: 'USAGE_TYPE_UNKNOWN',
      field: 'events[8].type',
      expected: expect.stringContaining('registered usage type'),
    });
    expect(problem(9)).toMatchObject({
      code: 'CUSTOMER_UNKNOWN',
      field: 'events[9].customer',
      reason: `no customer has key "${u}-stranger"; the event is held until finance maps it`,
    });
    expect(r.results[9].exceptionId).toMatch(/^uex_/);
    expect(problem(10)).toMatchObject({ code: 'VALIDATION_FAILED', field: 'events[10].timestamp' });
    for (const i of [7, 8, 10]) expect(r.results[i].quarantineId).toMatch(/^qev_/);
  });

  it('treats a replay of the batch as duplicates and stores nothing twice', async () => {
    const { ingestUsageEvents: r } = await g.ok(INGEST, { events: batch });
    expect([r.accepted, r.duplicates, r.held, r.rejected]).toEqual([0, 7, 1, 3]);
    const { usageEvents } = await g.ok(
      `query($f: UsageEventFilter) { usageEvents(filter: $f, first: 100) { nodes { eventId } } }`,
      { f: { subscriptionId, period: PERIOD } },
    );
    expect(usageEvents.nodes.map((e: any) => e.eventId).sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'g1', 'g2']);
  });

  it('keeps the stored event when the same identity comes back with different content, and says so', async () => {
    const { ingestUsageEvents: r } = await g.ok(INGEST, { events: [callEvent('c2', 999)] });
    expect(r.results[0]).toMatchObject({
      status: 'REJECTED',
      problems: [{ code: 'EVENT_CONFLICT', field: 'events[0].id' }],
    });
    const { usageEventBySource } = await g.ok(
      `query($s: String!) { usageEventBySource(source: $s, eventId: "c2") { quantity data } }`,
      { s: source },
    );
    expect(usageEventBySource).toEqual({ quantity: '1000', data: { calls: '1000' } });
  });

  it('keeps every rejected event in quarantine with its raw payload and problems', async () => {
    const nodes: any[] = [];
    let after: string | null = null;
    do {
      const { quarantinedEvents }: any = await g.ok(
        `query($after: String) { quarantinedEvents(first: 200, after: $after) { nodes { id payload problems { code field } receivedCount } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      nodes.push(...quarantinedEvents.nodes);
      after = quarantinedEvents.pageInfo.hasNextPage ? quarantinedEvents.pageInfo.endCursor : null;
    } while (after);
    const mine = nodes.filter((n) => n.payload?.source === source);
    expect(mine.map((n) => n.payload.id).sort()).toEqual(['bad-missing', 'bad-time', 'bad-type', 'c2']);
    expect(mine.find((n) => n.payload.id === 'bad-type').receivedCount).toBe(2);
    expect(mine.find((n) => n.payload.id === 'c2').problems[0].code).toBe('EVENT_CONFLICT');
  });
});

describe('rating, invoicing and posting', () => {
  let firstRating: any;

  it('rates the period exactly: included quantity, then unit price on the overage, rounded once per line', async () => {
    const { rateBillingPeriod: r } = await g.ok(RATE, { s: subscriptionId, p: PERIOD });
    firstRating = r;
    const byType = Object.fromEntries(r.ratedCharges.map((c: any) => [c.usageTypeKey, c]));
    // 3333 calls − 1000 included = 2333 × 0.0015 = 3.4995 → 3.50 (half-up, the DEFAULT entity's policy)
    expect(byType[CALLS]).toMatchObject({
      quantity: '3333',
      billableQuantity: '2333',
      exactAmount: '3.4995',
      amount: { amount: '3.50', currency: 'USD' },
      revision: 1,
    });
    // 12.35 GB-h × 0.0125 = 0.154375 → 0.15
    expect(byType[GB]).toMatchObject({
      quantity: '12.35',
      billableQuantity: '12.35',
      exactAmount: '0.154375',
      amount: { amount: '0.15', currency: 'USD' },
    });
    expect(r.total).toEqual({ amount: '3.65', currency: 'USD' });
    expect(r.period).toEqual({ key: PERIOD, start: '2026-09-01T00:00:00.000Z', end: '2026-10-01T00:00:00.000Z' });
  });

  it('gives the same rated charges when rated again with the same usage', async () => {
    const { rateBillingPeriod: again } = await g.ok(RATE, { s: subscriptionId, p: PERIOD });
    expect(again.ratedCharges).toEqual(firstRating.ratedCharges);
  });

  it('adds a revision, never an edit, when late usage arrives before invoicing', async () => {
    const { ingestUsageEvents } = await g.ok(INGEST, { events: [callEvent('c5-late', 667, 29)] });
    expect(ingestUsageEvents.accepted).toBe(1);
    const { rateBillingPeriod: r } = await g.ok(RATE, { s: subscriptionId, p: PERIOD });
    const calls = r.ratedCharges.find((c: any) => c.usageTypeKey === CALLS);
    const gb = r.ratedCharges.find((c: any) => c.usageTypeKey === GB);
    expect(calls).toMatchObject({ revision: 2, quantity: '4000', amount: { amount: '4.50' } });
    expect(calls.chargeKey).toBe(firstRating.ratedCharges.find((c: any) => c.usageTypeKey === CALLS).chargeKey);
    expect(gb.id).toBe(firstRating.ratedCharges.find((c: any) => c.usageTypeKey === GB).id);
    expect(r.total.amount).toBe('4.65');
    const old = firstRating.ratedCharges.find((c: any) => c.usageTypeKey === CALLS);
    const { ratedCharge } = await g.ok(`query($id: ID!) { ratedCharge(id: $id) { revision amount { amount } } }`, {
      id: old.id,
    });
    expect(ratedCharge).toEqual({ revision: 1, amount: { amount: '3.50' } });
  });

  it('drafts an invoice from the current charges, idempotently', async () => {
    const { generateInvoice: draft } = await g.ok(
      `mutation($s: ID!, $p: String!) { generateInvoice(subscriptionId: $s, period: $p) { ${INVOICE_FIELDS} } }`,
      { s: subscriptionId, p: PERIOD },
    );
    expect(draft).toMatchObject({
      status: 'DRAFT',
      number: null,
      total: { amount: '4.65', currency: 'USD' },
      correlationId: flow,
    });
    expect(draft.lines.map((l: any) => [l.lineNo, l.usageTypeKey, l.amount.amount])).toEqual([
      [1, CALLS, '4.50'],
      [2, GB, '0.15'],
    ]);
    const { generateInvoice: again } = await g.ok(
      `mutation($s: ID!, $p: String!) { generateInvoice(subscriptionId: $s, period: $p) { ${INVOICE_FIELDS} } }`,
      { s: subscriptionId, p: PERIOD },
    );
    expect(again).toEqual(draft);
    invoiceId = draft.id;
  });

  it('refuses to post a draft', async () => {
    const error = firstError(
      await g.raw(`mutation($id: ID!) { postInvoice(invoiceId: $id) { id } }`, { id: invoiceId }),
    );
    expect(error.extensions).toMatchObject({
      code: 'INVOICE_NOT_FINALIZED',
      field: 'invoiceId',
      expected: 'a finalized invoice (finalizeInvoice first)',
    });
  });

  it('finalizes once: a number and an issue date, and no change afterwards', async () => {
    const { finalizeInvoice: f } = await g.ok(
      `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { ${INVOICE_FIELDS} issueDate finalizedAt } }`,
      { id: invoiceId },
    );
    expect(f.status).toBe('FINALIZED');
    expect(f.number).toMatch(/^DEFAULT-\d{4}-\d{6}$/);
    const { finalizeInvoice: again } = await g.ok(
      `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { ${INVOICE_FIELDS} issueDate finalizedAt } }`,
      { id: invoiceId },
    );
    expect(again).toEqual(f);
    // Late usage after finalization changes the rated charges, but never the finalized invoice.
    await g.ok(INGEST, { events: [callEvent('c6-after-final', 10, 30)] });
    await g.ok(RATE, { s: subscriptionId, p: PERIOD });
    const { generateInvoice: regenerated } = await g.ok(
      `mutation($s: ID!, $p: String!) { generateInvoice(subscriptionId: $s, period: $p) { ${INVOICE_FIELDS} } }`,
      { s: subscriptionId, p: PERIOD },
    );
    const { issueDate: _issued, finalizedAt: _at, ...asFinalized } = f;
    expect(regenerated).toEqual(asFinalized);
    expect(regenerated.total.amount).toBe('4.65');
  });

  it('posts a balanced journal entry to the ledger exactly once, however often it is asked', async () => {
    const POST = `mutation($id: ID!) { postInvoice(invoiceId: $id) {
      id postingKey status correlationId attempts
      erpDocument { system documentId }
      journalEntry { accountingPeriod lines { account side amount { amount currency } invoiceLines { id } } totalDebits { amount } totalCredits { amount } }
    } }`;
    const { postInvoice: p } = await g.ok(POST, { id: invoiceId });
    expect(p.status).toBe('POSTED');
    expect(p.erpDocument).toEqual({ system: 'hledger-web', documentId: p.postingKey });
    expect(p.journalEntry.lines.map((l: any) => [l.account, l.side, l.amount.amount])).toEqual([
      ['assets:receivable', 'DEBIT', '4.65'],
      ['revenue:usage:api', 'CREDIT', '4.50'],
      ['revenue:usage:storage', 'CREDIT', '0.15'],
    ]);
    expect(p.journalEntry.totalDebits).toEqual(p.journalEntry.totalCredits);
    const [again1, again2] = await Promise.all([g.ok(POST, { id: invoiceId }), g.ok(POST, { id: invoiceId })]);
    expect(again1.postInvoice.id).toBe(p.id);
    expect(again2.postInvoice).toEqual(again1.postInvoice);

    const transactions = (await (
      await fetch(`${process.env.USAGEGRAPH_TEST_LEDGER_URL}/transactions`)
    ).json()) as any[];
    const mine = transactions.filter((t) => t.tcode === p.postingKey);
    expect(mine).toHaveLength(1);
    const amounts = mine[0].tpostings.map((x: any) => [
      x.paccount,
      x.pamount[0].aquantity.decimalMantissa,
      x.pamount[0].aquantity.decimalPlaces,
    ]);
    expect(amounts).toEqual([
      ['assets:receivable', 465, 2],
      ['revenue:usage:api', -450, 2],
      ['revenue:usage:storage', -15, 2],
    ]);
    expect(mine[0].ttags).toEqual(
      expect.arrayContaining([
        ['correlation', flow],
        ['idem', p.postingKey],
      ]),
    );
  });

  it('leaves a journal file hledger reads, checks and balances to zero', () => {
    const journal = process.env.USAGEGRAPH_TEST_JOURNAL!;
    execFileSync('hledger', ['-f', journal, 'check']);
    const balance = execFileSync('hledger', ['-f', journal, 'balance', '-O', 'csv']).toString();
    expect(balance.trim().split('\n').pop()).toBe('"total","0"');
  });
});

describe('lineage', () => {
  it('walks from an invoice to the source events and forward to the ERP document, with one correlation id at every hop', async () => {
    const { invoice } = await g.ok(
      `query($id: ID!) { invoice(id: $id) {
        correlationId
        lines { correlationId ratedCharge { correlationId aggregate { id correlationId eventCount events(first: 2) { nodes { eventId correlationId } pageInfo { hasNextPage endCursor } } } } }
        erpPostings { correlationId erpDocument { documentId } }
      } }`,
      { id: invoiceId },
    );
    const ids = [
      invoice.correlationId,
      ...invoice.lines.flatMap((l: any) => [
        l.correlationId,
        l.ratedCharge.correlationId,
        l.ratedCharge.aggregate.correlationId,
        ...l.ratedCharge.aggregate.events.nodes.map((e: any) => e.correlationId),
      ]),
      invoice.erpPostings[0].correlationId,
    ];
    expect(new Set(ids)).toEqual(new Set([flow]));
    expect(invoice.erpPostings[0].erpDocument.documentId).toMatch(/^ug:inv_/);

    // Page through every source event of the calls line.
    const calls = invoice.lines[0].ratedCharge.aggregate;
    const eventIds: string[] = calls.events.nodes.map((e: any) => e.eventId);
    let cursor = calls.events.pageInfo.hasNextPage ? calls.events.pageInfo.endCursor : null;
    while (cursor) {
      const { usageAggregate }: any = await g.ok(
        `query($id: ID!, $after: String) { usageAggregate(id: $id) { events(first: 2, after: $after) { nodes { eventId } pageInfo { hasNextPage endCursor } } } }`,
        { id: calls.id, after: cursor },
      );
      eventIds.push(...usageAggregate.events.nodes.map((e: any) => e.eventId));
      cursor = usageAggregate.events.pageInfo.hasNextPage ? usageAggregate.events.pageInfo.endCursor : null;
    }
    // The event that arrived after finalization is listed by the aggregate query; the invoiced count is the aggregate's eventCount at rating.
    expect(eventIds.sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5-late', 'c6-after-final']);
  });

  it('walks back from a usage event to the invoice line and ERP document it ended in', async () => {
    const { usageEventBySource: e } = await g.ok(
      `query($s: String!) { usageEventBySource(source: $s, eventId: "c1") {
        correlationId
        aggregate { ratedCharges { totalCount nodes { revision invoiceLines { lineNo invoice { id number erpPostings { status erpDocument { system documentId } } } } } } }
      } }`,
      { s: source },
    );
    expect(e.correlationId).toBe(flow);
    expect(e.aggregate.ratedCharges.totalCount).toBe(e.aggregate.ratedCharges.nodes.length);
    const invoiced = e.aggregate.ratedCharges.nodes.filter((c: any) => c.invoiceLines.length > 0);
    expect(invoiced.map((c: any) => c.revision)).toEqual([2]);
    const line = invoiced[0].invoiceLines[0];
    expect(line.invoice.id).toBe(invoiceId);
    expect(line.invoice.erpPostings[0]).toMatchObject({
      status: 'POSTED',
      erpDocument: { system: 'hledger-web', documentId: expect.stringMatching(/^ug:inv_/) },
    });
  });
});

describe('bad input gets a stable code, the field, why, and what would be accepted', () => {
  it('a period in the wrong format', async () => {
    const error = firstError(await g.raw(RATE, { s: subscriptionId, p: 'Sept 2026' }));
    expect(error.extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'period',
      expected: 'a calendar month as YYYY-MM, e.g. "2026-10"',
    });
    expect(error.message).toContain('"Sept 2026" is not a billing period');
  });

  it('things that do not exist', async () => {
    expect(firstError(await g.raw(RATE, { s: 'sub_missing', p: PERIOD })).extensions).toMatchObject({
      code: 'NOT_FOUND',
      field: 'subscriptionId',
    });
    expect(
      firstError(await g.raw(`mutation { finalizeInvoice(invoiceId: "inv_missing") { id } }`)).extensions,
    ).toMatchObject({ code: 'NOT_FOUND', field: 'invoiceId' });
    expect(
      firstError(await g.raw(`mutation { postInvoice(invoiceId: "inv_missing") { id } }`)).extensions,
    ).toMatchObject({ code: 'NOT_FOUND', field: 'invoiceId' });
  });

  it('an invalid customer, leaving nothing written', async () => {
    const key = `${u}-invalid`;
    const error = firstError(
      await g.raw(`mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { id } }`, {
        input: { externalKey: key, name: ' ', currency: 'DOLLARS' },
      }),
    );
    expect(error.extensions!.code).toBe('VALIDATION_FAILED');
    expect(error.extensions!.problems.map((p: any) => p.field).sort()).toEqual(['input.currency', 'input.name']);
    expect(
      (await g.ok(`query($k: String!) { customerByExternalKey(externalKey: $k) { id } }`, { k: key }))
        .customerByExternalKey,
    ).toBeNull();
  });

  it('a plan pricing an unknown usage type', async () => {
    const error = firstError(
      await g.raw(
        `mutation { createPricePlan(input: { key: "${u}-bad-plan", name: "x", currency: "USD", charges: [{ usageTypeKey: "${u}_nothing", unitPrice: "1" }] }) { id } }`,
      ),
    );
    expect(error.extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      problems: [{ code: 'USAGE_TYPE_UNKNOWN', field: 'input.charges[0].usageTypeKey' }],
    });
  });

  it('a fractional price sent as a float is refused; as a string it is exact', async () => {
    const error = firstError(
      await g.raw(`mutation($input: CreatePricePlanInput!) { createPricePlan(input: $input) { id } }`, {
        input: { key: `${u}-float`, name: 'x', currency: 'USD', charges: [{ usageTypeKey: CALLS, unitPrice: 0.1 }] },
      }),
    );
    expect(error.message).toMatch(/Decimal must be a decimal string/);
  });

  it('a usage type registered again with a different definition', async () => {
    const error = firstError(
      await g.raw(
        `mutation { registerUsageType(input: { key: "${CALLS}", unit: "request", productLine: "api", fields: [{ name: "calls", type: INTEGER }], aggregation: { type: SUM, field: "calls" } }) { id } }`,
      ),
    );
    expect(error.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.version' });
  });

  it('a subscription for an unknown customer', async () => {
    const error = firstError(
      await g.raw(
        `mutation { createSubscription(input: { customerExternalKey: "${u}-nobody", pricePlanId: "plan_x", startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
      ),
    );
    expect(error.extensions).toMatchObject({ code: 'CUSTOMER_UNKNOWN', field: 'input.customerExternalKey' });
  });
});
