// The usage subgraph as product teams, telemetry pipelines and finance use it, through the gateway over HTTP.
import fc from 'fast-check';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { MongoClient } from 'mongodb';
import { client, eventually, firstError, gatewayUrl, keyFor, unique } from './support';

const g = client('usage-test');
const eventsUrl = () => gatewayUrl().replace(/\/graphql$/, '/v1/events');
const auth = () => ({ authorization: `Bearer ${keyFor('product')}` });

const INGEST = `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) {
  accepted duplicates held rejected
  results { index status usageEventId quarantineId exceptionId late problems { code field reason expected } } } }`;

async function customerWithPlan(prefix: string, usageTypeKeys: string[], startsAt = '2026-01-01T00:00:00Z') {
  const u = unique(prefix);
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: {
      key: `${u}-plan`,
      name: 'p',
      currency: 'USD',
      charges: usageTypeKeys.map((k) => ({ usageTypeKey: k, unitPrice: '1' })),
    },
  });
  await g.ok(`mutation { upsertCustomer(input: { externalKey: "${u}-c", name: "c", currency: "USD" }) { id } }`);
  const { createSubscription } = await g.ok(
    `mutation($p: ID!, $s: DateTime!) { createSubscription(input: { customerExternalKey: "${u}-c", pricePlanId: $p, startsAt: $s }) { id } }`,
    { p: createPricePlan.id, s: startsAt },
  );
  return {
    customerKey: `${u}-c`,
    subscriptionId: createSubscription.id as string,
    planId: createPricePlan.id as string,
  };
}

const register = (input: Record<string, unknown>, activate = true) =>
  g.raw(
    `mutation($i: RegisterUsageTypeInput!, $a: Boolean) { registerUsageType(input: $i, activate: $a) { id key version status changes { kind breaking } } }`,
    { i: input, a: activate },
  );

