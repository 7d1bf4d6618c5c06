// Query: the aggregates of a period that received events after they were computed — what re-rating should pick up.
import { parsePeriod } from '../../lib/period';
import type { UsageAggregateDoc, UsageStore } from './store';

export async function lateUsage(
  store: UsageStore,
  periodKey: string,
): Promise<Array<{ aggregate: UsageAggregateDoc; pendingEventCount: number }>> {
  const period = parsePeriod(periodKey);
  const late = await store.events
    .find({ periodKey: period.key, late: true }, { projection: { aggregateId: 1 } })
    .toArray();
  const ids = [...new Set(late.map((e) => e.aggregateId))];
  if (ids.length === 0) return [];
  const aggregates = await store.aggregates
    .find({ _id: { $in: ids } })
    .sort({ _id: 1 })
    .toArray();
  const out: Array<{ aggregate: UsageAggregateDoc; pendingEventCount: number }> = [];
  for (const aggregate of aggregates) {
    const pendingEventCount = await store.events.countDocuments({
      aggregateId: aggregate._id,
      receivedAt: { $gt: aggregate.lastReceivedAt ?? new Date(0) },
    });
    if (pendingEventCount > 0) out.push({ aggregate, pendingEventCount });
  }
  return out;
}
