// `npm run bench:usage`: one customer with 50,000 usage events in a month (BENCH_EVENTS), loaded through POST /v1/events
// in batches of 10,000 with the aggregate keeper on (its default), then `customerUsage` through the gateway: the first
// read once the keeper caught up (and how long after the last batch that was), again, after 100 new events each time
// (folded in), and cold — the stored aggregate removed, as a first read with the keeper off — beside the old full
// read of every event (customerUsageFullRead, in this process against the same database), timed in the same run.
// Aim: < 1 s at 50,000, also on the first read.
import { MongoClient } from 'mongodb';
import { mustGraphql } from '../runtime/graph-client';
import { customerUsageFullRead } from '../subgraphs/usage/customer-usage-full-read';
import { foldableFrom } from '../subgraphs/usage/aggregate-keeper';
import { aggregateId as deterministicAggregateId } from '../subgraphs/usage/enrichment';
import { usageStore } from '../subgraphs/usage/store';
import { UsageTypeRegistry } from '../subgraphs/usage/usage-type-registry';
import { fmt, freshSystem, percentile, seeded } from './support';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 50_000);
const BATCH = 10_000;
const WARM = 5;
const PERIOD = '2026-10';
const TYPE = 'bench_requests';
const CUSTOMER = 'bench-usage';