describe('usage types are versioned contracts with a lifecycle', () => {
  const key = unique('tokens');
  const v1 = {
    key,
    version: '1.0',
    unit: 'token',
    productLine: 'ai',
    fields: [
      { name: 'tokens', type: 'INTEGER', minimum: '0' },
      { name: 'model', type: 'STRING', required: false, allowedValues: ['small', 'large'] },
    ],
    dimensions: ['model'],
    aggregation: { type: 'SUM', field: 'tokens' },
  };
  let customerKey: string;
  const event = (id: string, data: Record<string, unknown>, typeVersion?: string) => ({
    id,
    source: key,
    type: key,
    typeVersion,
    customer: customerKey,
    timestamp: '2026-06-10T10:00:00Z',
    data,
  });

  it('a draft takes no events until it is activated', async () => {
    const draft = await register(v1, false);
    expect(draft.data.registerUsageType).toMatchObject({ version: '1.0', status: 'DRAFT' });
    // A customer without a subscription is enough: an event that passes validation is HELD, one that fails is REJECTED.
    customerKey = unique('lc-c');
    await g.ok(
      `mutation { upsertCustomer(input: { externalKey: "${customerKey}", name: "c", currency: "USD" }) { id } }`,
    );
    const { ingestUsageEvents: r } = await g.ok(INGEST, { e: [event('d1', { tokens: 5 })] });
    expect(r.results[0].problems[0]).toMatchObject({ code: 'USAGE_TYPE_NOT_ACTIVE', field: 'events[0].type' });
    const { activateUsageType } = await g.ok(
      `mutation { activateUsageType(key: "${key}", version: "1.0") { status activatedAt } }`,
    );
    expect(activateUsageType.status).toBe('ACTIVE');
  });

  it('refuses a breaking change within a major, naming each change and why', async () => {
    const breaking = {
      ...v1,
      version: '1.1',
      fields: [
        { name: 'tokens', type: 'DECIMAL' },
        { name: 'model', type: 'STRING', required: true, allowedValues: ['small'] },
      ],
    };
    const error = firstError(await register(breaking));
    expect(error.extensions!.code).toBe('VALIDATION_FAILED');
    expect(error.extensions!.problems.map((p: any) => [p.code, p.reason, p.expected])).toEqual([
      [
        'USAGE_TYPE_BREAKING_CHANGE',
        'field "tokens" changed type from INTEGER to DECIMAL: values sent today may no longer be valid (breaking against 1.0)',
        'register it as a new major version, e.g. "2.0", or make the change compatible',
      ],
      [
        'USAGE_TYPE_BREAKING_CHANGE',
        'field "model" became required: events that leave it out would be rejected (breaking against 1.0)',
        'register it as a new major version, e.g. "2.0", or make the change compatible',
      ],
      [
        'USAGE_TYPE_BREAKING_CHANGE',
        'field "model" no longer accepts "large" (breaking against 1.0)',
        'register it as a new major version, e.g. "2.0", or make the change compatible',
      ],
    ]);
  });

  it('accepts a compatible minor version and a breaking change as a new major', async () => {
    const minor = await register({
      ...v1,
      version: '1.1',
      fields: [...v1.fields, { name: 'cached', type: 'BOOLEAN', required: false }],
    });
    expect(minor.data.registerUsageType).toMatchObject({
      version: '1.1',
      status: 'ACTIVE',
      changes: [{ kind: 'OPTIONAL_FIELD_ADDED', breaking: false }],
    });
    const major = await register({
      ...v1,
      version: '2.0',
      fields: [{ name: 'tokens', type: 'DECIMAL' }],
      dimensions: [],
    });
    expect(major.data.registerUsageType.version).toBe('2.0');
    expect(major.data.registerUsageType.changes.filter((c: any) => c.breaking).length).toBeGreaterThan(0);
    const VERSIONS = `query($after: String) { usageTypeVersions(key: "${key}", first: 2, after: $after) {
      nodes { version status } pageInfo { hasNextPage endCursor } totalCount } }`;
    const { usageTypeVersions: newest } = await g.ok(VERSIONS);
    expect(newest).toMatchObject({
      nodes: [
        { version: '2.0', status: 'ACTIVE' },
        { version: '1.1', status: 'ACTIVE' },
      ],
      pageInfo: { hasNextPage: true },
      totalCount: 3,
    });
    const { usageTypeVersions: oldest } = await g.ok(VERSIONS, { after: newest.pageInfo.endCursor });
    expect(oldest).toMatchObject({ nodes: [{ version: '1.0', status: 'ACTIVE' }], pageInfo: { hasNextPage: false } });
  });

  it('resolves the version an event names: the default (the old major while it is active), the newest of a major, or exact', async () => {
    // 2.0 is active, but 1.x is not deprecated: an event naming no version still means 1.1 ("cached" is only there).
    const DEFAULTS = `{ usageTypeVersions(key: "${key}", first: 5) { nodes { version isDefault } } }`;
    expect((await g.ok(DEFAULTS)).usageTypeVersions.nodes).toEqual([
      { version: '2.0', isDefault: false },
      { version: '1.1', isDefault: true },
      { version: '1.0', isDefault: false },
    ]);
    const { ingestUsageEvents: r } = await g.ok(INGEST, {
      e: [
        event('v-none', { tokens: 1, cached: true }),
        event('v-major', { tokens: 2, cached: true }, '1'),
        event('v-exact', { tokens: 3 }, '1.0'),
        event('v-bad', { tokens: 3, cached: true }, '1.0'),
      ],
    });
    expect(r.results.map((x: any) => x.status)).toEqual(['HELD', 'HELD', 'HELD', 'REJECTED']);
    expect(r.results[3].problems[0]).toMatchObject({
      field: 'events[3].data.cached',
      reason: '"cached" is not a field of usage type ' + key + ' v1.0',
    });
  });

  it('deprecated versions still take events until retired; then the error names the version to use', async () => {
    await g.ok(
      `mutation { deprecateUsageType(key: "${key}", version: "1.0", sunsetAt: "2030-01-01T00:00:00Z") { status sunsetAt } }`,
    );
    expect(
      (await g.ok(INGEST, { e: [event('dep-1', { tokens: 1 }, '1.0')] })).ingestUsageEvents.results[0].status,
    ).toBe('HELD');
    const tooEarly = firstError(await g.raw(`mutation { retireUsageType(key: "${key}", version: "1.1") { status } }`));
    expect(tooEarly.extensions).toMatchObject({
      code: 'USAGE_TYPE_LIFECYCLE',
      expected: 'retireUsageType on a DEPRECATED version',
    });
    // Deprecating the old major is what makes 2.0 the default: a decimal count (only 2.0 takes one) now goes through.
    const before = await g.ok(INGEST, { e: [event('def-1', { tokens: '1.5' })] });
    expect(before.ingestUsageEvents.results[0].status).toBe('REJECTED');
    await g.ok(
      `mutation { deprecateUsageType(key: "${key}", version: "1.1", sunsetAt: "2030-01-01T00:00:00Z") { status } }`,
    );
    const after = await g.ok(INGEST, { e: [event('def-2', { tokens: '1.5' })] });
    expect(after.ingestUsageEvents.results[0].status).toBe('HELD');
    await g.ok(`mutation { retireUsageType(key: "${key}", version: "1.0") { status } }`);
    const { ingestUsageEvents: r } = await g.ok(INGEST, { e: [event('ret-1', { tokens: 1 }, '1.0')] });
    expect(r.results[0].problems[0]).toEqual({
      code: 'USAGE_TYPE_RETIRED',
      field: 'events[0].typeVersion',
      reason: `usage type "${key}" version 1.0 is retired`,
      expected: 'version 2.0 (active)',
    });
  });
});

