// Hostile input against the real system: whatever a producer or client sends is stored as valid usage or rejected
// and quarantined at its field, never reaches the database as an operator, and never ends up in the logs.
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import { subgraphUrl, type SubgraphName } from '../lib/topology';
import { client, eventually, gatewayUrl, keyFor, signedSubgraphRequest, unique } from './support';

const g = client('security-input');
const eventsUrl = () => gatewayUrl().replace(/\/graphql$/, '/v1/events');
const logDir = () => join(process.env.USAGEGRAPH_TEST_DATA_DIR!, 'logs');

const INGEST = `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) {
  accepted duplicates held rejected
  results { index status usageEventId quarantineId exceptionId problems { code field reason expected } } } }`;
const QUARANTINED = `query($id: ID!) { quarantinedEvent(id: $id) {
  id payload payloadText payloadTruncated receivedCount problems { code field reason expected } } }`;

interface EventResult {
  index: number;
  status: 'ACCEPTED' | 'DUPLICATE' | 'HELD' | 'REJECTED';
  usageEventId: string | null;
  quarantineId: string | null;
  exceptionId: string | null;
  problems: Array<{ code: string; field: string; reason: string; expected?: string }>;
}

let type: string;
let customerKey: string;

/** A customer with a subscription to a plan pricing this file's usage type. */
async function customerWithSubscription(prefix: string) {
  const u = unique(prefix);
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: { key: `${u}-plan`, name: 'p', currency: 'USD', charges: [{ usageTypeKey: type, unitPrice: '0.01' }] },
  });
  await g.ok(`mutation { upsertCustomer(input: { externalKey: "${u}-c", name: "c", currency: "USD" }) { id } }`);
  const { createSubscription } = await g.ok(
    `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${u}-c", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
    { p: createPricePlan.id },
  );
  return { customerKey: `${u}-c`, subscriptionId: createSubscription.id as string };
}

beforeAll(async () => {
  type = `${unique('sec')}_calls`;
  await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
    i: {
      key: type,
      unit: 'call',
      productLine: 'api',
      fields: [
        { name: 'calls', type: 'INTEGER', minimum: '0' },
        { name: 'region', type: 'STRING', required: false, allowedValues: ['eu', 'us'] },
      ],
      dimensions: ['region'],
      aggregation: { type: 'SUM', field: 'calls' },
    },
  });
  ({ customerKey } = await customerWithSubscription('sec'));
});

const event = (source: string, id: string, data: unknown = { calls: 1 }, extra: Record<string, unknown> = {}) => ({
  id,
  source,
  type,
  customer: customerKey,
  timestamp: '2026-05-10T10:00:00Z',
  data,
  ...extra,
});

/** `{"a":{"a":…1}}` nested `levels` deep. */
const nested = (levels: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
};

async function ingest(events: unknown[]): Promise<{ status: number; results: EventResult[]; errors: unknown }> {
  const r = await g.raw(INGEST, { e: events });
  return { status: r.status, results: r.data?.ingestUsageEvents?.results ?? [], errors: r.errors };
}

async function postEvents(body: string, contentType: string, headers: Record<string, string> = {}) {
  const res = await fetch(eventsUrl(), {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${keyFor('platform')}`, ...headers },
    body,
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON; the status says enough
  }
  return { status: res.status, json, text };
}

const stored = (source: string, eventId: string) =>
  g.ok(`query($s: String!, $e: String!) { usageEventBySource(source: $s, eventId: $e) { id data customer { id } } }`, {
    s: source,
    e: eventId,
  });