async function main(): Promise<void> {
  console.log(
    `bench:usage — customerUsage for one customer with ${fmt(TOTAL)} events in ${PERIOD}; machine: ${require('node:os').cpus().length} cores`,
  );
  // The cold call and the baseline read every event: on a loaded machine that can pass the default 30 s limits.
  const { system, credential, cleanup } = await freshSystem('usage', {
    USAGEGRAPH_SUBGRAPH_TIMEOUT_MS: '300000',
    USAGEGRAPH_DB_QUERY_TIME_LIMIT_MS: '300000',
  });
  const mongo = await MongoClient.connect(system.mongoUri);
  try {
    const gql = <T = any>(q: string, v: Record<string, unknown> = {}) =>
      mustGraphql<T>(system.gatewayUrl, q, v, { correlationId: 'bench-usage', credential });
    await gql(
      `mutation { registerUsageType(input: { key: "${TYPE}", unit: "request", productLine: "api", fields: [{ name: "n", type: INTEGER, minimum: "0" }, { name: "region", type: STRING, allowedValues: ["eu", "us", "ap"] }], dimensions: ["region"], aggregation: { type: SUM, field: "n" } }, activate: true) { id } }`,
    );
    const { createPricePlan } = await gql(
      `mutation { createPricePlan(input: { key: "bench-usage", name: "bench", currency: "USD", charges: [{ usageTypeKey: "${TYPE}", unitPrice: "0.001" }] }) { id } }`,
    );
    await gql(
      `mutation { upsertCustomer(input: { externalKey: "${CUSTOMER}", name: "Bench", currency: "USD" }) { id } }`,
    );
    const { createSubscription } = await gql(
      `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${CUSTOMER}", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
      { p: createPricePlan.id },
    );
    const subscriptionId = createSubscription.id as string;

    const random = seeded(1111);
    const start = Date.UTC(2026, 9, 1);
    let sent = 0;
    const ce = (i: number) => ({
      specversion: '1.0',
      id: `u-${i}`,
      source: 'bench/usage',
      type: TYPE,
      subject: CUSTOMER,
      time: new Date(start + Math.floor(random() * 30 * 86_400_000)).toISOString(),
      data: { n: 1 + Math.floor(random() * 100), region: ['eu', 'us', 'ap'][Math.floor(random() * 3)] },
    });
    const post = async (count: number) => {
      for (let left = count; left > 0; left -= BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, left) }, () => ce(sent++));
        const res = await fetch(system.gatewayUrl.replace(/\/graphql$/, '/v1/events'), {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents-batch+json', authorization: `Bearer ${credential}` },
          body: JSON.stringify(batch),
        });
        if (!res.ok) throw new Error(`events batch: HTTP ${res.status} ${await res.text()}`);
      }
    };
    const loadStarted = performance.now();
    await post(TOTAL);
    const loadEnded = performance.now();
    const loadSeconds = (loadEnded - loadStarted) / 1000;
    console.error(`  [load] ${fmt(TOTAL)} events in ${loadSeconds.toFixed(1)} s`);

    const usage = async () => {
      const started = performance.now();
      const { customerUsage } = await gql(
        `query { customerUsage(customerKey: "${CUSTOMER}", period: "${PERIOD}") { usage { usageTypeKey quantity eventCount } } }`,
      );
      return {
        ms: performance.now() - started,
        quantity: customerUsage.usage[0]?.quantity as string,
        count: customerUsage.usage[0]?.eventCount as number,
      };
    };
    const store = usageStore(mongo.db(`${system.dbPrefix}_usage`));
    const fullRead = async () => {
      const started = performance.now();
      const r = await customerUsageFullRead(store, new UsageTypeRegistry(store), CUSTOMER, PERIOD);
      return { ms: performance.now() - started, quantity: r.usage[0]?.quantity, count: r.usage[0]?.eventCount };
    };
    const check = (
      a: { quantity?: string; count?: number },
      b: { quantity?: string; count?: number },
      what: string,
    ) => {
      if (a.quantity !== b.quantity || a.count !== b.count)
        throw new Error(
          `${what}: customerUsage says ${a.quantity} (${a.count} events), the full read ${b.quantity} (${b.count})`,
        );
    };

    // The keeper (on by default) stores the aggregate after the first batch, rescans it SETTLE_MS later and folds
    // in later batches: caught up once it holds every event, can be folded forward, and has no refresh waiting.
    const aggregateId = deterministicAggregateId(subscriptionId, TYPE, PERIOD);
    const waitFor = async (what: string, done: () => Promise<boolean>) => {
      for (;;) {
        if (await done()) return performance.now() - loadEnded;
        if (performance.now() - loadEnded > 900_000) throw new Error(`the keeper did not ${what} in 15 minutes`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const holdsEvery = await waitFor('count every event', async () => {
      const a = await store.aggregates.findOne({ _id: aggregateId });
      return a?.eventCount === TOTAL && foldableFrom(a) === null;
    });
    console.error(`  [keeper] every event counted, foldable, ${fmt(holdsEvery)} ms after the last batch`);
    // Then, a minute on, it folds once more to drop the marked ids it remembers (a read meanwhile re-reads them).
    const caughtUp = {
      ms: await waitFor('finish', async () => (await store.refreshes.countDocuments({ aggregateId })) === 0),
    };
    console.error(`  [keeper] caught up ${fmt(caughtUp.ms)} ms after the last batch`);

    const baseline = await fullRead();
    console.error(`  [baseline] full read ${fmt(baseline.ms)} ms`);
    const first = await usage();
    console.error(`  [first read after the keeper] ${fmt(first.ms)} ms`);
    check(first, baseline, 'first read');
    const again: number[] = [];
    for (let i = 0; i < WARM; i++) {
      const r = await usage();
      check(r, baseline, 'again');
      again.push(r.ms);
    }
    console.error(`  [again] ${again.map((ms) => fmt(ms)).join(', ')} ms`);
    const folded: number[] = [];
    for (let i = 0; i < WARM; i++) {
      await post(100); // each read finds 100 events received since the one before (read at once: keeper or read folds)
      const r = await usage();
      folded.push(r.ms);
    }
    const after = await fullRead();
    const last = await usage();
    check(last, after, 'after the folds');
    // What a period's first read costs with no stored aggregate (the keeper off): the stored one is removed.
    await store.refreshes.deleteMany({ aggregateId });
    await store.aggregates.deleteOne({ _id: aggregateId });
    const cold = await usage();
    check(cold, after, 'cold');
    console.error(`  [cold, no stored aggregate] ${fmt(cold.ms)} ms`);
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

    console.log('');
    console.log(
      `loaded ${fmt(TOTAL)} events through POST /v1/events in ${loadSeconds.toFixed(1)} s (${fmt(TOTAL / loadSeconds)} events/s), keeper on`,
    );
    console.log(
      `baseline: the old full read of every event   ${fmt(baseline.ms)} ms   (${fmt(after.ms)} ms at the end, ${fmt(after.count ?? 0)} events)`,
    );
    console.log(
      `keeper: every event counted and foldable    ${fmt(holdsEvery)} ms after the last batch   (its second scan waits until SETTLE_MS after the first)`,
    );
    console.log(`keeper: done (remembered ids shed)           ${fmt(caughtUp.ms)} ms after the last batch`);
    console.log(`customerUsage first read after the keeper    ${fmt(first.ms)} ms`);
    console.log(
      `customerUsage again (${WARM} calls)               p50 ${fmt(percentile(sorted(again), 50))} ms   max ${fmt(Math.max(...again))} ms`,
    );
    console.log(
      `customerUsage warm (${WARM} calls, 100 new each)  p50 ${fmt(percentile(sorted(folded), 50))} ms   max ${fmt(Math.max(...folded))} ms   (folded in)`,
    );
    console.log(
      `customerUsage cold (no stored aggregate)     ${fmt(cold.ms)} ms   (the first read with the keeper off)`,
    );
    console.log(
      `aim: < 1,000 ms at ${fmt(TOTAL)} events — first read ${first.ms < 1000 ? 'met' : 'NOT met'}, warm ${Math.max(...folded) < 1000 ? 'met' : 'NOT met'}; baseline / first read ${fmt(baseline.ms / first.ms, 1)}×`,
    );
  } finally {
    await mongo.close();
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
