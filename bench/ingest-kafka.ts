// `npm run bench:ingest:kafka`: the same number of usage events (100,000 by default) through Kafka — produced to a
// topic of a local KRaft broker, consumed by the usage-kafka worker in its consumer group — and through the direct path
// (POST /v1/events at the gateway, two senders, batches of 1,000), in the same run on the same system. Prints events/s
// for both and their ratio (the aim is ≥ 0.8).
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { mustGraphql } from '../runtime/graph-client';
import { fmt, freshSystem } from './support';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 100_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1_000);
const CUSTOMERS = 50;
const TOPIC = 'bench-usage';

const event = (source: string, i: number) => ({
  specversion: '1.0',
  id: `e${i}`,
  source,
  type: 'bench_calls',
  subject: `bench-${i % CUSTOMERS}`,
  time: `2026-10-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`,
  data: { calls: 1 + (i % 5) },
});

async function main(): Promise<void> {
  console.log(
    `bench:ingest:kafka — ${fmt(TOTAL)} events each way, ${CUSTOMERS} customers; machine: ${require('node:os').cpus().length} cores`,
  );
  const { system, credential, cleanup } = await freshSystem('ingest-kafka', {
    USAGEGRAPH_KAFKA_BROKERS: 'embedded',
    USAGEGRAPH_KAFKA_TOPICS: TOPIC,
  });
  const mongo = await MongoClient.connect(system.mongoUri);
  try {
    const gql = <T = any>(q: string, v: Record<string, unknown> = {}) =>
      mustGraphql<T>(system.gatewayUrl, q, v, { correlationId: 'bench-ingest-kafka', credential });
    await gql(
      `mutation { registerUsageType(input: { key: "bench_calls", unit: "call", productLine: "api", fields: [{ name: "calls", type: INTEGER }], aggregation: { type: SUM, field: "calls" } }, activate: true) { id } }`,
    );
    const { createPricePlan } = await gql(
      `mutation { createPricePlan(input: { key: "bench", name: "bench", currency: "USD", charges: [{ usageTypeKey: "bench_calls", unitPrice: "0.001" }] }) { id } }`,
    );
    for (let c = 0; c < CUSTOMERS; c++) {
      await gql(
        `mutation { upsertCustomer(input: { externalKey: "bench-${c}", name: "Bench ${c}", currency: "USD" }) { id } }`,
      );
      await gql(
        `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "bench-${c}", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
        { p: createPricePlan.id },
      );
    }
    const events = mongo.db(`${system.dbPrefix}_usage`).collection('usage_events');
    const stored = (source: string) => events.countDocuments({ source });

    // Direct: two senders post batches to the gateway's bulk endpoint.
    const direct = 'bench/direct';
    const directStarted = Date.now();
    let next = 0;
    const sender = async () => {
      for (let b = next++; b * BATCH < TOTAL; b = next++) {
        const batch = Array.from({ length: Math.min(BATCH, TOTAL - b * BATCH) }, (_, i) =>
          event(direct, b * BATCH + i),
        );
        const res = await fetch(system.gatewayUrl.replace(/\/graphql$/, '/v1/events'), {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents-batch+json', authorization: `Bearer ${credential}` },
          body: JSON.stringify(batch),
        });
        if (!res.ok) throw new Error(`direct batch ${b}: HTTP ${res.status} ${await res.text()}`);
      }
    };
    await Promise.all([sender(), sender()]);
    const directSeconds = (Date.now() - directStarted) / 1000;
    if ((await stored(direct)) !== TOTAL) throw new Error('the direct path did not store every event');

    // Kafka: produce every event (structured mode) and wait until the worker has stored the last one.
    const kafka = new Kafka({ clientId: 'bench', brokers: [system.kafkaBrokers!], logLevel: logLevel.ERROR });
    const producer = kafka.producer();
    await producer.connect();
    const viaKafka = 'bench/kafka';
    const kafkaStarted = Date.now();
    for (let b = 0; b * BATCH < TOTAL; b++) {
      await producer.send({
        topic: TOPIC,
        messages: Array.from({ length: Math.min(BATCH, TOTAL - b * BATCH) }, (_, i) => ({
          key: `bench-${(b * BATCH + i) % CUSTOMERS}`,
          headers: { 'content-type': 'application/cloudevents+json' },
          value: JSON.stringify(event(viaKafka, b * BATCH + i)),
        })),
      });
    }
    const producedSeconds = (Date.now() - kafkaStarted) / 1000;
    await producer.disconnect();
    // The worker commits a batch only once every event of it is stored: the committed offsets say how far it is.
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () =>
      ((await admin.fetchOffsets({ groupId: 'usagegraph-usage', topics: [TOPIC] }))[0]?.partitions ?? []).reduce(
        (n, p) => n + Math.max(0, Number(p.offset)),
        0,
      );
    const deadline = Date.now() + 30 * 60_000;
    while ((await committed()) < TOTAL) {
      if (Date.now() > deadline) throw new Error('the Kafka path did not store every event in 30 minutes');
      await new Promise((r) => setTimeout(r, 250));
    }
    await admin.disconnect();
    const kafkaSeconds = (Date.now() - kafkaStarted) / 1000;

    if ((await stored(viaKafka)) !== TOTAL) throw new Error('the Kafka path did not store every event');
    const directRate = TOTAL / directSeconds;
    const kafkaRate = TOTAL / kafkaSeconds;
    console.log('');
    console.log('| path | events | seconds | events/s |');
    console.log('|---|---|---|---|');
    console.log(
      `| direct (POST /v1/events, 2 senders) | ${fmt(TOTAL)} | ${fmt(directSeconds, 1)} | ${fmt(directRate)} |`,
    );
    console.log(
      `| Kafka (produced in ${fmt(producedSeconds, 1)} s, consumed by 1 worker) | ${fmt(TOTAL)} | ${fmt(kafkaSeconds, 1)} | ${fmt(kafkaRate)} |`,
    );
    console.log(`\nKafka / direct: ${fmt(kafkaRate / directRate, 2)} (aim ≥ 0.80)`);
  } finally {
    await mongo.close();
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
