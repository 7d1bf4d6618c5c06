// `npm run bench:rate`: a billing run rating one period for 10,000 subscriptions with three usage types each (their
// aggregates already stored; three plans mixing every charge model, tiered blocks, graduated percentage and dynamic
// prices included), beside a baseline in the same run: reading the same subscriptions and aggregates through the same
// calls, without rating. Prints subscriptions/s, total time, and the ratio (aim: rating within 3× the read).
import { MongoClient } from 'mongodb';
import { mustGraphql } from '../runtime/graph-client';
import { querySubgraph } from '../lib/subgraph-client';
import { deterministicId } from '../lib/ids';
import { SUBSCRIPTION_FIELDS, type SubscriptionView } from '../subgraphs/pricing/rating-run';
import { fmt, freshSystem, seeded } from './support';
import { SUBGRAPH_NAMES, subgraphUrlEnv } from '../lib/topology';

const SUBSCRIPTIONS = Number(process.env.BENCH_SUBSCRIPTIONS ?? 10_000);
const PERIOD = '2026-10';
const TYPES = ['bench_api', 'bench_storage', 'bench_seats'] as const;

async function main(): Promise<void> {
  console.log(
    `bench:rate — one period for ${fmt(SUBSCRIPTIONS)} subscriptions × ${TYPES.length} usage types, aggregates already stored`,
  );
  const { system, credential, cleanup } = await freshSystem('rate');
  try {
    for (const name of SUBGRAPH_NAMES) process.env[subgraphUrlEnv(name)] = system.subgraphUrls[name];
    const gql = <T = any>(q: string, v: Record<string, unknown> = {}) =>
      mustGraphql<T>(system.gatewayUrl, q, v, { correlationId: 'bench-rate', credential });

    // Setup through the graph where it is one call, straight into the databases where it is thousands.
    await gql(`mutation { a: registerUsageType(input: { key: "bench_api", unit: "call", productLine: "api", fields: [{ name: "calls", type: INTEGER }, { name: "price", type: DECIMAL, required: false }], aggregation: { type: SUM, field: "calls" } }, activate: true) { id }
      b: registerUsageType(input: { key: "bench_storage", unit: "GB", productLine: "storage", fields: [{ name: "gb", type: DECIMAL }], aggregation: { type: SUM, field: "gb" } }, activate: true) { id }
      c: registerUsageType(input: { key: "bench_seats", unit: "seat", productLine: "platform", fields: [{ name: "seats", type: INTEGER }], aggregation: { type: LATEST, field: "seats" } }, activate: true) { id } }`);
    const { createPricePlan: plan } =
      await gql(`mutation { createPricePlan(input: { key: "bench-plan", name: "Bench", currency: "USD", charges: [
      { usageTypeKey: "bench_api", model: GRADUATED, tiers: [{ upTo: "10000", unitPrice: "0.001" }, { upTo: null, unitPrice: "0.0005" }] },
      { usageTypeKey: "bench_storage", unitPrice: "0.023", includedQuantity: "5" },
      { usageTypeKey: "bench_seats", model: PACKAGE, packageSize: "5", packagePrice: "40", freeUnits: "1" } ],
      recurringFees: [{ key: "platform", description: "Platform fee", amount: "99.00" }] }) { id } }`);
    // The models of issue 11 in the mix: a third of the subscriptions on each plan.
    const { createPricePlan: blocks } =
      await gql(`mutation { createPricePlan(input: { key: "bench-plan-blocks", name: "Bench blocks", currency: "USD", charges: [
      { usageTypeKey: "bench_api", model: TIERED_BLOCKS, blockSize: "1000", blockTiers: [{ upTo: "10000", blockPrice: "1", flatFee: "2" }, { upTo: null, blockPrice: "0.5" }] },
      { usageTypeKey: "bench_storage", model: GRADUATED_PERCENTAGE, percentageTiers: [{ upTo: "40", rate: "0.05", flatFee: "1" }, { upTo: null, rate: "0.02" }] },
      { usageTypeKey: "bench_seats", model: VOLUME, tiers: [{ upTo: "10", unitPrice: "8", flatFee: "5" }, { upTo: null, unitPrice: "6" }] } ],
      recurringFees: [{ key: "platform", description: "Platform fee", amount: "99.00" }] }) { id } }`);
    const { createPricePlan: dynamic } =
      await gql(`mutation { createPricePlan(input: { key: "bench-plan-dynamic", name: "Bench dynamic", currency: "USD", charges: [
      { usageTypeKey: "bench_api", model: DYNAMIC, priceField: "price" },
      { usageTypeKey: "bench_storage", unitPrice: "0.023", includedQuantity: "5" },
      { usageTypeKey: "bench_seats", model: GRADUATED, tiers: [{ upTo: "5", unitPrice: "0", flatFee: "20" }, { upTo: null, unitPrice: "7" }] } ],
      recurringFees: [{ key: "platform", description: "Platform fee", amount: "99.00" }] }) { id } }`);
    const plans = [plan.id as string, blocks.id as string, dynamic.id as string];

    const mongo = await MongoClient.connect(system.mongoUri);
    const subsDb = mongo.db(`${system.dbPrefix}_subscriptions`);
    const usageDb = mongo.db(`${system.dbPrefix}_usage`);
    const random = seeded(99);
    const now = new Date();
    const settled = new Date(now.getTime() - 3_600_000);
    const startsAt = new Date('2026-01-01T00:00:00Z');
    const customers = [];
    const subscriptions = [];
    const lists = [];
    const aggregates: object[] = [];
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      const customerId = deterministicId('cus', `bench-${i}`);
      const pricePlanId = plans[i % plans.length]!;
      const subscriptionId = deterministicId('sub', customerId, pricePlanId, startsAt.toISOString());
      customers.push({
        _id: customerId,
        externalKey: `bench-${i}`,
        name: `Bench ${i}`,
        currency: 'USD',
        legalEntityCode: 'DEFAULT',
        createdAt: now,
        updatedAt: now,
        correlationId: 'bench',
      });
      subscriptions.push({
        _id: subscriptionId,
        customerId,
        pricePlanId,
        startsAt,
        endsAt: null,
        createdAt: now,
        correlationId: 'bench',
      });
      lists.push({ _id: customerId, subscriptionIds: [subscriptionId] });
      const quantities = [
        String(Math.floor(random() * 40_000)),
        (random() * 80).toFixed(3),
        String(1 + Math.floor(random() * 30)),
      ];
      TYPES.forEach((key, k) =>
        aggregates.push({
          _id: deterministicId('agg', subscriptionId, key, PERIOD),
          subscriptionId,
          usageTypeKey: key,
          periodKey: PERIOD,
          quantity: quantities[k],
          eventCount: 10,
          // What a dynamic charge reads: the sum of the events' prices, stored with the aggregate.
          ...(key === 'bench_api' ? { fieldTotals: { price: (random() * 50).toFixed(4) } } : {}),
          groups: [],
          lastReceivedAt: settled,
          computedAt: settled,
          correlationId: 'bench',
        }),
      );
    }
    const seed = async (db: typeof subsDb, name: string, docs: object[]) => {
      for (let i = 0; i < docs.length; i += 5_000)
        await db.collection(name).insertMany(docs.slice(i, i + 5_000) as never[]);
    };
    await seed(subsDb, 'customers', customers);
    await seed(subsDb, 'subscriptions', subscriptions);
    await seed(subsDb, 'subscriptions_by_customer', lists);
    await seed(usageDb, 'usage_aggregates', aggregates);
    await mongo.close();
    console.error(
      `  [setup] seeded ${fmt(SUBSCRIPTIONS)} customers and subscriptions, ${fmt(aggregates.length)} aggregates`,
    );

    // Baseline: the same reads the billing run makes — every subscription page, then its aggregates — and nothing else.
    const tRead = performance.now();
    let read = 0;
    let pagingMs = 0;
    let after: string | null = null;
    do {
      const tPage = performance.now();
      const page: {
        subscriptionsActiveIn: {
          nodes: SubscriptionView[];
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        };
      } = await querySubgraph(
        'subscriptions',
        `query($p: String!, $first: Int!, $after: String) { subscriptionsActiveIn(period: $p, first: $first, after: $after) { nodes { ${SUBSCRIPTION_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
        { p: PERIOD, first: 500, after },
      );
      pagingMs += performance.now() - tPage;
      const nodes = page.subscriptionsActiveIn.nodes;
      for (let i = 0; i < nodes.length; i += 200) {
        await querySubgraph(
          'usage',
          'mutation($p: String!, $r: [UsageForRatingRequest!]!) { usageForRating(period: $p, requests: $r) { subscriptionId usageTypeKey productLine unit aggregate { id } segments { from to quantity eventCount values } } }',
          {
            p: PERIOD,
            r: nodes.slice(i, i + 200).map((s) => ({ subscriptionId: s.id, usageTypeKeys: [...TYPES] })),
          },
        );
      }
      read += nodes.length;
      after = page.subscriptionsActiveIn.pageInfo.hasNextPage ? page.subscriptionsActiveIn.pageInfo.endCursor : null;
    } while (after);
    const readSeconds = (performance.now() - tRead) / 1000;

    // The billing run is a job: started at once, then its progress is polled until it finished.
    const billingRun = async () => {
      const { startBillingRun: job } = await gql(`mutation { startBillingRun(period: "${PERIOD}") { id } }`);
      for (;;) {
        const { billingRunJob } = await gql(
          `query($id: ID!) { billingRunJob(id: $id) { status error run { subscriptions rated failed held totals { amount currency } } } }`,
          { id: job.id },
        );
        if (billingRunJob.status === 'FAILED') throw new Error(`the billing run failed: ${billingRunJob.error}`);
        if (billingRunJob.status === 'SUCCEEDED') return billingRunJob.run;
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const tRate = performance.now();
    const run = await billingRun();
    const rateSeconds = (performance.now() - tRate) / 1000;
    const tAgain = performance.now();
    const again = await billingRun();
    const againSeconds = (performance.now() - tAgain) / 1000;

    console.log('');
    console.log(
      `rated ${fmt(run.rated)} of ${fmt(run.subscriptions)} subscriptions (${run.failed} failed, ${run.held} held); total ${run.totals.map((t: any) => `${t.amount} ${t.currency}`).join(', ')}`,
    );
    console.log(
      `baseline: read subscriptions + aggregates  ${fmt(read / readSeconds).padStart(7)} subscriptions/s   (${readSeconds.toFixed(1)} s)`,
    );
    console.log(
      `  of which paging subscriptions             ${(pagingMs / 1000).toFixed(1)} s, aggregates ${(readSeconds - pagingMs / 1000).toFixed(1)} s`,
    );
    console.log(
      `billing run: rate and store                ${fmt(run.subscriptions / rateSeconds).padStart(7)} subscriptions/s   (${rateSeconds.toFixed(1)} s)`,
    );
    console.log(`ratio rating / read                         ${(rateSeconds / readSeconds).toFixed(2)}   (aim ≤ 3)`);
    console.log(
      `re-run, nothing changed (no new revisions)  ${fmt(run.subscriptions / againSeconds).padStart(7)} subscriptions/s   (${againSeconds.toFixed(1)} s; total ${again.totals[0]?.amount} — same: ${again.totals[0]?.amount === run.totals[0]?.amount})`,
    );
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