describe('held events and the finance exception', () => {
  let type: string;
  beforeAll(async () => {
    type = unique('held');
    await register({
      key: type,
      unit: 'call',
      productLine: 'api',
      fields: [{ name: 'calls', type: 'INTEGER' }],
      aggregation: { type: 'SUM', field: 'calls' },
    });
  });

  it('holds events of an unknown customer under one exception per customer and period, and releases them once the customer exists', async () => {
    const plan = await customerWithPlan('held', [type]);
    const stranger = unique('NEWCO');
    const events = [1, 2, 3].map((n) => ({
      id: `h${n}`,
      source: type,
      type,
      customer: stranger,
      timestamp: `2026-05-0${n}T10:00:00Z`,
      data: { calls: n * 10 },
    }));
    const { ingestUsageEvents: r } = await g.ok(INGEST, { e: events });
    expect(r.held).toBe(3);
    expect(new Set(r.results.map((x: any) => x.exceptionId)).size).toBe(1);
    const exceptionId = r.results[0].exceptionId;
    const { usageException: open } = await g.ok(
      `query($id: ID!) { usageException(id: $id) { code customerKey period { key } status heldEventCount remedy message } }`,
      { id: exceptionId },
    );
    expect(open).toMatchObject({
      code: 'CUSTOMER_UNKNOWN',
      customerKey: stranger,
      period: { key: '2026-05' },
      status: 'OPEN',
      heldEventCount: 3,
    });
    expect(open.remedy).toContain(`upsertCustomer(externalKey: "${stranger}")`);
    expect(
      (await g.ok(`query { usageExceptions { nodes { id } } }`)).usageExceptions.nodes.map((n: any) => n.id),
    ).toContain(exceptionId);

    // Finance maps the key to the existing customer: the events flow on by themselves.
    const { customerByExternalKey } = await g.ok(
      `query { customerByExternalKey(externalKey: "${plan.customerKey}") { id } }`,
    );
    await g.ok(
      `mutation { addCustomerAlias(customerId: "${customerByExternalKey.id}", alias: "${stranger}") { aliases } }`,
    );
    const resolved = await eventually('the exception to resolve', async () => {
      const { usageException } = await g.ok(
        `query($id: ID!) { usageException(id: $id) { status heldEventCount resolvedAt } }`,
        { id: exceptionId },
      );
      return usageException.status === 'RESOLVED' && usageException;
    });
    expect(resolved.heldEventCount).toBe(0);
    const { usageEvents } = await g.ok(
      `query($s: ID!) { usageEvents(filter: { subscriptionId: $s }) { nodes { eventId customerKey quantity } } }`,
      { s: plan.subscriptionId },
    );
    expect(usageEvents.nodes.map((e: any) => e.eventId).sort()).toEqual(['h1', 'h2', 'h3']);
    // Sending them again now is a replay, not new usage.
    expect((await g.ok(INGEST, { e: events })).ingestUsageEvents.duplicates).toBe(3);
  });

  it('holds usage outside any subscription until one covers it', async () => {
    const plan = await customerWithPlan('nosub', [type], '2026-06-01T00:00:00Z');
    const { ingestUsageEvents: r } = await g.ok(INGEST, {
      e: [
        {
          id: 'early',
          source: type,
          type,
          customer: plan.customerKey,
          timestamp: '2026-04-15T00:00:00Z',
          data: { calls: 7 },
        },
      ],
    });
    expect(r.results[0]).toMatchObject({
      status: 'HELD',
      problems: [{ code: 'SUBSCRIPTION_NOT_ACTIVE', field: 'events[0].timestamp' }],
    });
    await g.ok(
      `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${plan.customerKey}", pricePlanId: $p, startsAt: "2026-04-01T00:00:00Z", endsAt: "2026-06-01T00:00:00Z" }) { id } }`,
      { p: plan.planId },
    );
    const { releaseHeldEvents } = await g.ok(
      `mutation($id: ID!) { releaseHeldEvents(exceptionId: $id) { status heldEventCount } }`,
      { id: r.results[0].exceptionId },
    );
    expect(releaseHeldEvents).toEqual({ status: 'RESOLVED', heldEventCount: 0 });
  });
});

