// Issue 11: customerUsage reads the stored aggregates (folded forward by the events marked since), and its answer is
// the one a full read of every event gives — per aggregation, across an alias and two subscriptions, with a recurring
// type. The full read (customerUsageFullRead) and rating's recompute run in this process against the same database.
import { MongoClient } from 'mongodb';
import { aggregateId, aggregatesForRating, foldForward } from '../subgraphs/usage/aggregate-usage';
import { customerUsageFullRead } from '../subgraphs/usage/customer-usage-full-read';
import { usageStore, type UsageStore } from '../subgraphs/usage/store';
import { UsageTypeRegistry } from '../subgraphs/usage/usage-type-registry';
import { UsageTally } from '../subgraphs/usage/usage-tally';
import { client, unique } from './support';

const g = client('customer-usage-test');
const u = unique('cu');
const PERIOD = '2026-04';
const INGEST = `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted duplicates results { status late problems { reason } } } }`;
const USAGE = `query($c: String!, $p: String) { customerUsage(customerKey: $c, period: $p) { customerKey period { key } heldEventCount usage { usageTypeKey unit quantity eventCount lastEventAt groups { dimensions { name value } quantity eventCount } } } }`;

// One usage type per aggregation; the unique count and the weighted sum do not merge across subscriptions.
const TYPES = {
  calls: { type: 'SUM', field: 'n' },
  hits: { type: 'COUNT' },
  peak: { type: 'MAX', field: 'n' },
  low: { type: 'MIN', field: 'n' },
  mean: { type: 'AVG', field: 'n' },
  level: { type: 'LATEST', field: 'n' },
  users: { type: 'UNIQUE_COUNT', field: 'user' },
  stored: { type: 'WEIGHTED_SUM', field: 'n' },
  seats: { type: 'UNIQUE_COUNT', field: 'user', recurring: true, operationField: 'op' },
} as const;
const key = (t: keyof typeof TYPES) => `${u}_${t}`;

let mongo: MongoClient;
let store: UsageStore;
let registry: UsageTypeRegistry;
const customer = `${u}-acme`;
const alias = `${u}-acme-telemetry`;
const subscriptions: string[] = [];

let sequence = 0;
const event = (t: keyof typeof TYPES, timestamp: string, data: Record<string, unknown>, who = customer) => ({
  id: `e${sequence++}`,
  source: `cu/${u}`,
  type: key(t),
  customer: who,
  timestamp,
  data: { n: '1', ...data },
});
// Every type gets events from both subscriptions (before and after the 15th) and under both keys.
const batch = (day: number, salt: number) =>
  (Object.keys(TYPES) as Array<keyof typeof TYPES>).flatMap((t, i) => [
    event(t, `2026-04-${String(day).padStart(2, '0')}T0${i}:00:00Z`, {
      n: String(salt * 3 + i),
      user: `user-${(salt + i) % 3}`,
      region: ['eu', 'us'][(salt + i) % 2],
    }),
    event(
      t,
      `2026-04-${String(day + 14).padStart(2, '0')}T0${i}:30:00Z`,
      { n: `${salt + i}.25`, user: `user-${salt % 4}`, ...(t === 'seats' && salt > 1 ? { op: 'remove' } : {}) },
      alias,
    ),
  ]);
const send = async (events: unknown[]) => (await g.ok(INGEST, { e: events })).ingestUsageEvents;

/** customerUsage through the gateway beside the full read of every event, in the API's shape. */
async function bothReads(period = PERIOD) {
  const { customerUsage: viaAggregates } = await g.ok(USAGE, { c: customer, p: period });
  const full = await customerUsageFullRead(store, registry, customer, period);
  return {
    viaAggregates: viaAggregates.usage,
    fullRead: full.usage.map((x) => ({
      usageTypeKey: x.usageTypeKey,
      unit: x.unit,
      quantity: x.quantity,
      eventCount: x.eventCount,
      lastEventAt: x.lastEventAt?.toISOString() ?? null,
      groups: x.groups.map((gr) => ({
        dimensions: Object.entries(gr.dimensions)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([name, value]) => ({ name, value })),
        quantity: gr.quantity,
        eventCount: gr.eventCount,
      })),
    })),
  };
}

