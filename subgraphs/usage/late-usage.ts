// Query: the aggregates of a period that received events after they were computed — what re-rating should pick up.
import { BY_ID, pageBy, type Page } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import type { UsageAggregateDoc, UsageStore } from './store';

export interface LateUsage {
  aggregate: UsageAggregateDoc;
  pendingEventCount: number;
}

/**
 * A page of the period's aggregates (one indexed query on {periodKey, _id}), keeping those with events received after
 * they were computed. Reading late events instead would scan the period's events, which have no period index.
 */
export async function lateUsage(
  store: UsageStore,
  periodKey: string,
  first?: number | null,
  after?: string | null,
): Promise<Page<LateUsage>> {
  const period = parsePeriod(periodKey);
  const page = await pageBy(store.aggregates, { periodKey: period.key }, BY_ID, first, after);
  const counted = await Promise.all(
    page.nodes.map(async (aggregate) => ({
      aggregate,
      pendingEventCount: await store.events.countDocuments({
        aggregateId: aggregate._id,
        receivedAt: { $gt: aggregate.lastReceivedAt ?? new Date(0) },
      }),
    })),
  );
  return { pageInfo: page.pageInfo, nodes: counted.filter((c) => c.pendingEventCount > 0) };
}