describe('a batch with hostile events', () => {
  const source = unique('hostile');
  // JSON.parse makes "__proto__" an own key, as a producer's JSON would.
  const protoData = JSON.parse('{"calls":1,"__proto__":{"admin":true}}');
  let batch: unknown[];
  let first: EventResult[];
  // Built once the usage type and customer exist (beforeAll above runs before this).
  beforeAll(() => {
    batch = [
      event(source, 'ok-1', { calls: 5 }),
      event(source, 'bad-where', { $where: 'sleep(1000)' }),
      event(source, 'ok-2', { calls: 7, region: 'eu' }),
      event(source, 'bad-dot', { calls: 1, 'a.b': 1 }),
      event(source, 'bad-nul', { calls: 1, 'x\u0000': 1 }),
      event(source, 'bad-operator-value', { calls: { $gt: 0 } }),
      event(source, 'bad-proto', protoData),
      event(source, 'bad-deep', { calls: 1, region: nested(30) }),
      event(source, 'bad\u0000id'),
      event(source, 'bad-string-data', 'calls=1'),
      event(source, 'ok-3', { calls: 11 }),
      event(source, 'bad-array-data', [1, 2, 3]),
      event(source, 'bad-customer', { calls: 1 }, { customer: '\u0007bell' }),
    ];
  });
  const expectedField: Record<number, string> = {
    1: 'events[1].data["$where"]',
    3: 'events[3].data["a.b"]',
    4: 'events[4].data["x\\u0000"]',
    5: 'events[5].data.calls["$gt"]',
    6: 'events[6].data.__proto__',
    // The event is level 1, data 2, region 3: the first level past 16 is 14 "a"s down.
    7: `events[7].data.region${'.a'.repeat(14)}`,
    8: 'events[8].id',
    9: 'events[9].data',
    11: 'events[11].data',
    12: 'events[12].customer',
  };

  it('stores the valid events and quarantines each bad one at its field, with no internal error', async () => {
    const r = await ingest(batch);
    expect(r.errors).toBeUndefined();
    expect(r.status).toBe(200);
    first = r.results;
    expect(first.map((x) => x.status)).toEqual(
      batch.map((_, i) => (expectedField[i] === undefined ? 'ACCEPTED' : 'REJECTED')),
    );
    for (const [i, field] of Object.entries(expectedField)) {
      const result = first[Number(i)]!;
      expect(result.problems.map((p) => p.field)).toContain(field);
      expect(result.quarantineId).toMatch(/^qev_/);
    }
    expect((await stored(source, 'ok-2')).usageEventBySource.data).toEqual({ calls: '7', region: 'eu' });
    for (const id of ['ok-1', 'ok-3']) expect((await stored(source, id)).usageEventBySource).not.toBeNull();
  });

  it('keeps each rejected payload exactly as sent, with its problems', async () => {
    for (const i of [1, 4, 6, 7]) {
      const { quarantinedEvent: q } = await g.ok(QUARANTINED, { id: first[i]!.quarantineId });
      expect(JSON.parse(q.payloadText)).toEqual(batch[i]);
      expect(q.payloadTruncated).toBe(false);
      expect(q.problems.map((p: any) => p.field)).toContain(expectedField[i]);
    }
    const { quarantinedEvent: where } = await g.ok(QUARANTINED, { id: first[1]!.quarantineId });
    expect(where.payload).toEqual(batch[1]);
  });

  it('answers a replay of the same batch with DUPLICATE for the stored events and the same quarantine entries', async () => {
    const again = await ingest(batch);
    expect(again.errors).toBeUndefined();
    again.results.forEach((r, i) => {
      if (expectedField[i] === undefined) {
        expect(r.status).toBe('DUPLICATE');
        expect(r.usageEventId).toBe(first[i]!.usageEventId);
      } else {
        expect(r.status).toBe('REJECTED');
        expect(r.quarantineId).toBe(first[i]!.quarantineId);
      }
    });
    const { quarantinedEvent: q } = await g.ok(QUARANTINED, { id: first[3]!.quarantineId });
    expect(q.receivedCount).toBe(2);
  });

  it('counts a retried batch of 300 rejected events again, without stalling the database', async () => {
    const retried = Array.from({ length: 300 }, (_, i) => event(source, `retry-${i}`, { calls: 1, [`$k${i}`]: i }));
    const once = await ingest(retried);
    const twice = await ingest(retried);
    expect(twice.errors).toBeUndefined();
    expect(twice.results.map((r) => r.quarantineId)).toEqual(once.results.map((r) => r.quarantineId));
    const { quarantinedEvent: q } = await g.ok(QUARANTINED, { id: twice.results[299]!.quarantineId });
    expect(q.receivedCount).toBe(2);
  });

  it('replays quarantined events stored as text: fixed ones flow on, hostile ones are rejected again', async () => {
    const later = `${type}_later`;
    const pending = event(source, 'waits-for-type', { calls: 3 }, { type: later });
    const [waiting] = (await ingest([pending])).results;
    expect(waiting!.problems[0]!.code).toBe('USAGE_TYPE_UNKNOWN');
    await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
      i: {
        key: later,
        unit: 'call',
        productLine: 'api',
        fields: [{ name: 'calls', type: 'INTEGER' }],
        aggregation: { type: 'SUM', field: 'calls' },
      },
    });
    const { replayQuarantinedEvents } = await g.ok(
      `mutation($ids: [ID!]!) { replayQuarantinedEvents(ids: $ids) { quarantineId status usageEventId problems { field } } }`,
      { ids: [waiting!.quarantineId, first[1]!.quarantineId, first[4]!.quarantineId] },
    );
    expect(replayQuarantinedEvents.map((r: any) => r.status)).toEqual(['ACCEPTED', 'REJECTED', 'REJECTED']);
    expect(replayQuarantinedEvents[1].problems.map((p: any) => p.field)).toEqual(['events[1].data["$where"]']);
    expect((await stored(source, 'waits-for-type')).usageEventBySource.data).toEqual({ calls: '3' });
  });
});

