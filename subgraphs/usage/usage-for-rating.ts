// Use case: what rating reads of many subscriptions' usage (the pricing subgraph's usageForRating), and the record of
// what it read: lateUsage counts a period's late events against that, not against the aggregate's own freshness, which
// the keeper, customerUsage and aggregateUsage move forward without rating anything.
import { randomUUID } from 'node:crypto';
import { aggregatesForRating, type AggregateForRating, type AggregateRequest } from './aggregate-usage';
import type { RatingReadDoc, UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

/** The aggregates rating asked for, each recorded as read by rating (insert-only, one record per aggregate and read). */
export async function usageForRating(
  store: UsageStore,
  registry: UsageTypeRegistry,
  periodKey: string,
  requests: readonly AggregateRequest[],
  correlationId: string,
): Promise<AggregateForRating[]> {
  const results = await aggregatesForRating(store, registry, periodKey, requests, correlationId);
  await recordRatingReads(store, results, correlationId);
  return results;
}

/**
 * Records what rating read of each aggregate, where it differs from the newest record (lateUsage reads only its event
 * count), then removes those aggregates' older records: the newest read stands for what is rated. A re-rating of
 * unchanged usage reads the records and writes nothing. Inserts need no isolation across processes; a removal only
 * ever takes records older than one it just inserted, so the newest of any two concurrent ratings stays.
 */
export async function recordRatingReads(
  store: UsageStore,
  results: readonly AggregateForRating[],
  correlationId: string,
  ratedAt = new Date(),
): Promise<void> {
  const byAggregate = new Map(results.map((r) => [r.aggregate._id, r.aggregate]));
  if (byAggregate.size === 0) return;
  const recorded = new Map<string, RatingReadDoc>();
  for (const r of await store.ratingReads.find({ aggregateId: { $in: [...byAggregate.keys()] } }).toArray())
    recorded.set(r.aggregateId, newestRead(recorded.get(r.aggregateId) ?? null, r));
  const changed = [...byAggregate.values()].filter((a) => recorded.get(a._id)?.eventCount !== a.eventCount);
  if (changed.length === 0) return;
  const docs: RatingReadDoc[] = changed.map((a) => ({
    _id: randomUUID(),
    aggregateId: a._id,
    periodKey: a.periodKey,
    eventCount: a.eventCount,
    computedAt: a.computedAt,
    lastReceivedAt: a.lastReceivedAt,
    ratedAt,
    correlationId,
  }));
  await store.ratingReads.insertMany(docs);
  const superseded = changed.filter((a) => recorded.has(a._id)).map((a) => a._id);
  if (superseded.length > 0)
    await store.ratingReads.deleteMany({ aggregateId: { $in: superseded }, ratedAt: { $lt: ratedAt } });
}

/** The later of two records (the larger count when two ratings read at the same instant). */
function newestRead(newest: RatingReadDoc | null, r: RatingReadDoc): RatingReadDoc {
  return !newest ||
    r.ratedAt > newest.ratedAt ||
    (r.ratedAt.getTime() === newest.ratedAt.getTime() && r.eventCount > newest.eventCount)
    ? r
    : newest;
}

/** The newest record of rating reading this aggregate; null when rating never read it (or before reads were kept). */
export async function lastRatingRead(store: UsageStore, aggregateId: string): Promise<RatingReadDoc | null> {
  const reads = await store.ratingReads.find({ aggregateId }).toArray();
  return reads.reduce<RatingReadDoc | null>(newestRead, null);
}
