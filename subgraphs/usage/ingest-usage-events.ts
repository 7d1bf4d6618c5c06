// Use case: validate, enrich, deduplicate and store a batch of usage events, with a result per event.
import { z } from 'zod';
import { contentHash } from '../../lib/ids';
import { customerKey } from '../../lib/customer-key';
import { UserFacingError, fieldPath, zodProblems, type Problem } from '../../lib/errors';
import { inspectUntrustedJson } from '../../lib/untrusted-json';
import { periodOf } from '../../lib/period';
import { attribute, eventId, exceptionId, lookupCustomers, storedEvent, type ValidatedEvent } from './enrichment';
import { flagLate, holdEvents, insertByIdentity, quarantine } from './event-writes';
import { withinWriteBudget } from './freshness';
import { keeperEnabled, requestRefreshes } from './aggregate-keeper';
import type { HeldEventDoc, UsageEventDoc, UsageStore, UsageTypeDoc } from './store';
import type { Resolution, UsageTypeRegistry } from './usage-type-registry';
import { countUsageEvents } from '../../lib/metrics';

export const MAX_EVENTS_PER_CALL = 10_000;

export type IngestStatus = 'ACCEPTED' | 'DUPLICATE' | 'HELD' | 'REJECTED';

export interface EventResult {
  index: number;
  eventId: string | null;
  source: string | null;
  status: IngestStatus;
  usageEventId: string | null;
  quarantineId: string | null;
  /** HELD: the finance exception the event waits on. */
  exceptionId: string | null;
  late: boolean;
  problems: Problem[];
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  held: number;
  rejected: number;
  results: EventResult[];
  correlationId: string;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const MAX_IDENTITY_LENGTH = 256;
// Ids and sources end up in logs, messages and ERP tags: printable text only.
const identity = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_IDENTITY_LENGTH, `must be at most ${MAX_IDENTITY_LENGTH} characters`)
  .refine((v) => !/\p{C}/u.test(v), { message: 'must not contain control or unprintable characters' });
const envelope = z.object({
  id: identity,
  source: identity,
  type: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
  typeVersion: z
    .union([z.string().max(16, 'must be at most 16 characters'), z.number().int()])
    .transform(String)
    .nullish(),
  customer: customerKey,
  timestamp: z
    .string()
    .max(64, 'must be at most 64 characters')
    .refine((v) => ISO_INSTANT.test(v) && !Number.isNaN(Date.parse(v)), {
      message: 'must be an ISO 8601 instant with a time zone, e.g. "2026-10-01T12:00:00Z"',
    }),
  data: z.unknown(),
});
type Envelope = z.infer<typeof envelope>;

export interface IngestOptions {
  /** false: a replay of quarantined events updates their entries instead of counting new arrivals. */
  quarantineRejected?: boolean;
  /** Events an adapter already found unreadable (e.g. a bad NDJSON line): rejected and quarantined with these problems. */
  rejectedUpfront?: ReadonlyMap<number, Problem[]>;
}