describe('aggregation', () => {
  it('keeps the latest value for seats, the maximum, distinct counts, and a breakdown by dimension', async () => {
    const seats = unique('seats');
    const peak = unique('peak');
    const users = unique('users');
    await register({
      key: seats,
      unit: 'seat',
      productLine: 'platform',
      fields: [{ name: 'seats', type: 'INTEGER' }],
      aggregation: { type: 'LATEST', field: 'seats' },
    });
    await register({
      key: peak,
      unit: 'GB',
      productLine: 'storage',
      fields: [
        { name: 'gb', type: 'DECIMAL' },
        { name: 'region', type: 'STRING' },
      ],
      dimensions: ['region'],
      aggregation: { type: 'MAX', field: 'gb' },
    });
    await register({
      key: users,
      unit: 'user',
      productLine: 'platform',
      fields: [{ name: 'user', type: 'STRING' }],
      aggregation: { type: 'UNIQUE_COUNT', field: 'user' },
    });
    const plan = await customerWithPlan('agg', [seats, peak, users]);
    const at = (d: number) => `2026-03-${String(d).padStart(2, '0')}T12:00:00Z`;
    const e = (type: string, id: string, day: number, data: Record<string, unknown>) => ({
      id,
      source: 'agg',
      type,
      customer: plan.customerKey,
      timestamp: at(day),
      data,
    });
    await g.ok(INGEST, {
      e: [
        e(seats, 's1', 1, { seats: 10 }),
        e(seats, 's3', 20, { seats: 14 }),
        e(seats, 's2', 9, { seats: 25 }),
        e(peak, 'p1', 2, { gb: '10.5', region: 'eu' }),
        e(peak, 'p2', 3, { gb: '99.25', region: 'us' }),
        e(peak, 'p3', 4, { gb: '12', region: 'eu' }),
        e(users, 'u1', 1, { user: 'ann' }),
        e(users, 'u2', 2, { user: 'bob' }),
        e(users, 'u3', 3, { user: 'ann' }),
      ],
    });
    const { aggregateUsage } = await g.ok(
      `mutation($s: ID!, $k: [String!]!) { aggregateUsage(subscriptionId: $s, period: "2026-03", usageTypeKeys: $k) { usageType { key } quantity eventCount groups { dimensions { name value } quantity eventCount } } }`,
      { s: plan.subscriptionId, k: [seats, peak, users] },
    );
    const by = Object.fromEntries(aggregateUsage.map((a: any) => [a.usageType.key, a]));
    expect(by[seats]).toMatchObject({ quantity: '14', eventCount: 3 });
    expect(by[peak]).toMatchObject({
      quantity: '99.25',
      groups: [
        { dimensions: [{ name: 'region', value: 'eu' }], quantity: '12', eventCount: 2 },
        { dimensions: [{ name: 'region', value: 'us' }], quantity: '99.25', eventCount: 1 },
      ],
    });
    expect(by[users]).toMatchObject({ quantity: '2', eventCount: 3 });

    // Rating reads the aggregate whatever its kind: 14 seats × 1 USD.
    const { rateBillingPeriod } = await g.ok(
      `mutation($s: ID!) { rateBillingPeriod(subscriptionId: $s, period: "2026-03") { ratedCharges { usageTypeKey quantity amount { amount } } } }`,
      { s: plan.subscriptionId },
    );
    expect(rateBillingPeriod.ratedCharges.find((c: any) => c.usageTypeKey === seats)).toMatchObject({
      quantity: '14',
      amount: { amount: '14.00' },
    });

    // Usage after rating is late: flagged, and the aggregate shows it is pending.
    const { ingestUsageEvents: late } = await g.ok(INGEST, { e: [e(seats, 's4', 28, { seats: 30 })] });
    expect(late.results[0]).toMatchObject({ status: 'ACCEPTED', late: true });
    const { lateUsage } = await g.ok(
      `query { lateUsage(period: "2026-03", first: 500) { nodes { pendingEventCount aggregate { usageType { key } quantity } } pageInfo { hasNextPage } } }`,
    );
    expect(lateUsage.pageInfo.hasNextPage).toBe(false);
    expect(lateUsage.nodes.filter((l: any) => l.aggregate.usageType.key === seats)).toEqual([
      { pendingEventCount: 1, aggregate: { usageType: { key: seats }, quantity: '14' } },
    ]);

    const { customerUsage } = await g.ok(
      `query($c: String!) { customerUsage(customerKey: $c, period: "2026-03") { period { key } heldEventCount usage { usageTypeKey unit quantity eventCount } } }`,
      { c: plan.customerKey },
    );
    expect(customerUsage.usage.find((x: any) => x.usageTypeKey === seats)).toMatchObject({
      quantity: '30',
      eventCount: 4,
      unit: 'seat',
    });
  });
});

