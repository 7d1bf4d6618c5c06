// `npm run bench:ingest`: 100,000 events (≈1 % duplicates, ≈1 % invalid) in batches of 1,000 through the real ingestion
// path — gateway → usage subgraph: validation, dedup, enrichment, storage — beside a raw insertMany of the very same
// stored documents into the same database. Prints events/s for both, their ratio, batch latency and peak memory.
import { MongoClient } from 'mongodb';
import { mustGraphql } from '../runtime/graph-client';
import { querySubgraph } from '../lib/subgraph-client';
import { fmt, freshSystem, peakRssMb, percentile, seeded } from './support';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 100_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1_000);
const CUSTOMERS = 200;

async function main(): Promise<void> {
  console.log(
    `bench:ingest — ${fmt(TOTAL)} events in batches of ${fmt(BATCH)}, ${CUSTOMERS} customers; machine: ${require('node:os').cpus().length} cores`,
  );
  const { system, credential, cleanup } = await freshSystem('ingest');
  try {
    const gql = <T = any>(q: string, v: Record<string, unknown> = {}) =>
      mustGraphql<T>(system.gatewayUrl, q, v, { correlationId: 'bench-ingest', credential });
    await gql(
      `mutation { registerUsageType(input: { key: "bench_calls", unit: "call", productLine: "api", fields: [{ name: "calls", type: INTEGER, minimum: "0" }, { name: "region", type: STRING, allowedValues: ["eu", "us", "ap"] }], dimensions: ["region"], aggregation: { type: SUM, field: "calls" } }, activate: true) { id } }`,
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

    // The events: ≈1 % repeat an earlier event exactly, ≈1 % break a field.
    const random = seeded(4242);
    const start = Date.UTC(2026, 9, 1);
    const events: Array<Record<string, unknown>> = [];
    let duplicates = 0;
    let invalid = 0;
    for (let i = 0; i < TOTAL; i++) {
      const r = random();
      if (r < 0.01 && events.length > 0) {
        events.push(events[Math.floor(random() * events.length)]!);
        duplicates++;
        continue;
      }
      const base = {
        id: `e-${i}`,
        source: 'bench/gateway',
        type: 'bench_calls',
        customer: `bench-${Math.floor(random() * CUSTOMERS)}`,
        timestamp: new Date(start + Math.floor(random() * 30 * 86_400_000)).toISOString(),
      };
      if (r < 0.02) {
        events.push({ ...base, data: { calls: -1, region: 'mars' } });
        invalid++;
      } else {
        events.push({
          ...base,
          data: { calls: 1 + Math.floor(random() * 500), region: ['eu', 'us', 'ap'][Math.floor(random() * 3)] },
        });
      }
    }

    const usage = system.processes.find((p) => p.name === 'usage')!;
    const latencies: number[] = [];
    const totals = { accepted: 0, duplicates: 0, held: 0, rejected: 0 };
    const t0 = performance.now();
    for (let i = 0; i < events.length; i += BATCH) {
      const started = performance.now();
      const { ingestUsageEvents: r } = await gql(
        `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted duplicates held rejected } }`,
        { e: events.slice(i, i + BATCH) },
      );
      latencies.push(performance.now() - started);
      for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += r[k];
      if ((i / BATCH) % 20 === 19) console.error(`  … ${fmt(i + BATCH)} events sent`);
    }
    const pathSeconds = (performance.now() - t0) / 1000;

    // Aggregates are computed on demand from the events: how long that takes for one subscription's period here.
    const { customers } = await gql(`{ customers(first: 20) { nodes { subscriptions { id } } } }`);
    const aggregateMs: number[] = [];
    for (const c of customers.nodes) {
      const started = performance.now();
      await querySubgraph(
        'usage',
        `mutation($s: ID!) { aggregateUsage(subscriptionId: $s, period: "2026-10", usageTypeKeys: ["bench_calls"]) { eventCount } }`,
        { s: c.subscriptions[0].id },
      );
      aggregateMs.push(performance.now() - started);
    }
    aggregateMs.sort((a, b) => a - b);

    // Baseline: the same stored documents, inserted raw (insertMany, batches of the same size) into the same database.
    const mongo = await MongoClient.connect(system.mongoUri);
    const db = mongo.db(`${system.dbPrefix}_usage`);
    const stored = await db.collection('usage_events').find().toArray();
    const raw = db.collection('bench_raw_events');
    const rawIndexed = db.collection('bench_raw_events_indexed');
    for (const spec of await db.collection('usage_events').listIndexes().toArray())
      if (spec.name !== '_id_') await rawIndexed.createIndex(spec.key);
    const timeInserts = async (collection: typeof raw) => {
      const t = performance.now();
      for (let i = 0; i < stored.length; i += BATCH)
        await collection.insertMany(stored.slice(i, i + BATCH), { ordered: false });
      return (performance.now() - t) / 1000;
    };
    const rawSeconds = await timeInserts(raw);
    const rawIndexedSeconds = await timeInserts(rawIndexed);
    await mongo.close();

    latencies.sort((a, b) => a - b);
    const pathRate = events.length / pathSeconds;
    const rawRate = stored.length / rawSeconds;
    const rawIndexedRate = stored.length / rawIndexedSeconds;
    console.log('');
    console.log(
      `sent ${fmt(events.length)} events (${fmt(duplicates)} duplicates, ${fmt(invalid)} invalid): accepted ${fmt(totals.accepted)}, duplicate ${fmt(totals.duplicates)}, held ${fmt(totals.held)}, rejected ${fmt(totals.rejected)}; stored ${fmt(stored.length)}`,
    );
    console.log(
      `ingestion path (gateway → usage)     ${fmt(pathRate).padStart(8)} events/s   (${pathSeconds.toFixed(1)} s)`,
    );
    console.log(
      `baseline: raw insertMany             ${fmt(rawRate).padStart(8)} events/s   (${rawSeconds.toFixed(1)} s, _id index only)`,
    );
    console.log(
      `baseline: raw insertMany, same indexes ${fmt(rawIndexedRate).padStart(6)} events/s   (${rawIndexedSeconds.toFixed(1)} s)`,
    );
    console.log(
      `ratio path / raw                     ${(pathRate / rawRate).toFixed(2)}   (aim ≥ 0.50);  path / raw with the same indexes ${(pathRate / rawIndexedRate).toFixed(2)}   (aim ≥ 0.8, issue 13)`,
    );
    console.log(
      `batch latency (${fmt(BATCH)} events)         p50 ${fmt(percentile(latencies, 50))} ms   p99 ${fmt(percentile(latencies, 99))} ms   max ${fmt(latencies[latencies.length - 1]!)} ms   (aim p99 < 1000 ms)`,
    );
    console.log(
      `aggregate on demand (≈${fmt(stored.length / CUSTOMERS)} events of ${fmt(stored.length)})  p50 ${fmt(percentile(aggregateMs, 50))} ms   max ${fmt(aggregateMs[aggregateMs.length - 1]!)} ms per subscription and usage type`,
    );
    console.log(
      `peak RSS                             usage ${peakRssMb(usage.child.pid)} MB, gateway ${peakRssMb(system.processes.find((p) => p.name === 'gateway')?.child.pid)} MB, FerretDB ${peakRssMb(system.processes.find((p) => p.name === 'ferretdb')?.child.pid) ?? 'n/a'} MB, this process ${Math.round(process.memoryUsage().rss / 1048576)} MB`,
    );
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
