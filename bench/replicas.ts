// `npm run bench:replicas`: the same ingestion and the same billing run on one process per subgraph and on two, in one
// run: events/s through the gateway (4 senders, batches of 1,000; the gateway spreads them over the usage processes)
// and subscriptions/s of a billing run job (its pages rated by whichever pricing process each call reaches). Prints
// both, the ratio two/one, and the machine's cores — on a 2-core machine a second process has no core of its own.
import { cpus } from 'node:os';
import { mustGraphql } from '../runtime/graph-client';
import { fmt, freshSystem } from './support';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 40_000);
const SUBSCRIPTIONS = Number(process.env.BENCH_SUBSCRIPTIONS ?? 1_000);
const BATCH = 1_000;
const SENDERS = 4;

async function measure(replicas: number): Promise<{ eventsPerSecond: number; subscriptionsPerSecond: number }> {
  const { system, credential, cleanup } = await freshSystem(`replicas-${replicas}`, {}, { replicas });
  try {
    const gql = <T = any>(q: string, v: Record<string, unknown> = {}) =>
      mustGraphql<T>(system.gatewayUrl, q, v, { correlationId: `bench-replicas-${replicas}`, credential });
    await gql(
      `mutation { registerUsageType(input: { key: "bench_calls", unit: "call", productLine: "api", fields: [{ name: "calls", type: INTEGER }], aggregation: { type: SUM, field: "calls" } }, activate: true) { id } }`,
    );
    const { createPricePlan: plan } = await gql(
      `mutation { createPricePlan(input: { key: "bench", name: "bench", currency: "USD", charges: [{ usageTypeKey: "bench_calls", unitPrice: "0.001" }] }) { id } }`,
    );
    const customers = Array.from({ length: SUBSCRIPTIONS }, (_, c) => `bench-${c}`);
    for (let i = 0; i < customers.length; i += 8)
      await Promise.all(
        customers.slice(i, i + 8).map(async (key) => {
          await gql(
            `mutation { upsertCustomer(input: { externalKey: "${key}", name: "${key}", currency: "USD" }) { id } }`,
          );
          await gql(
            `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${key}", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
            { p: plan.id },
          );
        }),
      );
    const events = Array.from({ length: EVENTS }, (_, i) => ({
      id: `e-${i}`,
      source: 'bench/replicas',
      type: 'bench_calls',
      customer: customers[i % customers.length],
      timestamp: `2026-10-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`,
      data: { calls: 1 },
    }));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        for (let i = next; i < events.length; i = next) {
          next += BATCH;
          await gql(`mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`, {
            e: events.slice(i, i + BATCH),
          });
        }
      }),
    );
    const ingestSeconds = (performance.now() - t0) / 1000;

    const t1 = performance.now();
    const { startBillingRun: job } = await gql(`mutation { startBillingRun(period: "2026-10") { id } }`);
    for (;;) {
      const { billingRunJob } = await gql(`query($id: ID!) { billingRunJob(id: $id) { status error } }`, {
        id: job.id,
      });
      if (billingRunJob.status === 'FAILED') throw new Error(`the billing run failed: ${billingRunJob.error}`);
      if (billingRunJob.status === 'SUCCEEDED') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const rateSeconds = (performance.now() - t1) / 1000;
    return { eventsPerSecond: EVENTS / ingestSeconds, subscriptionsPerSecond: SUBSCRIPTIONS / rateSeconds };
  } finally {
    await cleanup();
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:replicas — ${fmt(EVENTS)} events (${SENDERS} senders) and a billing run of ${fmt(SUBSCRIPTIONS)} subscriptions, one process per subgraph vs two; machine: ${cpus().length} cores`,
  );
  const one = await measure(1);
  const two = await measure(2);
  console.log('');
  console.log(`                      one process    two processes   two / one`);
  console.log(
    `ingestion (events/s)  ${fmt(one.eventsPerSecond).padStart(11)}    ${fmt(two.eventsPerSecond).padStart(13)}   ${(two.eventsPerSecond / one.eventsPerSecond).toFixed(2)}`,
  );
  console.log(
    `billing run (subs/s)  ${fmt(one.subscriptionsPerSecond, 1).padStart(11)}    ${fmt(two.subscriptionsPerSecond, 1).padStart(13)}   ${(two.subscriptionsPerSecond / one.subscriptionsPerSecond).toFixed(2)}`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
