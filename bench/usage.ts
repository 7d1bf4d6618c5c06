// `npm run bench:usage`: one customer with 50,000 usage events in a month (BENCH_EVENTS), loaded through POST /v1/events
// in batches of 10,000, then `customerUsage` through the gateway — cold (the first call stores the aggregate), settled
// (a minute later, read as stored), after new events (the first call rescans once, since the aggregate was stored less
// than a minute before its scan; the next ones fold in only the new events) — beside the old full read of every event
// (customerUsageFullRead, in this process against the same database), timed in the same run. Aim: < 1 s at 50,000.
import { MongoClient } from 'mongodb';
import { mustGraphql } from '../runtime/graph-client';
import { customerUsageFullRead } from '../subgraphs/usage/customer-usage-full-read';
import { SETTLE_MS } from '../subgraphs/usage/freshness';
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
    await gql(
      `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${CUSTOMER}", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
      { p: createPricePlan.id },
    );

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
    const loadSeconds = (performance.now() - loadStarted) / 1000;
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

    const baseline = await fullRead();
    console.error(`  [baseline] full read ${fmt(baseline.ms)} ms`);
    const cold = await usage();
    console.error(`  [cold] ${fmt(cold.ms)} ms`);
    check(cold, baseline, 'cold');
    const firstStoredAt = Date.now();
    console.error(
      `  [settle] waiting ${(SETTLE_MS / 1000 + 1).toFixed(0)} s until the stored aggregate is trusted as it is`,
    );
    await new Promise((r) => setTimeout(r, SETTLE_MS + 1_000 - (Date.now() - firstStoredAt)));
    const settled: number[] = [];
    for (let i = 0; i < WARM; i++) {
      const r = await usage();
      check(r, baseline, 'settled');
      settled.push(r.ms);
    }
    // New events: the first read rescans once (the aggregate was first stored less than a minute before its scan).
    await post(100);
    console.error(`  [settled] ${settled.map((ms) => fmt(ms)).join(', ')} ms`);
    const rescan = await usage();
    console.error(`  [rescan] ${fmt(rescan.ms)} ms`);
    const folded: number[] = [];
    for (let i = 0; i < WARM; i++) {
      await post(100); // each read finds 100 events received since the one before
      const r = await usage();
      folded.push(r.ms);
    }
    const after = await fullRead();
    const last = await usage();
    check(last, after, 'after the folds');
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

    console.log('');
    console.log(
      `loaded ${fmt(TOTAL)} events through POST /v1/events in ${loadSeconds.toFixed(1)} s (${fmt(TOTAL / loadSeconds)} events/s)`,
    );
    console.log(
      `baseline: the old full read of every event   ${fmt(baseline.ms)} ms   (${fmt(after.ms)} ms at the end, ${fmt(after.count ?? 0)} events)`,
    );
    console.log(`customerUsage cold (first call, stores)      ${fmt(cold.ms)} ms`);
    console.log(
      `customerUsage settled (${WARM} calls, as stored)   p50 ${fmt(percentile(sorted(settled), 50))} ms   max ${fmt(Math.max(...settled))} ms`,
    );
    console.log(
      `customerUsage after 100 new events, rescan  ${fmt(rescan.ms)} ms   (once: stored < ${SETTLE_MS / 1000} s before its scan)`,
    );
    console.log(
      `customerUsage warm (${WARM} calls, 100 new each)  p50 ${fmt(percentile(sorted(folded), 50))} ms   max ${fmt(Math.max(...folded))} ms   (folded in)`,
    );
    console.log(
      `aim: < 1,000 ms at ${fmt(TOTAL)} events — settled ${Math.max(...settled) < 1000 ? 'met' : 'NOT met'}, warm ${Math.max(...folded) < 1000 ? 'met' : 'NOT met'}; baseline / warm p50 ${fmt(baseline.ms / percentile(sorted(folded), 50), 1)}×`,
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
