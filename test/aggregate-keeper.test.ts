// Issue 11: the aggregate keeper brings aggregates up to date in the background as events arrive, so customerUsage's
// first read of a period folds in nothing or little instead of reading every event. The test system runs with the
// keeper off (a second batch's `late` would otherwise depend on its timing); this file starts one more usage process
// with it on, and sends its events there. A minute (SETTLE_MS) is let pass by moving the aggregate's first-stored time
// back, as the other waits of this suite do, rather than waiting it out.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Filter } from 'mongodb';
import { spawnManaged, type ManagedProcess } from '../runtime/processes';
import { nodeEntryArgs } from '../runtime/system';
import { customerUsage } from '../subgraphs/usage/customer-usage';
import { customerUsageFullRead } from '../subgraphs/usage/customer-usage-full-read';
import { SETTLE_MS } from '../subgraphs/usage/freshness';
import { usageStore, type UsageAggregateDoc, type UsageEventDoc, type UsageStore } from '../subgraphs/usage/store';
import { UsageTypeRegistry } from '../subgraphs/usage/usage-type-registry';
import { client, eventually, subgraphClient, unique } from './support';

const g = client('aggregate-keeper-test');
const u = unique('keep');
const PERIOD = '2026-05';
const TYPE = `${u}_calls`;
const CUSTOMER = `${u}-acme`;
const INGEST = `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted results { status late } } }`;
const USAGE = `query($c: String!, $p: String) { customerUsage(customerKey: $c, period: $p) { usage { usageTypeKey quantity eventCount } } }`;

const work = mkdtempSync(join(tmpdir(), 'usagegraph-keeper-'));
let keeperProcess: ManagedProcess | undefined;
let keeperUsage: ReturnType<typeof subgraphClient>;
let mongo: MongoClient;
let store: UsageStore;
let registry: UsageTypeRegistry;
let subscriptionId = '';

let sequence = 0;
const batch = (count: number) =>
  Array.from({ length: count }, () => {
    const i = sequence++;
    return {
      id: `k${i}`,
      source: `keeper/${u}`,
      type: TYPE,
      customer: CUSTOMER,
      timestamp: `2026-05-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`,
      data: { n: String(1 + (i % 7)), region: i % 2 ? 'eu' : 'us' },
    };
  });
/** Ingested through the process that runs the keeper (it requests the refreshes). */
const send = async (events: unknown[]) => (await keeperUsage.ok(INGEST, { e: events })).ingestUsageEvents;
const aggregate = () => store.aggregates.findOne({ subscriptionId, usageTypeKey: TYPE, periodKey: PERIOD });
const refreshOf = (id: string) => store.refreshes.findOne({ _id: `${id}#later` });
/** No refresh waiting to be worked now (the keeper may have one scheduled for later). */
const nothingDue = async (a: UsageAggregateDoc) => !(await store.refreshes.findOne({ _id: a._id }));

