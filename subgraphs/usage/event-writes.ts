// Writing events, held events, exceptions and quarantine: inserts keyed by identity, so a replay never counts twice.
import type { Collection, Document } from 'mongodb';
import { contentHash, deterministicId } from '../../lib/ids';
import { duplicateKeyWriteErrors, writeErrorsOf } from '../../lib/mongo';
import type { Problem } from '../../lib/errors';
import type {
  HeldEventDoc,
  HoldReason,
  QuarantinedEventDoc,
  UsageEventDoc,
  UsageExceptionDoc,
  UsageStore,
} from './store';
import { markStale } from './freshness';
import { EVENT_LIMITS, boundedJsonText, nestsWithin, storableView } from '../../lib/untrusted-json';
import { quarantineGroupOf, raiseHeldUsage, settleQuarantineGroups } from './work-queue-exceptions';

export type WriteOutcome = 'STORED' | 'DUPLICATE' | 'CONFLICT';

/**
 * Inserts what is new; an identity already present is a DUPLICATE when the content matches and a CONFLICT when it
 * does not (the stored document is kept). Outcomes are in input order.
 *
 * Known duplicates are found first (one indexed `$in` read) and never sent: FerretDB inserts a batch in one
 * transaction and, when any document fails, inserts the whole batch again one document at a time — measured here,
 * 1 % duplicates made every 1,000-event batch 3–5× slower. A duplicate that appears between the read and the insert
 * (a concurrent sender) still fails on the unique _id and is settled the same way.
 */
export async function insertByIdentity<T extends Document & { _id: string; contentHash: string }>(
  collection: Collection<T>,
  docs: T[],
  known?: Map<string, string>,
): Promise<WriteOutcome[]> {
  const loose = looseCollection(collection);
  const outcomes: WriteOutcome[] = docs.map(() => 'STORED');
  if (docs.length === 0) return outcomes;
  const compare = (i: number, storedHash: string | undefined) =>
    (outcomes[i] = storedHash === docs[i]!.contentHash ? 'DUPLICATE' : 'CONFLICT');

  const firstOf = new Map<string, number>();
  docs.forEach((d, i) => !firstOf.has(d._id) && firstOf.set(d._id, i));
  const already = known ?? (await storedHashes(collection, [...firstOf.keys()]));
  const fresh: number[] = [];
  docs.forEach((d, i) => {
    if (already.has(d._id)) compare(i, already.get(d._id));
    else if (firstOf.get(d._id) !== i)
      compare(i, docs[firstOf.get(d._id)!]!.contentHash); // repeated within this batch
    else fresh.push(i);
  });
  if (fresh.length === 0) return outcomes;
  try {
    await loose.insertMany(fresh.map((i) => docs[i]!) as Array<{ _id: string; contentHash: string }>, {
      ordered: false,
    });
  } catch (error) {
    const duplicates = duplicateKeyWriteErrors(error);
    if (!duplicates) throw error;
    const raced = duplicates.map((w) => fresh[w.index]!);
    const stored = new Map(
      (
        await loose.find({ _id: { $in: raced.map((i) => docs[i]!._id) } }, { projection: { contentHash: 1 } }).toArray()
      ).map((d) => [d._id, d.contentHash]),
    );
    for (const i of raced) compare(i, stored.get(docs[i]!._id));
  }
  return outcomes;
}

// The driver's generic insert/find types cannot follow T here; the documents are plain and carry their own _id.
const looseCollection = <T extends Document>(c: Collection<T>) =>
  c as unknown as Collection<{ _id: string; contentHash: string }>;

/** Content hashes of the documents already stored under these ids (one indexed `$in` read). */
export async function storedHashes<T extends Document>(
  collection: Collection<T>,
  ids: string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  return new Map(
    (
      await looseCollection(collection)
        .find({ _id: { $in: ids } }, { projection: { contentHash: 1 } })
        .toArray()
    ).map((d) => [d._id, d.contentHash]),
  );
}

