// What bench:rate and bench:scale bill: three usage types and three plans mixing every charge model (set up through
// the graph, one call each), and thousands of customers, subscriptions and stored aggregates (straight into the
// databases, where the graph would take longer than the run being measured).
import { MongoClient } from 'mongodb';
import type { RunningSystem } from '../runtime/system';
import { deterministicId } from '../lib/ids';
import { seeded } from './support';
import { endsAtOrOpen } from '../subgraphs/subscriptions/store';

export const BENCH_TYPES = ['bench_api', 'bench_storage', 'bench_seats'] as const;

type Gql = <T = any>(query: string, variables?: Record<string, unknown>) => Promise<T>;

/** Registers the three usage types and creates the three plans; returns the plans' ids. */
export async function createBenchPlans(gql: Gql): Promise<string[]> {
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
  return [plan.id as string, blocks.id as string, dynamic.id as string];
}

/**
 * Customers `bench-<from>` … `bench-<from + count - 1>`, one subscription each (plans taken in turn) and its three
 * aggregates for `period`, already computed and settled, as rating finds them after a month of usage. With
 * `aggregatesOnly`, the customers and subscriptions exist already and only their aggregates for `period` are added.
 */
export async function seedSubscriptions(
  system: RunningSystem,
  plans: string[],
  options: {
    from?: number;
    count: number;
    period: string;
    seed?: number;
    aggregatesOnly?: boolean;
    /** When the subscriptions end (none by default): a later month then bills none of them. */
    endsAt?: Date;
  },
): Promise<{ aggregates: number }> {
  const { from = 0, count, period, aggregatesOnly = false, endsAt = null } = options;
  const mongo = await MongoClient.connect(system.mongoUri);
  try {
    const subsDb = mongo.db(`${system.dbPrefix}_subscriptions`);
    const usageDb = mongo.db(`${system.dbPrefix}_usage`);
    const random = seeded(options.seed ?? 99);
    const now = new Date();
    const settled = new Date(now.getTime() - 3_600_000);
    // First stored a day earlier: the settled scan started long after, as a month's last scan does in a real system.
    const firstStored = new Date(now.getTime() - 86_400_000);
    const startsAt = new Date('2026-01-01T00:00:00Z');
    const customers = [];
    const subscriptions = [];
    const lists = [];
    const aggregates: object[] = [];
    for (let i = from; i < from + count; i++) {
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
        endsAt,
        endsAtOrOpen: endsAtOrOpen(endsAt),
        createdAt: now,
        correlationId: 'bench',
      });
      lists.push({ _id: customerId, subscriptionIds: [subscriptionId] });
      // Quantities are decimal strings, as ingestion stores them; rating reads them with decimal.js.
      const quantities = [
        String(Math.floor(random() * 40_000)),
        (random() * 80).toFixed(3),
        String(1 + Math.floor(random() * 30)),
      ];
      BENCH_TYPES.forEach((key, k) =>
        aggregates.push({
          _id: deterministicId('agg', subscriptionId, key, period),
          subscriptionId,
          usageTypeKey: key,
          periodKey: period,
          quantity: quantities[k],
          eventCount: 10,
          // What a dynamic charge reads: the sum of the events' prices, stored with the aggregate.
          ...(key === 'bench_api' ? { fieldTotals: { price: (random() * 50).toFixed(4) } } : {}),
          groups: [],
          lastReceivedAt: settled,
          computedAt: settled,
          firstComputedAt: firstStored,
          correlationId: 'bench',
        }),
      );
    }
    const seed = async (db: typeof subsDb, name: string, docs: object[]) => {
      for (let i = 0; i < docs.length; i += 5_000)
        await db.collection(name).insertMany(docs.slice(i, i + 5_000) as never[]);
    };
    if (!aggregatesOnly) {
      await seed(subsDb, 'customers', customers);
      await seed(subsDb, 'subscriptions', subscriptions);
      await seed(subsDb, 'subscriptions_by_customer', lists);
    }
    await seed(usageDb, 'usage_aggregates', aggregates);
    return { aggregates: aggregates.length };
  } finally {
    await mongo.close();
  }
}

/** Starts a billing run (a job) and polls it until it finished; returns its summary. */
export async function runBillingRun(
  gql: Gql,
  period: string,
  onProgress?: (progress: { done: number; total: number | null; failures: number; ratePerSecond: number }) => void,
): Promise<{
  subscriptions: number;
  rated: number;
  failed: number;
  held: number;
  totals: Array<{ amount: string; currency: string }>;
}> {
  const { startBillingRun: job } = await gql(`mutation { startBillingRun(period: "${period}") { id } }`);
  for (;;) {
    const { billingRunJob } = await gql(
      `query($id: ID!) { billingRunJob(id: $id) { status error progress { done total failures ratePerSecond } run { subscriptions rated failed held totals { amount currency } } } }`,
      { id: job.id },
    );
    if (billingRunJob.status === 'FAILED') throw new Error(`the billing run failed: ${billingRunJob.error}`);
    onProgress?.(billingRunJob.progress);
    if (billingRunJob.status === 'SUCCEEDED') return billingRunJob.run;
    await new Promise((r) => setTimeout(r, 250));
  }
}
