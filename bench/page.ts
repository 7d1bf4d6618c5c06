// `npm run bench:page`: one keyset page of usage events — the first and one from the middle, 51 rows as pageById asks —
// at 1,000, 10,000 and 100,000 events of one aggregate, beside the same page read the way FerretDB read it before the
// pushdown (runtime/ferretdb-patches): without the limit, so every event of the aggregate is decoded and sorted in Go,
// and only the first batch of 51 is taken. Prints ms per page at each size and the ratio largest/smallest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { ensureFerretDb, startFerretDb } from '../runtime/ferretdb';
import { fmt, seeded } from './support';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const PAGE = 50;
const AGGREGATE = 'agg_bench';

interface EventDoc {
  _id: string;
  aggregateId: string;
  [field: string]: unknown;
}

async function main(): Promise<void> {
  console.log(
    `bench:page — one page of ${PAGE} (+1) events by aggregateId, sorted by _id, at ${SIZES.map((s) => fmt(s)).join(' / ')} events`,
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'usagegraph-bench-page-'));
  const database = process.env.MONGODB_URI
    ? null
    : await startFerretDb(
        await ensureFerretDb((m) => console.error(`  [setup] ${m}`)),
        dataDir,
        join(dataDir, 'ferretdb.log'),
      );
  const client = await MongoClient.connect(process.env.MONGODB_URI ?? database!.uri);
  const db = client.db(`bench_page_${Date.now().toString(36)}`);
  try {
    const events = db.collection<EventDoc>('usage_events');
    await events.createIndex({ aggregateId: 1, _id: 1 }); // the index subgraphs/usage/store.ts declares
    const random = seeded(515);
    const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
    const rows: Array<{ size: number; results: Record<string, number> }> = [];
    let stored = 0;
    for (const size of SIZES) {
      while (stored < size) {
        const batch = Array.from({ length: Math.min(5_000, size - stored) }, (_, i) =>
          event(`uev_${hex(24)}`, stored + i),
        );
        await events.insertMany(batch);
        stored += batch.length;
      }
      const ids = (await events.find({ aggregateId: AGGREGATE }, { projection: { _id: 1 } }).toArray())
        .map((d) => d._id)
        .sort();
      const middle = ids[Math.floor(ids.length / 2)]!;
      const results: Record<string, number> = {};
      for (const [name, cursor] of [
        ['first', undefined],
        ['middle', middle],
      ] as const) {
        const after = await timePage(() => page(events, cursor));
        const before = await timePage(() => pageAsBefore(events, cursor));
        if (after.ids.join() !== before.ids.join()) throw new Error(`the ${name} page differs between the two reads`);
        results[`${name} after`] = after.ms;
        results[`${name} before`] = before.ms;
      }
      rows.push({ size, results });
      console.log(
        `  ${fmt(size).padStart(7)} events: first page ${fmt(results['first after']!, 2)} ms (before: ${fmt(results['first before']!, 1)} ms), middle page ${fmt(results['middle after']!, 2)} ms (before: ${fmt(results['middle before']!, 1)} ms)`,
      );
    }
    const [smallest, largest] = [rows[0]!, rows[rows.length - 1]!];
    console.log(`\nms per page, largest (${fmt(largest.size)}) / smallest (${fmt(smallest.size)}):`);
    for (const key of Object.keys(smallest.results)) {
      console.log(`  ${key.padEnd(14)} ${fmt(largest.results[key]! / smallest.results[key]!, 1)}×`);
    }
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
    await database?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Roughly what ingestion stores for an event. */
function event(_id: string, n: number): EventDoc {
  const at = new Date(Date.UTC(2026, 9, 1) + n * 1000);
  return {
    _id,
    eventId: `e-${n}`,
    source: 'bench/page',
    usageTypeId: 'ut_bench_calls_1_0',
    usageTypeKey: 'bench_calls',
    usageTypeVersion: '1.0',
    customerKey: 'bench-1',
    customerId: 'cus_bench',
    subscriptionId: 'sub_bench',
    pricePlanId: 'pp_bench',
    aggregateId: AGGREGATE,
    timestamp: at,
    periodKey: '2026-10',
    data: { calls: n % 100, region: 'eu' },
    value: String(n % 100),
    dimensions: { region: 'eu' },
    late: false,
    contentHash: `h${n}`,
    correlationId: `bench-${n}`,
    receivedAt: at,
  };
}

/** The page as lib/pagination.ts reads it: `limit(size + 1)`, the cursor in an `$and`. */
async function page(events: Collection<EventDoc>, after: string | undefined): Promise<string[]> {
  const filter: Document = { aggregateId: AGGREGATE };
  const docs = await events
    .find(after ? { $and: [filter, { _id: { $gt: after } }] } : filter)
    .sort({ _id: 1 })
    .limit(PAGE + 1)
    .toArray();
  return docs.map((d) => d._id);
}

/** The same page the way it cost before: no limit to push down (the cursor under an $or stays in Go), first batch only. */
async function pageAsBefore(events: Collection<EventDoc>, after: string | undefined): Promise<string[]> {
  const filter: Document = after
    ? { aggregateId: AGGREGATE, $or: [{ _id: { $gt: after } }] }
    : { aggregateId: AGGREGATE };
  const ids: string[] = [];
  for await (const d of events
    .find(filter)
    .sort({ _id: 1 })
    .batchSize(PAGE + 1)) {
    ids.push(d._id);
    if (ids.length === PAGE + 1) break;
  }
  return ids;
}

/** Median ms of a few reads after a warm-up read; a read that takes seconds is timed once, without warm-up. */
async function timePage(read: () => Promise<string[]>): Promise<{ ms: number; ids: string[] }> {
  const times: number[] = [];
  let ids: string[] = [];
  for (let i = 0; i < 10 && (i === 0 || times[0]! < 2_000); i++) {
    const started = process.hrtime.bigint();
    ids = await read();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  const timed = times.length > 1 ? times.slice(1).sort((a, b) => a - b) : times;
  return { ms: timed[Math.floor(timed.length / 2)]!, ids };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
