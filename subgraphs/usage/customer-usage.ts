// Query: a customer's usage so far in a period, per usage type — what customer success looks at in a dispute.
import { parsePeriod, periodOf } from '../../lib/period';
import { UsageAggregator, type AggregateResult } from './aggregation';
import { aggregateId, lookupCustomers } from './enrichment';
import type { UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export interface CustomerUsage {
  customerKey: string;
  periodKey: string;
  asOf: Date;
  usage: Array<AggregateResult & { usageTypeKey: string; unit: string; lastEventAt: Date | null }>;
  heldEventCount: number;
}

/** Reads the customer's events through its aggregates (subscription × usage type × period), the one events index. */
export async function customerUsage(
  store: UsageStore,
  registry: UsageTypeRegistry,
  customerKey: string,
  periodKey?: string | null,
): Promise<CustomerUsage> {
  const period = periodKey ? parsePeriod(periodKey) : periodOf(new Date());
  const customer = (await lookupCustomers([customerKey])).get(customerKey);
  const typeKeys = [
    ...new Set((await store.usageTypes.find({}, { projection: { key: 1 } }).toArray()).map((t) => t.key)),
  ];
  const aggregateIds = (customer?.subscriptions ?? []).flatMap((s) =>
    typeKeys.map((k) => aggregateId(s.id, k, period.key)),
  );

  const byType = new Map<string, { aggregator: UsageAggregator; unit: string; last: Date | null }>();
  const cursor = store.events.find(
    { aggregateId: { $in: aggregateIds } },
    { projection: { usageTypeKey: 1, value: 1, timestamp: 1, dimensions: 1, customerKey: 1 } },
  );
  for await (const e of aggregateIds.length ? cursor : []) {
    // An alias's events count for the customer too; events under another key of the same customer are its usage.
    let entry = byType.get(e.usageTypeKey);
    if (!entry) {
      const type = await registry.newest(e.usageTypeKey);
      entry = { aggregator: new UsageAggregator(type?.aggregation.type ?? 'SUM'), unit: type?.unit ?? '', last: null };
      byType.set(e.usageTypeKey, entry);
    }
    entry.aggregator.add(e);
    if (!entry.last || e.timestamp > entry.last) entry.last = e.timestamp;
  }
  const heldEventCount = await store.held.countDocuments({ customerKey, periodKey: period.key });
  return {
    customerKey,
    periodKey: period.key,
    asOf: new Date(),
    heldEventCount,
    usage: [...byType.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([usageTypeKey, e]) => ({ usageTypeKey, unit: e.unit, lastEventAt: e.last, ...e.aggregator.result() })),
  };
}