export async function ingestUsageEvents(
  store: UsageStore,
  registry: UsageTypeRegistry,
  rawEvents: readonly unknown[],
  correlationId: string,
  options: IngestOptions = {},
): Promise<IngestResult> {
  if (rawEvents.length > MAX_EVENTS_PER_CALL) {
    throw new UserFacingError('VALIDATION_FAILED', `events: ${rawEvents.length} events in one call is over the limit`, {
      field: 'events',
      expected: `at most ${MAX_EVENTS_PER_CALL} events per call; split the batch`,
    });
  }
  const receivedAt = new Date();
  // Echoed back only when it could be an identity: a hostile megabyte-long id is not sent back.
  const echo = (v: unknown) => (typeof v === 'string' && v.length <= MAX_IDENTITY_LENGTH ? v : null);
  const results: EventResult[] = rawEvents.map((raw, index) => {
    const r = raw as Partial<Envelope> | null;
    return {
      index,
      eventId: echo(r?.id),
      source: echo(r?.source),
      status: 'ACCEPTED',
      usageEventId: null,
      quarantineId: null,
      exceptionId: null,
      late: false,
      problems: [],
    };
  });
  const reject = (i: number, problems: Problem[]) => {
    results[i]!.status = 'REJECTED';
    results[i]!.usageEventId = null;
    results[i]!.problems.push(...problems);
  };

  // Limits, unsafe keys and unstorable strings first (nothing below hashes, stores or logs a value that fails them),
  // then the envelope: once per event, for steps 0 and 1.
  const screened = rawEvents.map((raw, i) => {
    if (options.rejectedUpfront?.has(i)) return null;
    const unfit = inspectUntrustedJson(raw, `events[${i}]`);
    return { unfit, parsed: unfit.length > 0 ? null : envelope.safeParse(raw) };
  });

  // 0. Events already stored under their identity: an identical re-send is a DUPLICATE whatever the registry says now,
  // so it is checked against the version it was stored under, before any version is resolved for it.
  const alreadyStored = await storedIdentities(
    store,
    screened.flatMap((s) => (s?.parsed?.success ? [eventId(s.parsed.data.source, s.parsed.data.id)] : [])),
  );
  const replayOfStored = async (e: Envelope, i: number): Promise<boolean> => {
    const prior = alreadyStored.get(eventId(e.source, e.id));
    if (!prior || prior.usageTypeKey !== e.type) return false;
    const version = (await registry.versionsOf(e.type)).find((d) => d._id === prior.usageTypeId);
    if (!version) return false;
    const again = validate(registry, version, e, i, correlationId, receivedAt, () => undefined);
    if (!again || again.contentHash !== prior.contentHash) return false;
    Object.assign(results[i]!, { status: 'DUPLICATE', usageEventId: prior._id, late: false });
    return true;
  };

  // 1. The envelope, the usage type version it means, and its data, per event.
  const types = new Map<string, Promise<Resolution>>();
  const resolve = (e: Pick<Envelope, 'type' | 'typeVersion'>) => {
    const k = `${e.type}@${e.typeVersion ?? ''}`;
    if (!types.has(k)) types.set(k, registry.resolve(e.type, e.typeVersion));
    return types.get(k)!;
  };
  /** The data's problems of an event whose envelope is wrong, when its type and version still say what to check. */
  const dataProblems = async (raw: unknown, i: number): Promise<Problem[]> => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
    const r = raw as Record<string, unknown>;
    const version = r['typeVersion'];
    if (typeof r['type'] !== 'string' || r['type'].length === 0 || r['type'].length > 128) return [];
    if (version != null && typeof version !== 'string') return [];
    if (typeof version === 'string' && version.length > 16) return [];
    const resolution = await resolve({ type: r['type'], typeVersion: version ?? null });
    if (!resolution.ok) return [];
    const check = registry.compile(resolution.type).validate(r['data'], fieldPath(`events[${i}]`, ['data']));
    return check.ok ? [] : check.problems;
  };
  const validated = await Promise.all(
    rawEvents.map(async (raw, i): Promise<ValidatedEvent | null> => {
      const upfront = options.rejectedUpfront?.get(i);
      if (upfront) {
        reject(i, upfront);
        return null;
      }
      const { unfit, parsed } = screened[i]!;
      if (!parsed) {
        reject(i, unfit);
        return null;
      }
      if (!parsed.success) {
        // Every problem at once: a bad timestamp or id must not hide what is wrong in the data.
        reject(i, [...zodProblems(parsed.error, `events[${i}]`), ...(await dataProblems(raw, i))]);
        return null;
      }
      const e = parsed.data;
      if (await replayOfStored(e, i)) return null;
      const resolution = await resolve(e);
      if (!resolution.ok) {
        const { on, ...problem } = resolution.problem;
        reject(i, [{ ...problem, field: `events[${i}].${on}` }]);
        return null;
      }
      return validate(registry, resolution.type, e, i, correlationId, receivedAt, reject);
    }),
  );

  // 2. Attribution: customer (by key or alias) and the subscription active when the usage happened, one call per batch.
  // Which of them are already stored is what step 0 read (every validated event's id was among its ids); one stored
  // since by a concurrent sender fails on the unique _id when inserted and is settled the same way.
  const customers = await lookupCustomers([...new Set(validated.flatMap((v) => (v ? [v.customerKey] : [])))]);
  const known = new Map([...alreadyStored].map(([id, d]) => [id, d.contentHash]));
  const toStore: Array<{ i: number; doc: UsageEventDoc }> = [];
  const toHold: Array<{ i: number; doc: HeldEventDoc }> = [];
  validated.forEach((v, i) => {
    if (!v) return;
    const a = attribute(customers.get(v.customerKey), v.timestamp);
    if (a.ok) {
      toStore.push({ i, doc: storedEvent(v, a) });
    } else {
      const periodKey = periodOf(v.timestamp).key;
      const { id, ...rest } = v;
      toHold.push({
        i,
        doc: {
          _id: id,
          ...rest,
          exceptionId: exceptionId(a.reason, v.customerKey, periodKey),
          reason: a.reason,
          periodKey,
        },
      });
    }
  });

  // 3. Late usage: its period was already aggregated; every aggregate the events count in is marked before they are stored.
  await flagLate(
    store,
    toStore.map((s) => s.doc),
    receivedAt,
    known,
  );
  withinWriteBudget(receivedAt);

  // 4. Store and hold; the unique _id is the dedup: a replay fails to insert and is compared with what is stored.
  const conflict = (i: number, doc: { source: string; eventId: string }) =>
    reject(i, [
      {
        code: 'EVENT_CONFLICT',
        field: `events[${i}].id`,
        reason: `an event with source "${doc.source}" and id "${doc.eventId}" was already received with different content; the stored event is kept`,
        expected: 'a new id for a new event, or the identical payload for a retry',
      },
    ]);
  const stored = await insertByIdentity(
    store.events,
    toStore.map((s) => s.doc),
    known,
  );
  // Stored first, then asked for: the keeper deletes a request before it reads, so it finds these events.
  if (keeperEnabled())
    await requestRefreshes(
      store,
      toStore.filter((_, k) => stored[k] === 'STORED').map((s) => s.doc),
      correlationId,
    );
  toStore.forEach(({ i, doc }, k) => {
    const outcome = stored[k]!;
    if (outcome === 'CONFLICT') return conflict(i, doc);
    Object.assign(results[i]!, {
      status: outcome === 'STORED' ? 'ACCEPTED' : 'DUPLICATE',
      usageEventId: doc._id,
      late: doc.late,
    });
  });
  const held = await holdEvents(
    store,
    toHold.map((h) => h.doc),
    correlationId,
  );
  toHold.forEach(({ i, doc }, k) => {
    const outcome = held[k]!;
    if (outcome === 'CONFLICT') return conflict(i, doc);
    Object.assign(results[i]!, { status: 'HELD', usageEventId: doc._id, exceptionId: doc.exceptionId });
    results[i]!.problems.push({
      code: doc.reason,
      field: `events[${i}].${doc.reason === 'CUSTOMER_UNKNOWN' ? 'customer' : 'timestamp'}`,
      reason: heldReason(doc),
      expected: 'nothing from the sender: finance resolves the exception and the event flows on by itself',
    });
  });
  // An event held earlier and now accepted (sent again after its customer was set up) is no longer held.
  const accepted = toStore.filter((_, k) => stored[k] === 'STORED').map((s) => s.doc._id);
  if (accepted.length > 0) {
    const wasHeld = (await store.held.find({ _id: { $in: accepted } }, { projection: { _id: 1 } }).toArray()).map(
      (h) => h._id,
    );
    if (wasHeld.length > 0) await store.held.deleteMany({ _id: { $in: wasHeld } });
  }

  // 5. Quarantine every rejected event with its raw payload, so nothing is silently dropped.
  if (options.quarantineRejected !== false) {
    const rejected = results.filter((r) => r.status === 'REJECTED');
    const quarantineIds = await quarantine(
      store,
      rejected.map((r) => ({ payload: rawEvents[r.index], problems: r.problems })),
      correlationId,
    );
    rejected.forEach((r, k) => (r.quarantineId = quarantineIds[k]!));
  }

  const count = (s: IngestStatus) => results.filter((r) => r.status === s).length;
  const outcome = {
    accepted: count('ACCEPTED'),
    duplicates: count('DUPLICATE'),
    held: count('HELD'),
    rejected: count('REJECTED'),
  };
  countUsageEvents(outcome);
  return { ...outcome, results, correlationId };
}

