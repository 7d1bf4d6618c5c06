// Kafka ingestion against a real Apache Kafka broker (KRaft, one node, started here from the jars Maven resolved into
// the cache): CloudEvents in both modes of the Kafka binding, duplicates, bad records quarantined without blocking their
// partition, lag as a metric, and a consumer killed outright in the middle of 100,000 events storing each exactly once.
// The broker starts once for this file only (about 10–60 s), so the rest of the suite never waits for it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { MongoClient, type Db } from 'mongodb';
import { ensureKafka, startKafka, type RunningKafka } from '../runtime/kafka';
import { spawnManaged, type ManagedProcess } from '../runtime/processes';
import { nodeEntryArgs } from '../runtime/system';
import { aggregateId, eventId } from '../subgraphs/usage/enrichment';
import { client, unique } from './support';

const g = client('kafka-test');
const work = mkdtempSync(join(tmpdir(), 'usagegraph-kafka-test-'));
let broker: RunningKafka;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let mongo: MongoClient;
let usageDb: Db;
const usageType = unique('kafka_calls');
const workers: ManagedProcess[] = [];

beforeAll(async () => {
  const classpath = await ensureKafka((m) => process.stderr.write(`[kafka] ${m}\n`));
  broker = await startKafka(classpath, join(work, 'broker'), join(work, 'kafka.log'));
  kafka = new Kafka({ clientId: 'kafka-test', brokers: [broker.brokers], logLevel: logLevel.ERROR });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
  mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  usageDb = mongo.db(`${process.env.USAGEGRAPH_DB_PREFIX}_usage`);
  await g.ok(
    `mutation { registerUsageType(input: { key: "${usageType}", unit: "call", productLine: "kafka", fields: [{ name: "calls", type: INTEGER }], aggregation: { type: SUM, field: "calls" } }, activate: true) { key } }`,
  );
}, 240_000);