describe('an oversized event', () => {
  it('is REJECTED naming the limit, kept cut at the limit, and cannot be replayed', async () => {
    const source = unique('oversized');
    const { results, errors } = await ingest([
      event(source, 'big', { calls: 1, region: 'x'.repeat(100_000) }),
      event(source, 'small'),
    ]);
    expect(errors).toBeUndefined();
    expect(results.map((r) => r.status)).toEqual(['REJECTED', 'ACCEPTED']);
    const size = results[0]!.problems.find((p) => p.field === 'events[0]')!;
    expect(size).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(size.reason).toMatch(/more than 65,536 bytes/);
    expect(size.expected).toMatch(/limit maxEventBytes/);
    expect(results[0]!.problems).toContainEqual(
      expect.objectContaining({ field: 'events[0].data.region', code: 'LIMIT_EXCEEDED' }),
    );
    const { quarantinedEvent: q } = await g.ok(QUARANTINED, { id: results[0]!.quarantineId });
    expect(q.payloadTruncated).toBe(true);
    expect(q.payloadText).toHaveLength(65_536);
    const { replayQuarantinedEvents } = await g.ok(
      `mutation($ids: [ID!]!) { replayQuarantinedEvents(ids: $ids) { status problems { code reason } } }`,
      { ids: [results[0]!.quarantineId] },
    );
    expect(replayQuarantinedEvents[0]).toMatchObject({ status: 'REJECTED', problems: [{ code: 'LIMIT_EXCEEDED' }] });
  });

  it('nested beyond what a request may carry is refused as a whole with a clear limit, not an internal error', async () => {
    const query = JSON.stringify({ query: INGEST, variables: { e: [event('deep', 'deep', '__DEEP__')] } }).replace(
      '"__DEEP__"',
      '['.repeat(10_000) + ']'.repeat(10_000),
    );
    const res = await fetch(gatewayUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keyFor('platform')}` },
      body: query,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
  });
});

describe('POST /v1/events with hostile CloudEvents', () => {
  const source = unique('ce-hostile');
  const ce = (id: unknown, data: unknown, extra: Record<string, unknown> = {}) => ({
    specversion: '1.0',
    id,
    source,
    type,
    subject: customerKey,
    time: '2026-05-11T10:00:00Z',
    data,
    ...extra,
  });

  it('answers a batch of odd types and operator keys per event, storing the valid ones', async () => {
    const batch = [
      ce('ce-ok-1', { calls: 2 }),
      ce('ce-gt', { $gt: '' }),
      ce({ $ne: 1 }, { calls: 1 }),
      ce(5, null, { source: ['x'], type: 7, subject: null, time: false }),
      null,
      5,
      'a string',
      [],
      ce('ce-deep', { calls: 1, x: JSON.parse('['.repeat(2_000) + ']'.repeat(2_000)) }),
      ce('ce-ok-2', { calls: 3 }),
    ];
    const { status, json } = await postEvents(JSON.stringify(batch), 'application/cloudevents-batch+json');
    expect(status).toBe(200);
    const statuses = json.results.map((r: EventResult) => r.status);
    expect(statuses).toEqual(batch.map((_, i) => (i === 0 || i === 9 ? 'ACCEPTED' : 'REJECTED')));
    for (const r of json.results as EventResult[]) if (r.status === 'REJECTED') expect(r.quarantineId).toMatch(/^qev_/);
    expect(json.results[1].problems[0].field).toBe('[1].data["$gt"]');
    expect(json.results[2].problems[0].field).toBe('[2].id["$ne"]');
    expect(json.results[8].problems[0].code).toBe('LIMIT_EXCEEDED');
    // Every entry can be read back, a bare null included (items that are not CloudEvents are kept as they came).
    for (const i of [2, 3, 4, 5, 6, 7, 8]) {
      const { quarantinedEvent: q } = await g.ok(QUARANTINED, { id: json.results[i].quarantineId });
      expect(q.payload).toBeDefined();
      if (i >= 4 && i <= 7) expect(JSON.parse(q.payloadText)).toEqual(batch[i]);
    }
    expect((await stored(source, 'ce-ok-2')).usageEventBySource).not.toBeNull();
  });

  it('answers structured, binary and NDJSON requests with hostile content per event, never with a 5xx', async () => {
    const structured = await postEvents(
      JSON.stringify(ce('ce-proto', JSON.parse('{"__proto__":{"calls":1}}'))),
      'application/cloudevents+json',
    );
    expect(structured.status).toBe(200);
    expect(structured.json.results[0]).toMatchObject({
      status: 'REJECTED',
      problems: [{ field: '[0].data.__proto__' }],
    });

    const binary = await postEvents('calls=1 (not JSON)', 'text/plain', {
      'ce-specversion': '1.0',
      'ce-id': 'ce-binary',
      'ce-source': source,
      'ce-type': type,
      'ce-subject': customerKey,
      'ce-time': '2026-05-11T10:00:00Z',
    });
    expect(binary.status).toBe(200);
    expect(binary.json.results[0]).toMatchObject({ status: 'REJECTED', problems: [{ field: '[0].data' }] });

    const ndjson = [
      JSON.stringify(ce('ce-nd-ok', { calls: 4 })),
      '{"specversion": "1.0", "id": broken',
      JSON.stringify(ce('ce-nd-inc', { $inc: { calls: 1 } })),
    ].join('\n');
    const lines = await postEvents(ndjson, 'application/x-ndjson');
    expect(lines.status).toBe(200);
    expect(lines.json.results.map((r: EventResult) => r.status)).toEqual(['ACCEPTED', 'REJECTED', 'REJECTED']);

    const notJson = await postEvents('{"specversion":', 'application/cloudevents-batch+json');
    expect(notJson.status).toBe(400);
  });
});

describe('_entities sent straight to a subgraph', () => {
  const entities: Array<[SubgraphName, string]> = [
    ['usage', 'UsageEvent'],
    ['subscriptions', 'Customer'],
    ['pricing', 'PricePlan'],
    ['invoices', 'Invoice'],
    ['erp-postings', 'ErpPosting'],
  ];
  const entitiesQuery = (typename: string, fields: string) =>
    `query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on ${typename} { ${fields} } } }`;
  // Signed as another subgraph would sign it: the check holds even for a caller inside the trust boundary.
  const post = async (name: SubgraphName, query: string, variables: Record<string, unknown>) =>
    (await (await signedSubgraphRequest(subgraphUrl(name), query, { variables })).json()) as {
      data?: any;
      errors?: any[];
    };

  it.each(entities)('%s refuses a %s key that is an operator object, and returns no document', async (name, t) => {
    const body = await post(name, entitiesQuery(t, 'id'), {
      r: [
        { __typename: t, id: { $ne: null } },
        { __typename: t, id: { $regex: '^' } },
        { __typename: t, id: { $gt: '' } },
      ],
    });
    expect(body.data?._entities ?? null).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0].extensions.code).toBe('VALIDATION_FAILED');
    expect(body.errors![0].extensions.problems.map((p: any) => p.field)).toEqual([
      'representations[0].id',
      'representations[1].id',
      'representations[2].id',
    ]);
    expect(body.errors![0].extensions.problems[0].reason).toBe('must be a string (ID), not an object');
  });

  it('still resolves a representation with a real key', async () => {
    const source = unique('entity');
    const [r] = (await ingest([event(source, 'e1', { calls: 2 })])).results;
    const body = await post('usage', entitiesQuery('UsageEvent', 'id eventId'), {
      r: [{ __typename: 'UsageEvent', id: r!.usageEventId }],
    });
    expect(body.errors).toBeUndefined();
    expect(body.data._entities).toEqual([{ __typename: 'UsageEvent', id: r!.usageEventId, eventId: 'e1' }]);
  });

  it('gets no operator into a String argument either: GraphQL refuses the object before any resolver', async () => {
    const r = await g.raw(`query($s: String!, $e: String!) { usageEventBySource(source: $s, eventId: $e) { id } }`, {
      s: { $ne: null },
      e: { $ne: null },
    });
    expect(r.data?.usageEventBySource ?? null).toBeNull();
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });
});

describe('every customer key an event may carry can be mapped to a customer', () => {
  it('releases an event held under an e-mail-like key once that alias is added', async () => {
    const u = unique('alias');
    const alias = `ops+${u}@acme.example`;
    const source = unique('aliased');
    const { results } = await ingest([event(source, 'held-1', { calls: 9 }, { customer: alias })]);
    expect(results[0]).toMatchObject({ status: 'HELD', problems: [{ code: 'CUSTOMER_UNKNOWN' }] });
    const { upsertCustomer } = await g.ok(
      `mutation { upsertCustomer(input: { externalKey: "${u}-billing", name: "Acme ops", currency: "USD" }) { id } }`,
    );
    const { createPricePlan } = await g.ok(
      `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`,
      {
        i: { key: `${u}-plan`, name: 'p', currency: 'USD', charges: [{ usageTypeKey: type, unitPrice: '0.01' }] },
      },
    );
    await g.ok(
      `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${u}-billing", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
      { p: createPricePlan.id },
    );
    const { addCustomerAlias } = await g.ok(
      `mutation($c: ID!, $a: String!) { addCustomerAlias(customerId: $c, alias: $a) { id aliases } }`,
      { c: upsertCustomer.id, a: alias },
    );
    expect(addCustomerAlias.aliases).toContain(alias);
    const released = await eventually('the held event to be released', async () => {
      const e = (await stored(source, 'held-1')).usageEventBySource;
      return e?.customer?.id === upsertCustomer.id && e;
    });
    expect(released.data).toEqual({ calls: '9' });
    // The release stores the event, then empties the hold, then resolves the exception: resolved a moment later.
    const usageException = await eventually('the exception to be resolved', async () => {
      const { usageException: x } = await g.ok(
        `query($id: ID!) { usageException(id: $id) { status heldEventCount } }`,
        { id: results[0]!.exceptionId },
      );
      return x.status === 'RESOLVED' && x;
    });
    expect(usageException).toEqual({ status: 'RESOLVED', heldEventCount: 0 });
  });

  it('refuses the same keys everywhere: an event cannot carry a key no customer or alias could have', async () => {
    const bad = `ops\u0007@acme.example`;
    const { results } = await ingest([event(unique('badkey'), 'k1', { calls: 1 }, { customer: bad })]);
    expect(results[0]).toMatchObject({ status: 'REJECTED', problems: [{ field: 'events[0].customer' }] });
    const { customers } = await g.ok(`{ customers(first: 1) { nodes { id } } }`);
    const alias = await g.raw(`mutation($c: ID!, $a: String!) { addCustomerAlias(customerId: $c, alias: $a) { id } }`, {
      c: customers.nodes[0].id,
      a: bad,
    });
    expect(alias.errors![0]!.extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'alias' });
    const customer = await g.raw(
      `mutation($k: String!) { upsertCustomer(input: { externalKey: $k, name: "x", currency: "USD" }) { id } }`,
      {
        k: bad,
      },
    );
    expect(customer.errors![0]!.extensions!.code).toBe('VALIDATION_FAILED');
    const email = await g.ok(
      `mutation { upsertCustomer(input: { externalKey: "${unique('billing')}@acme.example", name: "x", currency: "USD" }) { id } }`,
    );
    expect(email.upsertCustomer.id).toMatch(/^cus_/);
  });
});