describe('quarantine', () => {
  it('keeps a rejected event, and a replay after the fix stores it and resolves the entry', async () => {
    const later = unique('later');
    const customerKey = unique('q-c');
    await g.ok(
      `mutation { upsertCustomer(input: { externalKey: "${customerKey}", name: "c", currency: "USD" }) { id } }`,
    );
    const { ingestUsageEvents: r } = await g.ok(INGEST, {
      e: [
        {
          id: 'q1',
          source: 'q',
          type: later,
          customer: customerKey,
          timestamp: '2026-02-02T00:00:00Z',
          data: { n: 1 },
        },
      ],
    });
    const quarantineId = r.results[0].quarantineId;
    // Listed among the open entries (other tests quarantine thousands: read page by page until it shows up).
    const listed: string[] = [];
    for (let after: string | null = null, more = true; more && !listed.includes(quarantineId);) {
      const { quarantinedEvents: page }: any = await g.ok(
        `query($after: String) { quarantinedEvents(first: 500, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      listed.push(...page.nodes.map((n: any) => n.id));
      ({ hasNextPage: more, endCursor: after } = page.pageInfo);
    }
    expect(listed).toContain(quarantineId);
    const { quarantinedEvent } = await g.ok(
      `query($id: ID!) { quarantinedEvent(id: $id) { status payload problems { code field } } }`,
      { id: quarantineId },
    );
    expect(quarantinedEvent).toMatchObject({
      status: 'OPEN',
      payload: { id: 'q1', type: later },
      problems: [{ code: 'USAGE_TYPE_UNKNOWN', field: 'events[0].type' }],
    });

    await register({
      key: later,
      unit: 'n',
      productLine: 'api',
      fields: [{ name: 'n', type: 'INTEGER' }],
      aggregation: { type: 'SUM', field: 'n' },
    });
    const { replayQuarantinedEvents } = await g.ok(
      `mutation($ids: [ID!]!) { replayQuarantinedEvents(ids: $ids) { quarantineId status usageEventId } }`,
      { ids: [quarantineId] },
    );
    // No subscription for this customer: valid now, so it is held for finance rather than rejected again.
    expect(replayQuarantinedEvents).toEqual([
      { quarantineId, status: 'HELD', usageEventId: expect.stringMatching(/^evt_/) },
    ]);
    const { quarantinedEvent: after } = await g.ok(
      `query($id: ID!) { quarantinedEvent(id: $id) { status resolvedAs usageEventId } }`,
      { id: quarantineId },
    );
    expect(after).toEqual({
      status: 'RESOLVED',
      resolvedAs: 'HELD',
      usageEventId: replayQuarantinedEvents[0].usageEventId,
    });
  });
});

describe('HTTP bulk ingestion with CloudEvents', () => {
  let type: string;
  let customerKey: string;
  beforeAll(async () => {
    type = unique('ce');
    await register({
      key: type,
      unit: 'call',
      productLine: 'api',
      fields: [{ name: 'calls', type: 'INTEGER' }],
      aggregation: { type: 'SUM', field: 'calls' },
    });
    ({ customerKey } = await customerWithPlan('ce', [type]));
  });
  const cloudEvent = (id: string, data: Record<string, unknown>) =>
    new CloudEvent({
      specversion: '1.0',
      id,
      source: '/tests/cloudevents',
      type,
      subject: customerKey,
      time: '2026-07-01T08:00:00Z',
      datacontenttype: 'application/json',
      data,
    });

  it('takes a single event from the CloudEvents SDK, in structured and in binary mode', async () => {
    for (const mode of [Mode.STRUCTURED, Mode.BINARY]) {
      const emit = emitterFor(httpTransport(eventsUrl()), { mode });
      const response = (await emit(cloudEvent(`one-${mode}`, { calls: 5 }), { headers: auth() })) as { body: string };
      const body = JSON.parse(response.body);
      expect(body).toMatchObject({ accepted: 1, rejected: 0, results: [{ status: 'ACCEPTED' }] });
    }
  });

  it('takes a batch, and reports per event with CloudEvent attribute names', async () => {
    const batch = [
      cloudEvent('b1', { calls: 1 }),
      cloudEvent('b2', { calls: 'x' }),
      new CloudEvent({
        id: 'b3',
        source: '/tests/cloudevents',
        type,
        time: '2026-07-01T08:00:00Z',
        data: { calls: 1 },
      }),
      cloudEvent('b1', { calls: 1 }),
    ];
    const res = await fetch(eventsUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', 'x-correlation-id': 'ce-batch-1', ...auth() },
      body: JSON.stringify(batch.map((e) => e.toJSON())),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-correlation-id')).toBe('ce-batch-1');
    const body = (await res.json()) as any;
    expect(body.results.map((r: any) => r.status)).toEqual(['ACCEPTED', 'REJECTED', 'REJECTED', 'DUPLICATE']);
    expect(body.results[1].problems[0]).toMatchObject({ field: '[1].data.calls', expected: 'an integer' });
    expect(body.results[2].problems[0]).toMatchObject({ field: '[2].subject' });
  });

  it('takes NDJSON, rejecting only the unreadable line', async () => {
    const lines = [
      JSON.stringify(cloudEvent('n1', { calls: 2 }).toJSON()),
      '{not json',
      JSON.stringify({ ...cloudEvent('n2', { calls: 3 }).toJSON(), specversion: '0.3' }),
    ].join('\n');
    const res = await fetch(eventsUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...auth() },
      body: lines,
    });
    const body = (await res.json()) as any;
    expect(body.results.map((r: any) => r.status)).toEqual(['ACCEPTED', 'REJECTED', 'REJECTED']);
    expect(body.results[1].problems[0]).toMatchObject({ field: '[1]', reason: 'this line is not valid JSON' });
    expect(body.results[2].problems[0]).toMatchObject({ field: '[2].specversion', expected: '"1.0"' });
  });

  it('says which content types it takes, and refuses too many events with the limit', async () => {
    const wrong = await fetch(eventsUrl(), {
      method: 'POST',
      headers: { 'content-type': 'text/csv', ...auth() },
      body: 'a,b',
    });
    expect(wrong.status).toBe(415);
    expect(((await wrong.json()) as any).error).toContain('application/cloudevents-batch+json');
    const many = Array.from({ length: 10_001 }, (_, i) => ({ specversion: '1.0', id: `m${i}`, source: 's', type }));
    const tooMany = await fetch(eventsUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...auth() },
      body: JSON.stringify(many),
    });
    expect(tooMany.status).toBe(413);
    expect(((await tooMany.json()) as any).error).toContain('limit of 10000');
  });
});

describe('properties of ingestion (generated batches)', () => {
  let type: string;
  let customerKey: string;
  let subscriptionId: string;
  beforeAll(async () => {
    type = unique('prop');
    await register({
      key: type,
      unit: 'unit',
      productLine: 'api',
      fields: [
        { name: 'n', type: 'INTEGER', minimum: '0' },
        { name: 'tag', type: 'STRING', required: false },
      ],
      aggregation: { type: 'SUM', field: 'n' },
    });
    ({ customerKey, subscriptionId } = await customerWithPlan('prop', [type]));
  });

  const validEvent = fc.record({
    id: fc.uuid(),
    n: fc.integer({ min: 0, max: 1_000_000 }),
    day: fc.integer({ min: 1, max: 28 }),
    tag: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  });
  // Each invalid event breaks exactly one field; the expected path names it.
  const invalidEvent = fc.oneof(
    fc.record({ id: fc.uuid(), bad: fc.constant('negative') }),
    fc.record({ id: fc.uuid(), bad: fc.constant('fraction') }),
    fc.record({ id: fc.uuid(), bad: fc.constant('unknown-field') }),
    fc.record({ id: fc.uuid(), bad: fc.constant('timestamp') }),
  );
  const toInput = (e: { id: string; n: number; day: number; tag?: string }, source: string) => ({
    id: e.id,
    source,
    type,
    customer: customerKey,
    timestamp: `2026-08-${String(e.day).padStart(2, '0')}T00:00:00Z`,
    data: e.tag === undefined ? { n: e.n } : { n: e.n, tag: e.tag },
  });
  const toBad = (e: { id: string; bad: string }, source: string) => {
    const base = toInput({ id: e.id, n: 1, day: 1 }, source);
    if (e.bad === 'negative') return { input: { ...base, data: { n: -5 } }, path: 'data.n' };
    if (e.bad === 'fraction') return { input: { ...base, data: { n: '1.5' } }, path: 'data.n' };
    if (e.bad === 'unknown-field') return { input: { ...base, data: { n: 1, colour: 'red' } }, path: 'data.colour' };
    return { input: { ...base, timestamp: '2026-08-01' }, path: 'timestamp' };
  };

  it('stores exactly the valid events of a mixed batch, once, and rejects each invalid one at its field', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(validEvent, { maxLength: 15, selector: (e) => e.id }),
        fc.array(invalidEvent, { maxLength: 8 }),
        fc.integer({ min: 0, max: 1000 }),
        async (valid, invalid, seed) => {
          const source = unique('gen');
          const bad = invalid.map((e) => toBad(e, source));
          // Interleave deterministically from the seed.
          const items = [
            ...valid.map((e) => ({ input: toInput(e, source), path: null as string | null })),
            ...bad,
          ].sort((a, b) => ((a.input.id.charCodeAt(0) + seed) % 7) - ((b.input.id.charCodeAt(0) + seed) % 7));
          const uniqueValid = new Set(valid.map((e) => e.id));
          const { ingestUsageEvents: r } = await g.ok(INGEST, { e: items.map((i) => i.input) });
          items.forEach((item, i) => {
            const result = r.results[i];
            if (item.path) {
              expect(result.status).toBe('REJECTED');
              expect(result.problems.map((p: any) => p.field)).toContain(`events[${i}].${item.path}`);
            } else {
              expect(['ACCEPTED', 'DUPLICATE']).toContain(result.status);
            }
          });
          expect(r.accepted).toBe(uniqueValid.size);
          // Replaying the batch stores nothing more.
          const again = (await g.ok(INGEST, { e: items.map((i) => i.input) })).ingestUsageEvents;
          expect(again.accepted).toBe(0);
          const { usageEvents } = await g.ok(
            `query($s: ID!) { usageEvents(filter: { subscriptionId: $s }, first: 500) { nodes { source eventId } } }`,
            { s: subscriptionId },
          );
          const stored = usageEvents.nodes
            .filter((e: any) => e.source === source)
            .map((e: any) => e.eventId)
            .sort();
          expect(stored).toEqual([...uniqueValid].sort());
        },
      ),
      { numRuns: 12 },
    );
  }, 240_000); // generated batches: minutes on a loaded 2-core machine
});

it('pages the usageEvents admin filters through aggregate ids with the results and order of a read of every event', async () => {
  const u = unique('uevf');
  const types = [`${u}_a`, `${u}_b`];
  for (const key of types) {
    const { registerUsageType } = await g.ok(
      `mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { key } }`,
      {
        i: {
          key,
          version: '1.0',
          unit: 'call',
          productLine: 'api',
          fields: [{ name: 'calls', type: 'INTEGER', minimum: '0' }],
          aggregation: { type: 'SUM', field: 'calls' },
        },
      },
    );
    expect(registerUsageType.key).toBe(key);
  }
  // Two subscriptions of one customer (the first ends mid-March), and events under its key and under an alias.
  const first = await customerWithPlan('uevf', types, '2026-01-01T00:00:00Z');
  await g.ok(`mutation($s: ID!) { cancelSubscription(subscriptionId: $s, endsAt: "2026-03-15T00:00:00Z") { id } }`, {
    s: first.subscriptionId,
  });
  const { createSubscription: second } = await g.ok(
    `mutation($k: String!, $p: ID!) { createSubscription(input: { customerExternalKey: $k, pricePlanId: $p, startsAt: "2026-03-15T00:00:00Z" }) { id customer { id } } }`,
    { k: first.customerKey, p: first.planId },
  );
  const alias = `${u}-alias`;
  await g.ok(`mutation($c: ID!, $a: String!) { addCustomerAlias(customerId: $c, alias: $a) { id } }`, {
    c: second.customer.id,
    a: alias,
  });
  const days = ['2026-02-10', '2026-03-02', '2026-03-14', '2026-03-20', '2026-03-31'];
  const events = days.flatMap((day, d) =>
    types.flatMap((type, t) =>
      [first.customerKey, alias].map((customer, c) => ({
        id: `${u}-${d}-${t}-${c}`,
        source: u,
        type,
        customer,
        timestamp: `${day}T12:00:00Z`,
        data: { calls: 1 + d },
      })),
    ),
  );
  const { ingestUsageEvents } = await g.ok(INGEST, { e: events });
  expect(ingestUsageEvents.accepted).toBe(events.length);

  const mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  try {
    const stored = mongo.db(`${process.env.USAGEGRAPH_DB_PREFIX}_usage`).collection<{ _id: string }>('usage_events');
    const filters: Array<Record<string, string>> = [
      { customerKey: first.customerKey, period: '2026-03' },
      { customerKey: alias, period: '2026-03' },
      { customerKey: first.customerKey, period: '2026-03', usageTypeKey: types[1]! },
      { subscriptionId: first.subscriptionId, period: '2026-03' },
      { subscriptionId: second.id, customerKey: alias, period: '2026-03' },
      { subscriptionId: first.subscriptionId, period: '2026-02', usageTypeKey: types[0]! },
      { customerKey: `${u}-nobody`, period: '2026-03' },
      { customerKey: ` ${u}-not-a-key`, period: '2026-03' },
    ];
    for (const filter of filters) {
      const { period, ...fields } = filter;
      const everyEvent = await stored
        .find({ ...fields, ...(period ? { periodKey: period } : {}) })
        .sort({ _id: 1 })
        .toArray();
      const listed: string[] = [];
      let after: string | null = null;
      do {
        const { usageEvents } = (await g.ok(
          `query($f: UsageEventFilter, $a: String) { usageEvents(filter: $f, first: 3, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }`,
          { f: filter, a: after },
        )) as { usageEvents: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string } } };
        listed.push(...usageEvents.nodes.map((n) => n.id));
        after = usageEvents.pageInfo.hasNextPage ? usageEvents.pageInfo.endCursor : null;
      } while (after);
      expect({ filter, listed }).toEqual({ filter, listed: everyEvent.map((e) => e._id) });
    }
    // The March events of the customer's key alone: two subscriptions, two types, four days.
    expect(await stored.countDocuments({ customerKey: first.customerKey, periodKey: '2026-03' })).toBe(8);
  } finally {
    await mongo.close();
  }
  expect(
    firstError(
      await g.raw(
        `{ usageEvents(filter: { customerKey: "x", period: "2026-03" }, after: "nonsense") { nodes { id } } }`,
      ),
    ),
  ).toMatchObject({ extensions: { code: 'VALIDATION_FAILED' } });
});