beforeAll(async () => {
  mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  store = usageStore(mongo.db(`${process.env.USAGEGRAPH_DB_PREFIX}_usage`));
  registry = new UsageTypeRegistry(store);
  for (const [t, aggregation] of Object.entries(TYPES))
    await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
      i: {
        key: key(t as keyof typeof TYPES),
        unit: t,
        productLine: 'customer-usage-test',
        fields: [
          { name: 'n', type: 'DECIMAL' },
          { name: 'user', type: 'STRING' },
          { name: 'region', type: 'STRING', required: false, allowedValues: ['eu', 'us'] },
          { name: 'op', type: 'STRING', required: false, allowedValues: ['add', 'remove'] },
        ],
        dimensions: ['region'],
        aggregation,
      },
    });
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: {
      key: `${u}-plan`,
      name: 'Usage view',
      currency: 'USD',
      charges: [],
      recurringFees: [{ key: 'base', description: 'Base fee', amount: '10.00' }],
    },
  });
  const { upsertCustomer } = await g.ok(
    `mutation { upsertCustomer(input: { externalKey: "${customer}", name: "Acme", currency: "USD" }) { id } }`,
  );
  await g.ok(`mutation($c: ID!, $a: String!) { addCustomerAlias(customerId: $c, alias: $a) { id } }`, {
    c: upsertCustomer.id,
    a: alias,
  });
  // Two subscriptions in April: the first (from March, so seats carry in) until the 15th, the second from then on.
  for (const [startsAt, endsAt] of [
    ['2026-03-01T00:00:00Z', '2026-04-15T00:00:00Z'],
    ['2026-04-15T00:00:00Z', null],
  ]) {
    const { createSubscription } = await g.ok(
      `mutation($p: ID!, $s: DateTime!, $e: DateTime) { createSubscription(input: { customerExternalKey: "${customer}", pricePlanId: $p, startsAt: $s, endsAt: $e }) { id } }`,
      { p: createPricePlan.id, s: startsAt, e: endsAt },
    );
    subscriptions.push(createSubscription.id);
  }
  const march = [
    event('seats', '2026-03-10T00:00:00Z', { user: 'carried' }),
    event('level', '2026-03-10T00:00:00Z', { user: 'carried' }),
  ];
  expect((await send([...march, ...batch(2, 0), ...batch(5, 1)])).accepted).toBe(march.length + 36);
});

afterAll(async () => {
  await mongo.close();
});

it('answers from the stored aggregates exactly what a full read of every event gives', async () => {
  const cold = await bothReads();
  expect(cold.viaAggregates).toEqual(cold.fullRead);
  expect(cold.viaAggregates.map((x: any) => x.usageTypeKey)).toEqual(
    (Object.keys(TYPES) as Array<keyof typeof TYPES>).map(key).sort(),
  );
  // By hand: calls sums n over both subscriptions and both keys: 0 and 0.25 (salt 0), 3 and 1.25 (salt 1).
  const calls = cold.viaAggregates.find((x: any) => x.usageTypeKey === key('calls'));
  expect(calls).toMatchObject({ quantity: '4.5', eventCount: 4 });
  // Stored for the subscriptions that had events, each with its tally where the aggregation merges.
  const stored = await store.aggregates.find({ subscriptionId: { $in: subscriptions }, periodKey: PERIOD }).toArray();
  expect(stored.filter((a) => a.usageTypeKey === key('calls'))).toHaveLength(2);
  expect(stored.find((a) => a.usageTypeKey === key('mean'))!.tally).toBeDefined();
  expect(stored.find((a) => a.usageTypeKey === key('users'))!.tally).toBeUndefined();
});