afterAll(async () => {
  for (const w of workers) await w.stop();
  await producer?.disconnect();
  await admin?.disconnect();
  await mongo?.close();
  await broker?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A customer with a subscription from January 2026, so its events are stored (not held). */
async function subscribedCustomer(): Promise<{ key: string; subscriptionId: string }> {
  const key = unique('kcust');
  const { createPricePlan: plan } = await g.ok(
    `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`,
    {
      i: {
        key: unique('kplan'),
        name: 'Kafka',
        currency: 'USD',
        charges: [{ usageTypeKey: usageType, unitPrice: '0.01' }],
      },
    },
  );
  await g.ok(
    `mutation { upsertCustomer(input: { externalKey: "${key}", name: "Kafka ${key}", currency: "USD" }) { id } }`,
  );
  const { createSubscription } = await g.ok(
    `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${key}", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
    { p: plan.id },
  );
  return { key, subscriptionId: createSubscription.id };
}

/** Starts the ingest worker on `topic` as its own process, as the launcher would; resolves with its address. */
async function startWorker(topic: string, group: string): Promise<{ process: ManagedProcess; url: string }> {
  const instanceId = `usage-kafka-${randomUUID()}`;
  const worker = spawnManaged('usage-kafka', process.execPath, nodeEntryArgs('subgraphs/usage/kafka-main'), {
    env: {
      ...process.env,
      PORT: '0',
      USAGEGRAPH_INSTANCE_ID: instanceId,
      USAGEGRAPH_RUN_DIR: work,
      USAGEGRAPH_KAFKA_BROKERS: broker.brokers,
      USAGEGRAPH_KAFKA_TOPICS: topic,
      USAGEGRAPH_KAFKA_GROUP: group,
      LOG_LEVEL: 'info',
    },
    logFile: join(work, `worker-${topic}.log`),
  });
  workers.push(worker);
  const report = join(work, 'instances', `${instanceId}.json`);
  const deadline = Date.now() + 60_000;
  while (!existsSync(report)) {
    if (worker.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`the worker did not start: ${readFileSync(worker.logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const { port } = JSON.parse(readFileSync(report, 'utf8')) as { port: number };
  return { process: worker, url: `http://127.0.0.1:${port}` };
}

/** How far the group has committed, over every partition of the topic. */
async function committed(topic: string, group: string): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const logs = workers.map((w) => `${w.logFile}:\n${readFileSync(w.logFile, 'utf8').slice(-3_000)}`).join('\n');
      throw new Error(`timed out waiting for ${what}; the workers' logs end with:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const ce = (source: string, id: string, customer: string, calls: number) => ({
  specversion: '1.0',
  id,
  source,
  type: usageType,
  subject: customer,
  time: '2026-09-10T10:00:00Z',
  datacontenttype: 'application/json',
  data: { calls },
});
const structured = (event: object) => ({
  headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
  value: JSON.stringify(event),
});
const binary = (event: ReturnType<typeof ce>) => ({
  headers: {
    ce_specversion: '1.0',
    ce_id: event.id,
    ce_source: event.source,
    ce_type: event.type,
    ce_subject: event.subject,
    ce_time: event.time,
    'content-type': 'application/json',
  },
  value: JSON.stringify(event.data),
});

it('ingests structured and binary CloudEvents, deduplicates, and quarantines bad records without blocking', async () => {
  const topic = unique('usage-modes');
  const group = unique('group');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const { key } = await subscribedCustomer();
  const source = `kafka-test/${topic}`;
  const first = ce(source, 'e1', key, 5);
  const invalid = { ...ce(source, 'e-invalid', key, 1), data: { calls: 'many' } };
  await producer.send({
    topic,
    messages: [
      structured(first),
      binary(ce(source, 'e2', key, 7)),
      structured(first), // the same (source, id) again: a duplicate, stored once
      { headers: { 'content-type': 'application/cloudevents+json' }, value: 'not json at all' },
      { value: JSON.stringify(first) }, // neither mode: no ce_ headers, no CloudEvents content type
      structured(invalid),
      binary(ce(source, 'e3', key, 11)), // after the bad ones: the partition went on
    ],
  });
  const worker = await startWorker(topic, group);
  await until('every record to be committed', async () => (await committed(topic, group)) === 7, 90_000);

  const stored = await usageDb
    .collection('usage_events')
    .find({ _id: { $in: ['e1', 'e2', 'e3', 'e-invalid'].map((id) => eventId(source, id)) } as never })
    .toArray();
  expect(stored.map((e) => e.eventId).sort()).toEqual(['e1', 'e2', 'e3']);
  expect(stored.find((e) => e.eventId === 'e2')).toMatchObject({ customerKey: key, value: '7', data: { calls: '7' } });

  const quarantined = await usageDb
    .collection('quarantined_events')
    .find({ $or: [{ 'payload.kafka.topic': topic }, { 'payload.source': source }] })
    .toArray();
  expect(quarantined).toHaveLength(3);
  const reasons = quarantined.flatMap((q) => q.problems.map((p: { field: string; reason: string }) => p));
  expect(reasons).toContainEqual(
    expect.objectContaining({
      field: `kafka:${topic}/0@3`,
      reason: "the record's value (a structured CloudEvent) is not JSON",
    }),
  );
  expect(reasons).toContainEqual(
    expect.objectContaining({
      field: `kafka:${topic}/0@4`,
      reason: expect.stringMatching(/^neither CloudEvents mode/),
    }),
  );
  expect(reasons.some((r) => /calls/.test(r.field))).toBe(true);

  await until(
    'the lag metric to read 0',
    async () =>
      /usagegraph_kafka_consumer_lag\{[^}]*topic="[^"]+"[^}]*\} 0$/m.test(
        await (await fetch(`${worker.url}/metrics`)).text(),
      ),
    30_000,
  );
  const metrics = await (await fetch(`${worker.url}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`usagegraph_kafka_consumer_lag\\{[^}]*topic="${topic}"[^}]*\\} 0`));
  await worker.process.stop();
}, 180_000);

it('stores exactly 100,000 events when the consumer is killed outright in the middle and restarted', async () => {
  const TOTAL = 100_000;
  const topic = unique('usage-crash');
  const group = unique('group');
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const { key, subscriptionId } = await subscribedCustomer();
  const source = `kafka-test/${topic}`;
  for (let start = 0; start < TOTAL; start += 5_000) {
    await producer.send({
      topic,
      messages: Array.from({ length: 5_000 }, (_, i) => ({
        partition: (start + i) % 3,
        ...binary(ce(source, `c${start + i}`, key, 1)),
      })),
    });
  }

  const first = await startWorker(topic, group);
  await until(
    'a third of the events to be committed',
    async () => (await committed(topic, group)) >= TOTAL / 3,
    240_000,
  );
  first.process.child.kill('SIGKILL');
  await first.process.exited;
  const killedAt = await committed(topic, group);
  expect(killedAt).toBeLessThan(TOTAL);

  const second = await startWorker(topic, group);
  await until('every event to be committed', async () => (await committed(topic, group)) === TOTAL, 300_000);
  // Every event of the customer's one aggregate: each of the 100,000 stored once, whatever was read twice.
  const aggregate = aggregateId(subscriptionId, usageType, '2026-09');
  expect(await usageDb.collection('usage_events').countDocuments({ aggregateId: aggregate })).toBe(TOTAL);
  expect(await usageDb.collection('quarantined_events').countDocuments({ 'payload.source': source })).toBe(0);
  await second.process.stop();
}, 600_000);