/** Holds events that cannot be attributed yet, and opens (or reopens) one exception per customer key, reason and period. */
export async function holdEvents(
  store: UsageStore,
  held: HeldEventDoc[],
  correlationId: string,
): Promise<WriteOutcome[]> {
  const outcomes = await insertByIdentity(store.held, held);
  await openExceptions(
    store,
    held.filter((_, i) => outcomes[i] === 'STORED'),
    correlationId,
  );
  return outcomes;
}

export async function openExceptions(store: UsageStore, held: HeldEventDoc[], correlationId: string): Promise<void> {
  const now = new Date();
  const exceptions = new Map<string, { code: HoldReason; customerKey: string; periodKey: string }>();
  for (const h of held)
    exceptions.set(h.exceptionId, { code: h.reason, customerKey: h.customerKey, periodKey: h.periodKey });
  for (const [_id, e] of exceptions) {
    const doc = await store.locks.run(_id, async () => {
      const existing = await store.exceptions.findOne({ _id });
      const reopened = existing?.status === 'RESOLVED';
      const doc: UsageExceptionDoc = existing
        ? {
            ...existing,
            status: 'OPEN',
            lastSeenAt: now,
            resolvedAt: null,
            ...(reopened ? { openedAt: now, resolutionRequest: null } : {}),
          }
        : {
            _id,
            ...e,
            status: 'OPEN',
            firstSeenAt: now,
            lastSeenAt: now,
            resolvedAt: null,
            correlationId,
            openedAt: now,
          };
      await store.exceptions
        .replaceOne({ _id }, doc, { upsert: true })
        .catch(async () => store.exceptions.replaceOne({ _id }, doc));
      return doc;
    });
    // The work queue hears of it with what it holds now (at least the events held just now).
    await raiseHeldUsage(store, doc, held.filter((h) => h.exceptionId === _id).length);
  }
}

/** The most of a rejected payload a quarantine entry keeps as text (anything longer was over the event limit anyway). */
export const QUARANTINE_TEXT_LIMIT = EVENT_LIMITS.maxEventBytes;

/** What a quarantine entry keeps of a payload: its JSON text (what replay parses) and a storable view of it. */
export function quarantinedPayload(
  payload: unknown,
): Pick<QuarantinedEventDoc, 'payload' | 'payloadText' | 'payloadTruncated'> & { hash: string } {
  const { text, truncated } = boundedJsonText(payload ?? null, QUARANTINE_TEXT_LIMIT);
  // Same payload, same entry: hashed by content (key order aside) when it is shallow enough to walk, else by its text.
  const hash =
    !truncated && nestsWithin(payload, EVENT_LIMITS.maxDepth) ? contentHash(payload ?? null) : contentHash(text);
  return { payload: storableView(payload ?? null), payloadText: text, payloadTruncated: truncated, hash };
}

/**
 * Keeps rejected events with their payload and problems; the same payload sent again only counts again. The payload
 * is kept as JSON text plus a sanitised view, so keys such as "$where", "a.b" or NUL are stored by every
 * MongoDB-compatible database and never read as operators or paths.
 *
 * New entries are inserted, arrivals of known ones counted with one updateMany per count: a bulk of 100 update
 * statements on existing documents deadlocks FerretDB 1.24 (SQLite), measured here, which a producer retrying a
 * rejected batch would trigger. The first arrival's problems stand; a replay refreshes them.
 */