/** Every file under the log folder, with its mode. */
function logFiles(dir = logDir()): Array<{ path: string; mode: number; isDir: boolean }> {
  const out: Array<{ path: string; mode: number; isDir: boolean }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    out.push({ path, mode: s.mode & 0o777, isDir: s.isDirectory() });
    if (s.isDirectory()) out.push(...logFiles(path));
  }
  return out;
}

describe('logs', () => {
  it('are private and hold no value of a rejected event, whatever path it came by', async () => {
    const marker = `MARKER${randomBytes(6).toString('hex')}`;
    const source = unique('marker');
    await ingest([
      event(source, 'm1', { calls: 1, note: marker }),
      event(source, 'm2', { [`${marker}.key`]: 1, $where: marker }),
      event(source, `m3\u0000${marker}`),
      event(source, 'm4', { calls: 1, region: `${marker}${'x'.repeat(70_000)}` }),
      event(source, 'm5', { calls: marker }),
    ]);
    await postEvents(
      [
        `{"specversion":"1.0","id":"${marker}`,
        JSON.stringify({ specversion: '1.0', id: 'm6', data: { [marker]: 1 } }),
      ].join('\n'),
      'application/x-ndjson',
    );
    await signedSubgraphRequest(
      subgraphUrl('usage'),
      'query($r: [_Any!]!) { _entities(representations: $r) { __typename } }',
      { variables: { r: [{ __typename: 'UsageEvent', id: { $regex: marker } }] } },
    );
    // A credential that is wrong is refused; it is not written down either.
    const refused = await fetch(gatewayUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ugk_${marker}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(refused.status).toBe(401);
    await new Promise((r) => setTimeout(r, 1_000)); // log lines reach their files asynchronously
    const files = logFiles();
    expect(files.filter((f) => !f.isDir).length).toBeGreaterThanOrEqual(7);
    for (const f of files) expect([f.path, f.mode.toString(8)]).toEqual([f.path, f.isDir ? '700' : '600']);
    for (const f of files.filter((x) => !x.isDir))
      expect([f.path, readFileSync(f.path, 'utf8').includes(marker)]).toEqual([f.path, false]);
  });

  it('get a handful of lines, not one per entry, for a list argument of 200,000 keys', async () => {
    const correlationId = `sec-200k-${randomBytes(4).toString('hex')}`;
    const keys = Array.from({ length: 200_000 }, (_, i) => `k${i}-`.padEnd(100, 'x'));
    // Where the 273 MB were written: the subscriptions subgraph, asked as the usage subgraph asks it (the field is
    // internal, so the gateway does not offer it).
    const response = await signedSubgraphRequest(
      subgraphUrl('subscriptions'),
      `query($k: [String!]!) { customersByExternalKeys(externalKeys: $k) { id } }`,
      { variables: { k: keys }, correlationId },
    );
    const r = (await response.json()) as { data?: any; errors?: unknown };
    expect(r.errors).toBeUndefined();
    expect(r.data.customersByExternalKeys).toHaveLength(200_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lines = logFiles()
      .filter((f) => !f.isDir)
      .flatMap((f) => readFileSync(f.path, 'utf8').split('\n'))
      .filter((line) => line.includes(correlationId));
    expect(lines.length).toBeLessThan(10);
  }, 120_000);
});

describe('property: thousands of generated hostile events mixed with valid ones and duplicates', () => {
  const HOSTILE_KEYS = ['$where', '$gt', '$ne', '$', 'a.b', '.', 'x\u0000y', '\u0000', '__proto__', '', 'calls.$'];
  const HOSTILE_STRINGS = [
    '',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udc00',
    ' padded ',
    '\u0007',
    '$where',
    '{"$ne":null}',
    'x'.repeat(300),
  ];
  const hostileString = fc.oneof(
    fc.constantFrom(...HOSTILE_STRINGS),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ maxLength: 20 }).map((s) => `\u0000${s}`),
  );
  const hostileKey = fc.oneof(
    fc.constantFrom(...HOSTILE_KEYS),
    fc.string({ maxLength: 8 }).map((s) => `$${s}`),
  );
  const nonNullJson = fc.jsonValue({ maxDepth: 3 }).filter((v) => v !== null);
  const hostileData = fc.oneof(
    fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 4 }),
    fc.record({
      calls: fc.oneof(fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 1 }), { minKeys: 1 }), nonNullJson),
    }),
    fc.integer({ min: 17, max: 40 }).map((n) => ({ calls: 1, region: nested(n) })),
    // Over the string limit; events over the size limit have their own test (each keeps 64 KiB in quarantine).
    fc.integer({ min: 8_193, max: 12_000 }).map((n) => ({ calls: 1, region: 'r'.repeat(n) })),
    fc.integer({ min: 1_001, max: 3_000 }).map((n) => ({ calls: new Array(n).fill(1) })),
    fc
      .integer({ min: 257, max: 600 })
      .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
    nonNullJson,
  );
  const ENVELOPE = ['id', 'source', 'type', 'typeVersion', 'customer', 'timestamp'] as const;
  type Spec =
    | { kind: 'valid'; calls: number; region: 'eu' | 'us' | null; day: number }
    | { kind: 'duplicate' | 'conflict'; pick: number }
    | { kind: 'hostile-data'; data: unknown }
    | { kind: 'hostile-envelope'; field: (typeof ENVELOPE)[number]; value: string }
    | { kind: 'odd-type'; field: string; value: unknown };
  const spec: fc.Arbitrary<Spec> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('valid' as const),
        calls: fc.nat(1_000),
        region: fc.constantFrom('eu' as const, 'us' as const, null),
        day: fc.integer({ min: 1, max: 28 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constantFrom('duplicate' as const, 'conflict' as const), pick: fc.nat() }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('hostile-data' as const), data: hostileData }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('hostile-envelope' as const),
        field: fc.constantFrom(...ENVELOPE),
        value: hostileString,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('odd-type' as const),
        field: fc.constantFrom('id', 'source', 'type', 'subject', 'time', 'data', 'specversion', 'usagetypeversion'),
        value: fc.jsonValue({ maxDepth: 2 }),
      }),
    },
  );

  it('loses no event, stores none twice and never answers an internal error', async () => {
    const own = await customerWithSubscription('prop');
    const source = unique('prop');
    const ev = (id: string, data: unknown = { calls: 1 }, extra: Record<string, unknown> = {}) =>
      event(source, id, data, { customer: own.customerKey, ...extra });
    const pool: Array<Record<string, unknown>> = []; // valid events sent so far, for duplicates and conflicts
    const storedIds = new Set<string>();
    const quarantined = new Map<string, number>(); // quarantine id → rejections answered with it
    const accepted = new Map<string, { count: number; calls: bigint }>(); // by period
    const figures = { sent: 0, stored: 0, duplicates: 0, held: 0, quarantined: 0, internalErrors: 0, batches: 0 };
    let serial = 0;
    const started = Date.now();

    const toCloudEvent = (e: Record<string, unknown>) => ({
      specversion: '1.0',
      id: e.id,
      source: e.source,
      type: e.type,
      subject: e.customer,
      time: e.timestamp,
      ...(e.typeVersion !== undefined ? { usagetypeversion: e.typeVersion } : {}),
      data: e.data,
    });
    const materialize = (s: Spec, viaCloudEvents: boolean): Record<string, unknown> => {
      const n = serial++;
      switch (s.kind) {
        case 'valid': {
          const data = s.region ? { calls: s.calls, region: s.region } : { calls: s.calls };
          const e = ev(`v-${n}`, data, { timestamp: `2026-05-${String(s.day).padStart(2, '0')}T08:00:00Z` });
          pool.push(e);
          return e;
        }
        case 'duplicate':
          return pool.length ? pool[s.pick % pool.length]! : ev(`v-${n}`);
        case 'conflict': {
          const e = pool.length ? pool[s.pick % pool.length]! : ev(`v-${n}`);
          return { ...e, data: { calls: Number((e.data as { calls: number }).calls) + 1 } };
        }
        case 'hostile-data':
          return ev(`h-${n}`, s.data);
        case 'hostile-envelope':
          return { ...ev(`h-${n}`), [s.field]: s.value };
        case 'odd-type':
          // Only JSON can carry a number where a string belongs; GraphQL refuses such a request by its types.
          return viaCloudEvents ? { ...toCloudEvent(ev(`h-${n}`)), [s.field]: s.value } : ev(`v-${n}`);
      }
    };

    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { minLength: 500, maxLength: 560 }),
        fc.boolean(),
        async (specs, viaCloudEvents) => {
          const sent = specs.map((s) => materialize(s, viaCloudEvents));
          let results: EventResult[];
          if (viaCloudEvents) {
            const body = sent.map((e) => ('specversion' in e ? e : toCloudEvent(e)));
            const r = await postEvents(JSON.stringify(body), 'application/cloudevents-batch+json');
            if (r.status >= 500 || r.json?.code === 'INTERNAL_SERVER_ERROR') figures.internalErrors++;
            expect(r.status).toBe(200);
            results = r.json.results;
          } else {
            const r = await ingest(sent);
            if (r.status >= 500 || JSON.stringify(r.errors ?? []).includes('INTERNAL_SERVER_ERROR'))
              figures.internalErrors++;
            expect(r.errors).toBeUndefined();
            results = r.results;
          }
          figures.batches++;
          figures.sent += sent.length;
          expect(results).toHaveLength(sent.length);
          results.forEach((r, i) => {
            if (r.status === 'ACCEPTED') {
              expect(storedIds.has(r.usageEventId!)).toBe(false); // never stored twice
              storedIds.add(r.usageEventId!);
              const e = sent[i]!;
              const period = new Date(String(e.timestamp ?? e.time)).toISOString().slice(0, 7);
              const sum = accepted.get(period) ?? { count: 0, calls: 0n };
              accepted.set(period, {
                count: sum.count + 1,
                calls: sum.calls + BigInt(String((e.data as { calls: unknown }).calls)),
              });
              figures.stored++;
            } else if (r.status === 'DUPLICATE') {
              expect(storedIds.has(r.usageEventId!)).toBe(true);
              figures.duplicates++;
            } else if (r.status === 'HELD') {
              expect(r.usageEventId).toMatch(/^evt_/);
              expect(r.exceptionId).toMatch(/^uex_/);
              figures.held++;
            } else {
              expect(r.status).toBe('REJECTED');
              expect(r.quarantineId).toMatch(/^qev_/);
              expect(r.problems.length).toBeGreaterThan(0);
              quarantined.set(r.quarantineId!, (quarantined.get(r.quarantineId!) ?? 0) + 1);
              figures.quarantined++;
            }
          });
        },
      ),
      { numRuns: 20, endOnFailure: true },
    );

    const sending = (Date.now() - started) / 1000;
    // Stored: every accepted event counts once, with its value, in its period's aggregate (the customer is this test's).
    for (const [period, sum] of accepted) {
      const { aggregateUsage } = await g.ok(
        `mutation($s: ID!, $p: String!, $k: [String!]!) { aggregateUsage(subscriptionId: $s, period: $p, usageTypeKeys: $k) { quantity eventCount } }`,
        { s: own.subscriptionId, p: period, k: [type] },
      );
      expect(aggregateUsage[0]).toMatchObject({ eventCount: sum.count, quantity: String(sum.calls) });
    }
    // Quarantined: every rejection is in an entry that counted it, read from the usage database itself (thousands of
    // entries: one indexed `$in` per 1,000 instead of a GraphQL lookup each).
    const mongo = await MongoClient.connect(process.env.MONGODB_URI!);
    try {
      const entries = mongo
        .db(`${process.env.USAGEGRAPH_DB_PREFIX}_usage`)
        .collection<{ _id: string; receivedCount: number }>('quarantined_events');
      const ids = [...quarantined.keys()];
      const counted = new Map<string, number>();
      for (let i = 0; i < ids.length; i += 1_000)
        for (const q of await entries
          .find({ _id: { $in: ids.slice(i, i + 1_000) } }, { projection: { receivedCount: 1 } })
          .toArray())
          counted.set(q._id, q.receivedCount);
      expect(counted).toEqual(quarantined);
    } finally {
      await mongo.close();
    }
    process.stdout.write(
      `hostile-input property: ${figures.sent} events in ${figures.batches} batches: ${figures.stored} stored, ` +
        `${figures.duplicates} duplicates, ${figures.held} held, ${figures.quarantined} quarantined ` +
        `(${quarantined.size} entries), ${figures.internalErrors} internal errors, ` +
        `${sending.toFixed(1)}s sending, ${((Date.now() - started) / 1000 - sending).toFixed(1)}s checking\n`,
    );
    expect(figures.internalErrors).toBe(0);
    expect(figures.sent).toBeGreaterThanOrEqual(10_000);
    expect(figures.stored + figures.duplicates + figures.held + figures.quarantined).toBe(figures.sent);
  }, 180_000);
});
