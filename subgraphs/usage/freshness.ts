// When a stored aggregate can be trusted, and marking it stale when late events arrive.
//
// The rule rests on one bound: an ingestion stores its events within WRITE_BUDGET_MS of checking which aggregates
// exist (it gives up otherwise). So an aggregate computed more than SETTLE_MS ago, with no stale mark from that time
// on, has counted every event that will ever be stored for it — except late ones, which mark it before they are stored.
// That holds only for a scan that started SETTLE_MS after the aggregate was first stored: an ingestion that checked
// just before it existed did not flag its events late, and may store them up to WRITE_BUDGET_MS later.
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
 * Before storing late events: their aggregates must be brought up to date before they are used again. A mark names
 * its events, so an aggregate can fold in just those (see foldForward in aggregate-usage.ts).
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
 * Whether the aggregate's last scan (or fold) started SETTLE_MS after it was first stored: every event an ingestion
 * stored without flagging it late (it checked before the aggregate existed) was stored by then and counted.
 */
export const scannedAfterFirstStored = (a: Pick<UsageAggregateDoc, 'firstComputedAt' | 'computedAt'>): boolean =>
  a.firstComputedAt !== undefined && a.firstComputedAt.getTime() <= a.computedAt.getTime() - SETTLE_MS;

/**
 * The stored aggregates that can be used as they are; the rest (missing, recent, marked, or not yet scanned
 * SETTLE_MS after first being stored) need bringing up to date.
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
    if (settled && !marked && scannedAfterFirstStored(a)) trusted.set(a._id, a);
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