it('folds in only the events received since, and stays equal to the full read and to rating’s recompute', async () => {
  const ours = { subscriptionId: { $in: subscriptions }, periodKey: PERIOD };
  const type = (await registry.forAggregation(key('calls')))!;
  // Just stored by its first scan, and foldable at once: every event was marked before it was stored, even those
  // ingested before the aggregate existed, so nothing new is found and it stands as stored.
  const fresh = (await store.aggregates.findOne({ ...ours, usageTypeKey: key('calls') }))!;
  const asStored = await store.locks.run(fresh._id, () => foldForward(store, fresh, type, 'customer-usage-test'));
  expect(asStored).toMatchObject({ eventCount: fresh.eventCount, quantity: fresh.quantity });
  sequence = 2; // the March events took ids 0 and 1: the first batch again gets its ids back
  const resent = batch(2, 0).slice(0, 2); // already stored: DUPLICATE, and never folded in twice
  sequence = 1_000;
  const later = await send([...batch(9, 2), ...batch(12, 3)]);
  expect(later.results.filter((r: any) => r.status !== 'ACCEPTED' || !r.late)).toEqual([]);
  expect((await send(resent)).duplicates).toBe(2);

  // The second subscription's SUM is folded forward (not recomputed): its marks name the two new events (23rd, 26th).
  const before = (await store.aggregates.findOne({
    ...ours,
    subscriptionId: subscriptions[1],
    usageTypeKey: key('calls'),
  }))!;
  const folded = await store.locks.run(before._id, () => foldForward(store, before, type, 'customer-usage-test'));
  expect(folded).toMatchObject({ eventCount: 4, quantity: String(0.25 + 1.25 + 2.25 + 3.25) });

  const warm = await bothReads();
  expect(warm.viaAggregates).toEqual(warm.fullRead);
  expect(warm.viaAggregates.find((x: any) => x.usageTypeKey === key('hits')).eventCount).toBe(8);

  // What is stored now is what rating's recompute from every event gives (persist: false reads them all).
  const stored = await store.aggregates.find(ours).toArray();
  const recomputed = await aggregatesForRating(
    store,
    registry,
    PERIOD,
    stored.map((a) => ({ subscriptionId: a.subscriptionId, usageTypeKeys: [a.usageTypeKey] })),
    'customer-usage-test',
    { persist: false },
  );
  expect(stored.map((a) => [a._id, a.quantity, a.eventCount, a.groups])).toEqual(
    recomputed.map((r) => [r.aggregate._id, r.aggregate.quantity, r.aggregate.eventCount, r.aggregate.groups]),
  );
});

it('answers a customer without usage, and a key nobody has, with no usage', async () => {
  const { customerUsage } = await g.ok(USAGE, { c: `${u}-nobody`, p: PERIOD });
  expect(customerUsage).toMatchObject({ customerKey: `${u}-nobody`, period: { key: PERIOD }, usage: [] });
  // Seats carried from April (the second subscription runs on) still count in June, which has no event.
  const june = await bothReads('2026-06');
  expect(june.viaAggregates).toEqual(june.fullRead);
  expect(june.viaAggregates.map((x: any) => x.usageTypeKey)).toContain(key('seats'));
});

it('counts an event an ingestion stored after checking for its aggregate before it existed, from the event’s mark', async () => {
  // The race: an event is checked (no aggregate yet, so not late) and stored; meanwhile the aggregate's first scan ran
  // without it. Two minutes on, that aggregate is settled — but the event was marked before it was stored, late or not.
  const accepted = await send([event('calls', '2026-07-03T00:00:00Z', { n: '7', user: 'u', region: 'eu' })]);
  expect(accepted.results).toEqual([{ status: 'ACCEPTED', late: false, problems: [] }]);
  const _id = aggregateId(subscriptions[1]!, key('calls'), '2026-07');
  const scannedBefore = new Date(Date.now() - 120_000);
  await store.aggregates.insertOne({
    _id,
    subscriptionId: subscriptions[1]!,
    usageTypeKey: key('calls'),
    periodKey: '2026-07',
    quantity: '0',
    eventCount: 0,
    groups: [],
    lastReceivedAt: null,
    lastEventAt: null,
    computedAt: scannedBefore,
    firstComputedAt: scannedBefore,
    tally: new UsageTally('SUM').stored(),
    countedMarkedEventIds: [],
    correlationId: 'customer-usage-test',
  });
  const marks = await store.staleMarks.find({ aggregateId: _id }).toArray();
  expect(marks.flatMap((m) => m.eventIds ?? [])).toHaveLength(1);
  const request = { subscriptionId: subscriptions[1]!, usageTypeKeys: [key('calls')] };
  const [rated] = await aggregatesForRating(store, registry, '2026-07', [request], 'customer-usage-test');
  expect(rated!.aggregate).toMatchObject({ quantity: '7', eventCount: 1, firstComputedAt: scannedBefore });
});
