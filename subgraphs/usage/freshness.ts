// When a stored aggregate can be trusted, and marking it stale when events arrive.
//
// Every ingestion marks the aggregates its events count in, naming the events, before it stores them, and stores them
// within WRITE_BUDGET_MS of the time the mark carries (it gives up otherwise). So a scan (or fold) that read the marks
// from SETTLE_MS before it started has seen a mark for every event stored after it passed, and an aggregate computed
// more than SETTLE_MS ago with no mark from that time on has counted every event stored for it. This holds from the
// aggregate's first scan on: an ingestion that checked before the aggregate existed marked its events all the same
// (before, only events whose aggregate existed were marked, so an aggregate was trusted or folded only after a second
// full scan SETTLE_MS after it was first stored — every read in its first minute read all its events again).
import { randomUUID } from 'node:crypto';
import { UserFacingError } from '../../lib/errors';
import type { UsageAggregateDoc, UsageStore } from './store';

export const WRITE_BUDGET_MS = 45_000;
export const SETTLE_MS = 60_000;

/** Refuses to store events whose aggregates were checked too long ago (the caller retries; nothing was written). */
export function withinWriteBudget(startedAt: Date): void {
  if (Date.now() - startedAt.getTime() > WRITE_BUDGET_MS) {
    throw new UserFacingError(
      'SUBGRAPH_UNAVAILABLE',
      'ingestion took too long to reach the database; nothing was stored, retry the batch',
      { retryable: true },
    );
  }
}

/**
 * Before storing events: their aggregates must be brought up to date before they are used again. A mark names its
 * events, so an aggregate can fold in just those (see foldForward in aggregate-usage.ts).
 */
export async function markStale(
  store: UsageStore,
  events: Iterable<{ aggregateId: string; _id: string }>,
  at: Date,
): Promise<void> {
  const byAggregate = new Map<string, string[]>();
  for (const e of events) byAggregate.set(e.aggregateId, [...(byAggregate.get(e.aggregateId) ?? []), e._id]);
  const docs = [...byAggregate].map(([aggregateId, eventIds]) => ({
    _id: randomUUID(),
    aggregateId,
    markedAt: at,
    eventIds,
  }));
  if (docs.length > 0) await store.staleMarks.insertMany(docs);
}

/**
 * The stored aggregates that can be used as they are; the rest (missing, recent or marked) need bringing up to date
 * (a fold when they can).
 */
export async function trustedAggregates(
  store: UsageStore,
  ids: string[],
  now = new Date(),
): Promise<Map<string, UsageAggregateDoc>> {
  if (ids.length === 0) return new Map();
  const [stored, marks] = await Promise.all([
    store.aggregates.find({ _id: { $in: ids } }).toArray(),
    store.staleMarks.find({ aggregateId: { $in: ids } }).toArray(),
  ]);
  const latestMark = new Map<string, number>();
  for (const m of marks)
    latestMark.set(m.aggregateId, Math.max(latestMark.get(m.aggregateId) ?? 0, m.markedAt.getTime()));
  const trusted = new Map<string, UsageAggregateDoc>();
  for (const a of stored) {
    const settled = a.computedAt.getTime() < now.getTime() - SETTLE_MS;
    const marked = (latestMark.get(a._id) ?? -Infinity) >= a.computedAt.getTime() - SETTLE_MS;
    if (settled && !marked) trusted.set(a._id, a);
  }
  return trusted;
}

/** After a recompute that started at `scanStart`: marks so old their events were surely counted are done with. */
export async function clearSettledMarks(store: UsageStore, aggregateId: string, scanStart: Date): Promise<void> {
  const old = await store.staleMarks
    .find({ aggregateId, markedAt: { $lt: new Date(scanStart.getTime() - SETTLE_MS) } }, { projection: { _id: 1 } })
    .toArray();
  if (old.length > 0) await store.staleMarks.deleteMany({ _id: { $in: old.map((m) => m._id) } });
}
