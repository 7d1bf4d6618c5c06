// Query: the aggregates of a period that received events after rating read them — what re-rating should pick up.
import { BY_ID, pageBy, type Page } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import type { UsageAggregateDoc, UsageStore } from './store';
import { lastRatingRead } from './usage-for-rating';

export interface LateUsage {
  aggregate: UsageAggregateDoc;
  pendingEventCount: number;
}

/**
 * A page of the period's aggregates (one indexed query on {periodKey, _id}), keeping those with events beyond what
 * rating last read of them: the events stored now less the count rating priced (events are never removed), so a
 * keeper, customerUsage or aggregateUsage bringing the aggregate up to date does not hide them, and an event that
 * was on its way while rating read is counted too. An aggregate rating never read (or read before its reads were
 * recorded) counts the events received after it was last computed, as before. Reading late events instead would scan
 * the period's events, which have no period index.
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
    page.nodes.map(async (aggregate) => ({ aggregate, pendingEventCount: await pendingAfterRating(store, aggregate) })),
  );
  return { pageInfo: page.pageInfo, nodes: counted.filter((c) => c.pendingEventCount > 0) };
}

async function pendingAfterRating(store: UsageStore, aggregate: UsageAggregateDoc): Promise<number> {
  const rated = await lastRatingRead(store, aggregate._id);
  if (!rated)
    return store.events.countDocuments({
      aggregateId: aggregate._id,
      receivedAt: { $gt: aggregate.lastReceivedAt ?? new Date(0) },
    });
  return Math.max(0, (await store.events.countDocuments({ aggregateId: aggregate._id })) - rated.eventCount);
}
