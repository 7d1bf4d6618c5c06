// Background work: keeps the stored aggregates current as events arrive, so that the first read of a period (rating,
// customerUsage) finds an aggregate it can use as stored or fold forward, instead of reading every event itself.
//
// Ingestion, after storing events, inserts one refresh request per aggregate they count in (`_id` = aggregate id,
// insert-only: a request already waiting takes the new events too). The keeper's own requests for later (a rescan,
// shedding remembered ids, a backed-off failure) wait under `<aggregate id>#later`, so they never hold back new
// events. The keeper takes due requests, deletes each before working — so events stored after that delete come with a
// request of their own — and brings the aggregate up to date through aggregatesForRating, the code rating uses (under
// the aggregate's record lock): one scan when it is first stored, then folds of the events its marks name. An
// aggregate not foldable (its scan had to remember too many marked ids) gets a request due when it will be, so that
// rescan also happens here and not in a customer's request.
import { repeatInBackground } from '../../lib/background';
import { config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { duplicateKeyWriteErrors, isDuplicateKeyError } from '../../lib/mongo';
import { retryDelayMs, type BackoffPolicy } from '../../lib/retry';
import { aggregatesForRating } from './aggregate-usage';
import { SETTLE_MS } from './freshness';
import type { AggregateRefreshDoc, UsageAggregateDoc, UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

/** Refresh requests worked off per pass, at most. */
export const KEEPER_PAGE = 50;

/** A refresh that failed is asked for again after this backoff (a minute, doubling, at most an hour). */
export const KEEPER_BACKOFF: BackoffPolicy = { baseDelayMs: SETTLE_MS, maxDelayMs: 3_600_000 };

const laterId = (aggregateId: string) => `${aggregateId}#later`;

/** Whether ingestion requests refreshes at all: only while some process keeps them (the setting is not 0). */
export const keeperEnabled = (): boolean => config().USAGE_AGGREGATE_KEEPER_MS > 0;

/**
 * How long ingestion's request waits before the keeper takes it: five keeper intervals (5 s by default). Batches
 * stored meanwhile join the waiting request, so under steady ingestion an aggregate is brought up to date once per
 * wait, not once per keeper pass (measured: with requests due at once, the keeper's folds halved the ingestion rate
 * of bench:ingest — 200 aggregates refreshed every second).
 */
export const refreshWaitMs = (): number => 5 * config().USAGE_AGGREGATE_KEEPER_MS;

/**
 * Asks for these aggregates to be brought up to date (after their events are stored), after refreshWaitMs. A request
 * already waiting for an aggregate stands for the new events too, so a duplicate key is success.
 */
export async function requestRefreshes(
  store: UsageStore,
  events: Iterable<Pick<AggregateRefreshDoc, 'aggregateId' | 'subscriptionId' | 'usageTypeKey' | 'periodKey'>>,
  correlationId: string,
  /** For the keeper's own request, due then; none: due now. */
  later?: Date,
): Promise<void> {
  const docs = new Map<string, AggregateRefreshDoc>();
  for (const e of events)
    if (!docs.has(e.aggregateId))
      docs.set(e.aggregateId, {
        _id: later ? laterId(e.aggregateId) : e.aggregateId,
        aggregateId: e.aggregateId,
        subscriptionId: e.subscriptionId,
        usageTypeKey: e.usageTypeKey,
        periodKey: e.periodKey,
        dueAt: (later ?? new Date(Date.now() + refreshWaitMs())).toISOString(),
        requestedAt: new Date(),
        correlationId,
      });
  if (docs.size === 0) return;
  try {
    await store.refreshes.insertMany([...docs.values()], { ordered: false });
  } catch (error) {
    if (!duplicateKeyWriteErrors(error)) throw error;
  }
}

/**
 * When a stored aggregate can next be brought forward without reading all its events; null when it already can, or
 * never can (unique counts, time-weighted and carried aggregates are recomputed by their reader). Field totals rating
 * asked for fold with the tally (foldForward), so such an aggregate is kept like any other.
 */
export function foldableFrom(a: UsageAggregateDoc): Date | null {
  if (!a.firstComputedAt) return a.computedAt;
  if (!a.tally || a.carryOut || a.lastEventAt === undefined) return null;
  // Too many marked events to remember: once those marks are older than a scan's window, the next scan keeps few.
  if (!a.countedMarkedEventIds) return new Date(a.computedAt.getTime() + SETTLE_MS);
  return null;
}

/**
 * When a fold can drop the marked event ids the aggregate still remembers (their marks then being older than its
 * window, and deleted): until then every read folds them again — with 10,000-event batches, a second read per batch.
 */
export function sheddingFrom(a: UsageAggregateDoc): Date | null {
  return a.countedMarkedEventIds?.length ? new Date(a.computedAt.getTime() + SETTLE_MS + 1_000) : null;
}

/** Whether a stored aggregate is one the keeper brings forward when its events change (it folds). */
const keptByFolding = (a: UsageAggregateDoc) => Boolean(a.tally) && !a.carryOut;

export interface KeeperPass {
  refreshed: number;
  deferred: number;
  failed: number;
}

/**
 * One pass: the due requests (a bounded page), each deleted, then its aggregate brought up to date. A refresh that
 * fails (an aggregate too big to scan in time, an event it cannot read) backs off on its own and is logged once; the
 * other requests of the pass go on, and new events for it wait for its backed-off request instead of retrying at once.
 */
export async function keepAggregates(
  store: UsageStore,
  registry: UsageTypeRegistry,
  log: Logger,
  stopped: () => boolean = () => false,
): Promise<KeeperPass> {
  const pass: KeeperPass = { refreshed: 0, deferred: 0, failed: 0 };
  const due = await store.refreshes
    .find({ dueAt: { $lte: new Date().toISOString() } })
    .sort({ dueAt: 1, _id: 1 })
    .limit(KEEPER_PAGE)
    .toArray();
  const backingOff = await failingLater(store, due);
  for (const request of due) {
    if (stopped()) break;
    try {
      // Deleted first: a request inserted from now on survives, and its events are stored before this work reads.
      const { deletedCount } = await store.refreshes.deleteOne({ _id: request._id, dueAt: request.dueAt });
      if (deletedCount === 0) continue; // another process took it
      // The failing aggregate's backed-off request reads every event stored by then, these too.
      if (backingOff.has(request.aggregateId) && request._id === request.aggregateId) {
        pass.deferred++;
        continue;
      }
      const outcome = await refreshOne(store, registry, request);
      if (outcome === 'deferred') pass.deferred++;
      else pass.refreshed++;
    } catch (error) {
      pass.failed++;
      await backOff(store, log, request, error).catch((e: unknown) =>
        log.error({ err: e, aggregateId: request.aggregateId }, 'aggregate refresh could not be asked for again'),
      );
    }
  }
  return pass;
}

/** The aggregates of these requests whose own later request is a backed-off failure, not yet due. */
async function failingLater(store: UsageStore, due: readonly AggregateRefreshDoc[]): Promise<Set<string>> {
  const fresh = due.filter((r) => r._id === r.aggregateId);
  if (fresh.length === 0) return new Set();
  const later = await store.refreshes.find({ _id: { $in: fresh.map((r) => laterId(r.aggregateId)) } }).toArray();
  const now = new Date().toISOString();
  return new Set(later.filter((r) => (r.failures ?? 0) > 0 && r.dueAt > now).map((r) => r.aggregateId));
}

/** Asks for a failed refresh again after its backoff (the keeper's own later request, replacing one waiting). */
async function backOff(store: UsageStore, log: Logger, request: AggregateRefreshDoc, error: unknown): Promise<void> {
  const failures = (request.failures ?? 0) + 1;
  const now = new Date();
  const dueAt = new Date(now.getTime() + retryDelayMs(failures, KEEPER_BACKOFF));
  // Once per failing aggregate: later failures of the same one would repeat it every backoff.
  if (failures === 1)
    log.warn(
      { err: error, aggregateId: request.aggregateId, retryAt: dueAt.toISOString() },
      'aggregate refresh failed; backing off (its readers still compute it themselves)',
    );
  else log.debug({ err: error, aggregateId: request.aggregateId, failures }, 'aggregate refresh failed again');
  const doc: AggregateRefreshDoc = {
    ...request,
    _id: laterId(request.aggregateId),
    dueAt: dueAt.toISOString(),
    requestedAt: now,
    failures,
  };
  // Two keepers failing at once both write about the same backoff: either one standing is right.
  await store.refreshes.replaceOne({ _id: doc._id }, doc, { upsert: true }).catch((e: unknown) => {
    if (!isDuplicateKeyError(e)) throw e;
  });
}

const refreshKey = (r: AggregateRefreshDoc) => ({
  aggregateId: r.aggregateId,
  subscriptionId: r.subscriptionId,
  usageTypeKey: r.usageTypeKey,
  periodKey: r.periodKey,
});

async function refreshOne(
  store: UsageStore,
  registry: UsageTypeRegistry,
  request: AggregateRefreshDoc,
): Promise<'refreshed' | 'deferred'> {
  const stored = await store.aggregates.findOne({ _id: request.aggregateId });
  const notBefore = stored && foldableFrom(stored);
  // Still young: the scan due then counts these events too, so none is read now (a reader meanwhile recomputes).
  if (notBefore && notBefore.getTime() > Date.now()) {
    await requestRefreshes(store, [refreshKey(request)], request.correlationId, notBefore);
    return 'deferred';
  }
  // A recompute on every batch would read every event each time: those are left to their reader.
  if (stored && !notBefore && !keptByFolding(stored)) return 'refreshed';
  const [result] = await aggregatesForRating(
    store,
    registry,
    request.periodKey,
    [{ subscriptionId: request.subscriptionId, usageTypeKeys: [request.usageTypeKey] }],
    request.correlationId,
  );
  const next = result && (foldableFrom(result.aggregate) ?? sheddingFrom(result.aggregate));
  if (next) await requestRefreshes(store, [refreshKey(request)], request.correlationId, next);
  return 'refreshed';
}

/** Starts the keeper (not when its setting is 0); returns its stop function. */
export function startAggregateKeeper(
  store: UsageStore,
  registry: UsageTypeRegistry,
  log: Logger,
  intervalMs = config().USAGE_AGGREGATE_KEEPER_MS,
): () => Promise<void> {
  if (intervalMs <= 0) return async () => undefined;
  return repeatInBackground('keeping aggregates current', intervalMs, log, async (job) => {
    const pass = await keepAggregates(store, registry, log, () => job.stopped);
    if (pass.refreshed + pass.failed > 0) log.debug(pass, 'aggregates kept current');
  });
}
