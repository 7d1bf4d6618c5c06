// Query: a customer's usage so far in a period, per usage type — what customer success looks at in a dispute.
import { parsePeriod, periodOf } from '../../lib/period';
import { UsageAggregator, type AggregateResult } from './aggregation';
import type { UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export interface CustomerUsage {
  customerKey: string;
  periodKey: string;
  asOf: Date;
  usage: Array<AggregateResult & { usageTypeKey: string; unit: string; lastEventAt: Date | null }>;
  heldEventCount: number;
}

export async function customerUsage(store: UsageStore, registry: UsageTypeRegistry, customerKey: string, periodKey?: string | null): Promise<CustomerUsage> {
  const period = periodKey ? parsePeriod(periodKey) : periodOf(new Date());
  const byType = new Map<string, { aggregator: UsageAggregator; unit: string; last: Date | null }>();
  const cursor = store.events.find({ customerKey, timestamp: { $gte: period.start, $lt: period.end } }, { projection: { usageTypeKey: 1, value: 1, timestamp: 1, dimensions: 1 } });
  for await (const e of cursor) {
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
    usage: [...byType.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([usageTypeKey, e]) => ({ usageTypeKey, unit: e.unit, lastEventAt: e.last, ...e.aggregator.result() })),
  };
}