function validate(
  registry: UsageTypeRegistry,
  type: UsageTypeDoc,
  e: Envelope,
  i: number,
  correlationId: string,
  receivedAt: Date,
  reject: (i: number, p: Problem[]) => void,
): ValidatedEvent | null {
  const check = registry.compile(type).validate(e.data, fieldPath(`events[${i}]`, ['data']));
  if (!check.ok) {
    reject(i, check.problems);
    return null;
  }
  const timestamp = new Date(e.timestamp);
  return {
    id: eventId(e.source, e.id),
    eventId: e.id,
    source: e.source,
    usageTypeId: type._id,
    usageTypeKey: type.key,
    usageTypeVersion: type.version,
    customerKey: e.customer,
    timestamp,
    data: check.data,
    value: check.value,
    dimensions: check.dimensions,
    contentHash: contentHash({
      type: type.key,
      version: type.version,
      customer: e.customer,
      timestamp: timestamp.toISOString(),
      data: check.data,
    }),
    correlationId,
    receivedAt,
  };
}

export function heldReason(h: Pick<HeldEventDoc, 'reason' | 'customerKey' | 'periodKey'>): string {
  return h.reason === 'CUSTOMER_UNKNOWN'
    ? `no customer has key "${h.customerKey}"; the event is held until finance maps it`
    : `customer "${h.customerKey}" has no subscription active in ${h.periodKey}; the event is held until one covers it`;
}

/** The identity, type version and content hash of the events already stored under these ids (one indexed read). */
async function storedIdentities(
  store: UsageStore,
  ids: string[],
): Promise<Map<string, Pick<UsageEventDoc, '_id' | 'usageTypeId' | 'usageTypeKey' | 'contentHash'>>> {
  if (ids.length === 0) return new Map();
  const found = await store.events
    .find({ _id: { $in: [...new Set(ids)] } }, { projection: { usageTypeId: 1, usageTypeKey: 1, contentHash: 1 } })
    .toArray();
  return new Map(found.map((d) => [d._id, d]));
}