export async function quarantine(
  store: UsageStore,
  rejected: Array<{ payload: unknown; problems: Problem[] }>,
  correlationId: string,
): Promise<string[]> {
  const now = new Date();
  const kept = rejected.map((r) => quarantinedPayload(r.payload));
  const ids = kept.map((k) => deterministicId('qev', k.hash));
  if (rejected.length === 0) return ids;
  const arrivals = new Map<string, { first: number; count: number }>();
  ids.forEach((id, i) => {
    const a = arrivals.get(id);
    if (a) a.count++;
    else arrivals.set(id, { first: i, count: 1 });
  });
  const entry = (id: string, withView: boolean): QuarantinedEventDoc => {
    const { first, count } = arrivals.get(id)!;
    const { hash: _hash, ...payload } = kept[first]!;
    const group = quarantineGroupOf(rejected[first]!.payload, rejected[first]!.problems, now);
    return {
      _id: id,
      ...payload,
      ...(withView ? {} : { payload: null }),
      groupId: group.id,
      group,
      problems: rejected[first]!.problems,
      status: 'OPEN',
      resolution: null,
      receivedCount: count,
      firstReceivedAt: now,
      lastReceivedAt: now,
      correlationId,
    };
  };
  // One quarantine writer at a time in this process, so receivedCount counts every arrival (see lib/keyed-mutex.ts).
  await store.locks.run('quarantine', async () => {
    const known = new Set(
      (await store.quarantine.find({ _id: { $in: [...arrivals.keys()] } }, { projection: { _id: 1 } }).toArray()).map(
        (d) => d._id,
      ),
    );
    const fresh = [...arrivals.keys()].filter((id) => !known.has(id));
    const first = await insertEntries(
      store,
      fresh.map((id) => entry(id, true)),
    );
    // A database that takes the text but not the view (each has its quirks) still keeps the event.
    const textOnly = await insertEntries(
      store,
      first.refused.map((id) => entry(id, false)),
    );
    if (textOnly.refused.length > 0)
      throw new Error(`quarantine refused ${textOnly.refused.length} entries`, { cause: textOnly.error });
    for (const id of [...first.existing, ...textOnly.existing]) known.add(id); // inserted by another process meanwhile
    const byCount = new Map<number, string[]>();
    for (const id of known) {
      const { count } = arrivals.get(id)!;
      if (!byCount.has(count)) byCount.set(count, []);
      byCount.get(count)!.push(id);
    }
    for (const [count, sameCount] of byCount)
      await store.quarantine.updateMany(
        { _id: { $in: sameCount } },
        { $set: { lastReceivedAt: now, status: 'OPEN', resolution: null }, $inc: { receivedCount: count } },
      );
  });
  // The work queue holds one item per usage type, problem and day, not one per event.
  const groups = await store.quarantine
    .find({ _id: { $in: [...arrivals.keys()] } }, { projection: { groupId: 1 } })
    .toArray();
  await settleQuarantineGroups(
    store,
    groups.flatMap((g) => (g.groupId ? [g.groupId] : [])),
    correlationId,
  );
  return ids;
}

/** Inserts quarantine entries; says which were already there and which the database refused. */
async function insertEntries(
  store: UsageStore,
  docs: QuarantinedEventDoc[],
): Promise<{ existing: string[]; refused: string[]; error?: unknown }> {
  const outcome: { existing: string[]; refused: string[]; error?: unknown } = { existing: [], refused: [] };
  if (docs.length === 0) return outcome;
  try {
    await store.quarantine.insertMany(docs, { ordered: false });
  } catch (error) {
    const list = writeErrorsOf(error);
    if (list.length === 0) throw error;
    for (const w of list) (w.code === 11000 ? outcome.existing : outcome.refused).push(docs[w.index]!._id);
    outcome.error = error;
  }
  return outcome;
}

/**
 * Before the events are stored: flags those whose aggregate was already computed (`late`, what the sender is told),
 * and marks every aggregate they count in — late or not — naming the events, so a stored aggregate is brought up to
 * date from its marks alone (freshness.ts). An event already stored (`known`: a resend, a conflict) is not named: it
 * will not be stored again, and a fold must not count the stored one a second time.
 */
export async function flagLate(
  store: UsageStore,
  docs: UsageEventDoc[],
  at: Date,
  known?: ReadonlyMap<string, string>,
): Promise<void> {
  if (docs.length === 0) return;
  const aggregated = new Set(
    (
      await store.aggregates
        .find({ _id: { $in: [...new Set(docs.map((d) => d.aggregateId))] } }, { projection: { _id: 1 } })
        .toArray()
    ).map((a) => a._id),
  );
  for (const d of docs) d.late = aggregated.has(d.aggregateId);
  await markStale(
    store,
    docs.filter((d) => !known?.has(d._id)),
    at,
  );
}