beforeAll(async () => {
  mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  store = usageStore(mongo.db(`${process.env.USAGEGRAPH_DB_PREFIX}_usage`));
  registry = new UsageTypeRegistry(store);
  // The test system's environment (database, secret, addresses), with the keeper on and its release worker idle.
  const env: NodeJS.ProcessEnv = JSON.parse(readFileSync(process.env.USAGEGRAPH_TEST_SYSTEM_ENV_FILE!, 'utf8'));
  const instanceId = `usage.keeper-${randomUUID()}`;
  keeperProcess = spawnManaged('usage.keeper', process.execPath, nodeEntryArgs('subgraphs/usage/main'), {
    env: {
      ...env,
      PORT: '0',
      USAGEGRAPH_INSTANCE_ID: instanceId,
      USAGEGRAPH_RUN_DIR: work,
      USAGE_AGGREGATE_KEEPER_MS: '200',
      USAGE_RELEASE_MS: '3600000',
    },
    logFile: join(work, 'usage.keeper.log'),
  });
  const report = join(work, 'instances', `${instanceId}.json`);
  await eventually('the keeper process to listen', async () => existsSync(report), 120_000);
  const url = `http://127.0.0.1:${(JSON.parse(readFileSync(report, 'utf8')) as { port: number }).port}/graphql`;
  await eventually('the keeper process to be ready', async () => (await fetch(url.replace(/graphql$/, 'ready'))).ok);
  keeperUsage = subgraphClient(url, 'aggregate-keeper-test');

  await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
    i: {
      key: TYPE,
      unit: 'call',
      productLine: 'keeper-test',
      fields: [
        { name: 'n', type: 'DECIMAL' },
        { name: 'region', type: 'STRING', allowedValues: ['eu', 'us'] },
      ],
      dimensions: ['region'],
      aggregation: { type: 'SUM', field: 'n' },
    },
  });
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: { key: `${u}-plan`, name: 'Keeper', currency: 'USD', charges: [{ usageTypeKey: TYPE, unitPrice: '0.01' }] },
  });
  await g.ok(
    `mutation { upsertCustomer(input: { externalKey: "${CUSTOMER}", name: "Acme", currency: "USD" }) { id } }`,
  );
  const { createSubscription } = await g.ok(
    `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${CUSTOMER}", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
    { p: createPricePlan.id },
  );
  subscriptionId = createSubscription.id;
}, 180_000);

afterAll(async () => {
  await keeperProcess?.stop().catch(() => undefined);
  await mongo?.close();
  rmSync(work, { recursive: true, force: true });
});

it('stores, rescans and folds a period’s aggregate in the background, so customerUsage reads no event list', async () => {
  // The first batch finds no aggregate: not late. The keeper stores it without anyone reading it.
  const first = await send(batch(30));
  expect(first.results.filter((r: any) => r.status !== 'ACCEPTED' || r.late)).toEqual([]);
  const stored = await eventually('the keeper to store the aggregate', async () => {
    const a = await aggregate();
    return a?.eventCount === 30 ? a : null;
  });
  // Its second scan is asked for when it can be trusted: SETTLE_MS after it was first stored.
  const waiting = await eventually('the second scan to be asked for', () => refreshOf(stored._id));
  expect(waiting.dueAt).toBe(new Date(stored.firstComputedAt!.getTime() + SETTLE_MS).toISOString());

  // Later events are late (the aggregate exists) and wait for that scan: the keeper leaves the request for it as it is.
  const second = await send(batch(10));
  expect(second.results.filter((r: any) => r.status !== 'ACCEPTED' || !r.late)).toEqual([]);
  await eventually(
    'the keeper to take the batch’s request',
    async () => !(await store.refreshes.findOne({ _id: stored._id })),
  );
  expect((await aggregate())!.eventCount).toBe(30);
  expect((await refreshOf(stored._id))!.dueAt).toEqual(waiting.dueAt);

  // A minute on: the aggregate was first stored SETTLE_MS ago, so its request is due and the keeper rescans it.
  const firstStored = new Date(Date.now() - SETTLE_MS - 1_000);
  await store.aggregates.updateOne({ _id: stored._id }, { $set: { firstComputedAt: firstStored } });
  await store.refreshes.updateOne(
    { _id: `${stored._id}#later` },
    { $set: { dueAt: new Date(firstStored.getTime() + SETTLE_MS).toISOString() } },
  );
  const rescanned = await eventually('the keeper to rescan', async () => {
    const a = await aggregate();
    return a?.eventCount === 40 && (await nothingDue(a)) ? a : null;
  });
  expect(rescanned.computedAt.getTime()).toBeGreaterThanOrEqual(firstStored.getTime() + SETTLE_MS);

  // From now on each batch is folded in by the keeper at once (the scheduled request does not hold it back).
  await send(batch(15));
  await eventually('the keeper to fold in the new events', async () => {
    const a = await aggregate();
    return a?.eventCount === 55 && (await nothingDue(a)) ? a : null;
  });

  // customerUsage through the gateway equals the full read of every event…
  const { customerUsage: viaGateway } = await g.ok(USAGE, { c: CUSTOMER, p: PERIOD });
  const full = await customerUsageFullRead(store, registry, CUSTOMER, PERIOD);
  expect(viaGateway.usage).toEqual(
    full.usage.map((x) => ({ usageTypeKey: x.usageTypeKey, quantity: x.quantity, eventCount: x.eventCount })),
  );
  expect(viaGateway.usage).toEqual([{ usageTypeKey: TYPE, quantity: String(expectedTotal()), eventCount: 55 }]);

  // …and reads no aggregate's event list to get there (the same code, against the same database, reads watched).
  const reads: Array<Filter<UsageEventDoc>> = [];
  const events = Object.create(store.events) as UsageStore['events'];
  events.find = ((filter: Filter<UsageEventDoc>, options?: object) => {
    reads.push(filter);
    return store.events.find(filter, options);
  }) as UsageStore['events']['find'];
  const watched = await customerUsage({ ...store, events }, registry, CUSTOMER, PERIOD, 'aggregate-keeper-test');
  expect(watched.usage.map((x) => [x.quantity, x.eventCount])).toEqual([[String(expectedTotal()), 55]]);
  expect(reads.filter((f) => 'aggregateId' in f)).toEqual([]);
});

/** The sum of n over the events sent: 1 + (i mod 7) for each. */
const expectedTotal = () => Array.from({ length: sequence }, (_, i) => 1 + (i % 7)).reduce((a, b) => a + b, 0);
