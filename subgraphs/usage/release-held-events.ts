// Use case: held events flow on by themselves once finance fixes the cause (customer created or mapped, subscription added).
import { config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { repeatInBackground } from '../../lib/background';
import { attribute, exceptionId, lookupCustomers, storedEvent } from './enrichment';
import { flagLate, insertByIdentity, openExceptions, quarantine, storedHashes } from './event-writes';
import { withinWriteBudget } from './freshness';
import { keeperEnabled, requestRefreshes } from './aggregate-keeper';
import type { HeldEventDoc, UsageExceptionDoc, UsageStore } from './store';
import { announceHeldReleased, raiseHeldUsage } from './work-queue-exceptions';

const BATCH = 1_000;

export interface ReleaseOutcome {
  exceptionId: string;
  released: number;
  stillHeld: number;
}

/** Tries every open exception (or one), stores what can now be attributed, and resolves exceptions left with nothing held. */
export async function releaseHeldEvents(store: UsageStore, log: Logger, only?: string): Promise<ReleaseOutcome[]> {
  const open = await store.exceptions.find(only ? { _id: only } : { status: 'OPEN' }).toArray();
  if (open.length === 0) return [];
  const customers = await lookupCustomers([...new Set(open.map((e) => e.customerKey))]);
  const outcomes: ReleaseOutcome[] = [];
  for (const listed of open) {
    outcomes.push(
      await store.locks.run(`release:${listed._id}`, async () => {
        // Read again under the lock: another release (the worker, or finance's resolution) may have released its
        // events and resolved it since the list was read. Acting on the old read resolved it a second time and told
        // the queue "0 held events stored" over the "3 stored" of the release that did the work (a full CI run saw it).
        const exception = (await store.exceptions.findOne({ _id: listed._id })) ?? listed;
        return releaseOne(store, exception, customers, log);
      }),
    );
  }
  return outcomes;
}

async function releaseOne(
  store: UsageStore,
  exception: UsageExceptionDoc,
  customers: Awaited<ReturnType<typeof lookupCustomers>>,
  log: Logger,
): Promise<ReleaseOutcome> {
  let released = 0;
  let rehomed = 0;
  const customer = customers.get(exception.customerKey);
  if (customer) {
    let after = '';
    for (;;) {
      const batch = await store.held
        .find({ exceptionId: exception._id, _id: { $gt: after } })
        .sort({ _id: 1 })
        .limit(BATCH)
        .toArray();
      if (batch.length === 0) break;
      after = batch[batch.length - 1]!._id;
      const ready = batch.flatMap((h) => {
        const a = attribute(customer, h.timestamp);
        return a.ok ? [{ h, doc: storedEvent({ ...h, id: h._id }, a) }] : [];
      });
      const now = new Date();
      const known = await storedHashes(
        store.events,
        ready.map((r) => r.doc._id),
      );
      await flagLate(
        store,
        ready.map((r) => r.doc),
        now,
        known,
      );
      withinWriteBudget(now);
      const outcomes = await insertByIdentity(
        store.events,
        ready.map((r) => r.doc),
        known,
      );
      if (keeperEnabled())
        await requestRefreshes(
          store,
          ready.filter((_, k) => outcomes[k] === 'STORED').map((r) => r.doc),
          exception.correlationId,
        );
      const conflicts = ready.filter((_, k) => outcomes[k] === 'CONFLICT').map((r) => r.h);
      await quarantine(
        store,
        conflicts.map((h) => ({
          payload: heldPayload(h),
          problems: [
            {
              code: 'EVENT_CONFLICT',
              field: 'id',
              reason: `an event with source "${h.source}" and id "${h.eventId}" was stored with different content while this one was held`,
            },
          ],
        })),
        exception.correlationId,
      );
      // Stored (or quarantined) first, then no longer held: a crash in between leaves a duplicate the next run skips.
      await store.held.deleteMany({ _id: { $in: ready.map((r) => r.h._id) }, exceptionId: exception._id });
      released += ready.length - conflicts.length;

      // The customer is known now but had no subscription then: the event waits on that instead.
      const rehome = batch.filter((h) => h.reason === 'CUSTOMER_UNKNOWN' && !ready.some((r) => r.h._id === h._id));
      const moved = rehome.map((h): HeldEventDoc => ({
        ...h,
        reason: 'SUBSCRIPTION_NOT_ACTIVE',
        exceptionId: exceptionId('SUBSCRIPTION_NOT_ACTIVE', h.customerKey, h.periodKey),
      }));
      await openExceptions(store, moved, exception.correlationId);
      for (const m of moved) await store.held.replaceOne({ _id: m._id }, m);
      rehomed += moved.length;
    }
  }
  const stillHeld = await store.held.countDocuments({ exceptionId: exception._id });
  if (stillHeld === 0 && exception.status === 'OPEN') {
    // Re-read under the lock: finance may have recorded its resolution since this run started.
    const current = await store.locks.run(exception._id, async () => {
      const latest = (await store.exceptions.findOne({ _id: exception._id })) ?? exception;
      const resolved: UsageExceptionDoc = { ...latest, status: 'RESOLVED', resolvedAt: new Date() };
      await store.exceptions.replaceOne({ _id: exception._id }, resolved);
      return resolved;
    });
    await announceHeldReleased(store, current, released, rehomed);
    log.info({ exceptionId: exception._id, released }, 'usage exception resolved: held events released');
  } else if (released > 0 || rehomed > 0) {
    await raiseHeldUsage(store, exception);
  }
  return { exceptionId: exception._id, released, stillHeld };
}

function heldPayload(h: HeldEventDoc): unknown {
  return {
    id: h.eventId,
    source: h.source,
    type: h.usageTypeKey,
    typeVersion: h.usageTypeVersion,
    customer: h.customerKey,
    timestamp: h.timestamp.toISOString(),
    data: h.data,
  };
}

/** Runs the release every `intervalMs` in the background. */
export function startReleaseWorker(
  store: UsageStore,
  log: Logger,
  intervalMs = config().USAGE_RELEASE_MS,
): () => Promise<void> {
  return repeatInBackground('releasing held events', intervalMs, log, () => releaseHeldEvents(store, log));
}
