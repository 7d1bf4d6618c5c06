// Use case: validate, enrich, deduplicate and store a batch of usage events, with a result per event.
import { z } from 'zod';
import { contentHash, deterministicId } from '../../lib/ids';
import { UserFacingError, fieldPath, zodProblems, type Problem } from '../../lib/errors';
import { isWithin, periodOf } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import type { UsageEventDoc, UsageStore, UsageTypeDoc } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';
import type { MongoBulkWriteError } from 'mongodb';

export const MAX_EVENTS_PER_CALL = 10_000;

export type IngestStatus = 'ACCEPTED' | 'DUPLICATE' | 'REJECTED';

export interface EventResult {
  index: number;
  eventId: string | null;
  source: string | null;
  status: IngestStatus;
  usageEventId: string | null;
  quarantineId: string | null;
  problems: Problem[];
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: EventResult[];
  correlationId: string;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const identity = z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters');
const envelope = z.object({
  id: identity,
  source: identity,
  type: z.string().min(1, 'must not be empty'),
  typeVersion: z.number().int().min(1).nullish(),
  customer: z.string().min(1, 'must not be empty').max(128),
  timestamp: z.string().refine((v) => ISO_INSTANT.test(v) && !Number.isNaN(Date.parse(v)), { message: 'must be an ISO 8601 instant with a time zone, e.g. "2026-10-01T12:00:00Z"' }),
  data: z.unknown(),
});
type Envelope = z.infer<typeof envelope>;

interface CustomerView {
  id: string;
  externalKey: string;
  subscriptions: Array<{ id: string; startsAt: string; endsAt: string | null }>;
}

export async function ingestUsageEvents(store: UsageStore, registry: UsageTypeRegistry, rawEvents: readonly unknown[], correlationId: string): Promise<IngestResult> {
  if (rawEvents.length > MAX_EVENTS_PER_CALL) {
    throw new UserFacingError('VALIDATION_FAILED', `events: ${rawEvents.length} events in one call is over the limit`, { field: 'events', expected: `at most ${MAX_EVENTS_PER_CALL} events per call; split the batch` });
  }
  const receivedAt = new Date();
  const results: EventResult[] = rawEvents.map((raw, index) => {
    const r = raw as Partial<Envelope> | null;
    return { index, eventId: typeof r?.id === 'string' ? r.id : null, source: typeof r?.source === 'string' ? r.source : null, status: 'ACCEPTED', usageEventId: null, quarantineId: null, problems: [] };
  });
  const reject = (i: number, problems: Problem[]) => {
    results[i]!.status = 'REJECTED';
    results[i]!.problems.push(...problems);
  };

  // 1. Envelope and usage type, per event.
  const envelopes: Array<Envelope | null> = rawEvents.map((raw, i) => {
    const parsed = envelope.safeParse(raw);
    if (!parsed.success) {
      reject(i, zodProblems(parsed.error, `events[${i}]`));
      return null;
    }
    return parsed.data;
  });
  const types = new Map<string, Promise<UsageTypeDoc | null>>();
  const typeOf = (e: Envelope) => {
    const k = `${e.type}@${e.typeVersion ?? 'newest'}`;
    if (!types.has(k)) types.set(k, registry.find(e.type, e.typeVersion));
    return types.get(k)!;
  };
  const validated = await Promise.all(
    envelopes.map(async (e, i) => {
      if (!e) return null;
      const type = await typeOf(e);
      if (!type) {
        reject(i, [{ code: 'USAGE_TYPE_UNKNOWN', field: `events[${i}].${e.typeVersion ? 'typeVersion' : 'type'}`, reason: `no usage type "${e.type}"${e.typeVersion ? ` version ${e.typeVersion}` : ''} is registered`, expected: 'the key (and optionally version) of a registered usage type' }]);
        return null;
      }
      const check = registry.compile(type).validate(e.data, fieldPath(`events[${i}]`, ['data']));
      if (!check.ok) {
        reject(i, check.problems);
        return null;
      }
      return { envelope: e, type, data: check.data, quantity: check.quantity, timestamp: new Date(e.timestamp) };
    }),
  );

  // 2. Enrichment: customer and the subscription active when the usage happened (one call for the batch).
  const customerKeys = [...new Set(validated.flatMap((v) => (v ? [v.envelope.customer] : [])))];
  const customers = new Map<string, CustomerView>();
  if (customerKeys.length > 0) {
    const { customersByExternalKeys } = await querySubgraph<{ customersByExternalKeys: Array<CustomerView | null> }>(
      'subscriptions',
      'query($keys: [String!]!) { customersByExternalKeys(externalKeys: $keys) { id externalKey subscriptions { id startsAt endsAt } } }',
      { keys: customerKeys },
    );
    for (const c of customersByExternalKeys) if (c) customers.set(c.externalKey, c);
  }

  const docs: UsageEventDoc[] = [];
  const docIndex: number[] = [];
  validated.forEach((v, i) => {
    if (!v) return;
    const customer = customers.get(v.envelope.customer);
    if (!customer) {
      reject(i, [{ code: 'CUSTOMER_UNKNOWN', field: `events[${i}].customer`, reason: `no customer has external key "${v.envelope.customer}"`, expected: 'the externalKey of a customer created with upsertCustomer' }]);
      return;
    }
    const subscription = customer.subscriptions.find((s) => isWithin(v.timestamp, new Date(s.startsAt), s.endsAt ? new Date(s.endsAt) : null));
    if (!subscription) {
      reject(i, [{ code: 'SUBSCRIPTION_NOT_ACTIVE', field: `events[${i}].timestamp`, reason: `customer "${customer.externalKey}" has no subscription active at ${v.timestamp.toISOString()}`, expected: 'a timestamp inside one of the customer\'s subscriptions' }]);
      return;
    }
    const id = deterministicId('evt', v.envelope.source, v.envelope.id);
    docs.push({
      _id: id,
      eventId: v.envelope.id,
      source: v.envelope.source,
      usageTypeId: v.type._id,
      usageTypeKey: v.type.key,
      usageTypeVersion: v.type.version,
      customerKey: customer.externalKey,
      customerId: customer.id,
      subscriptionId: subscription.id,
      timestamp: v.timestamp,
      periodKey: periodOf(v.timestamp).key,
      data: v.data,
      quantity: v.quantity,
      contentHash: contentHash({ type: v.type.key, version: v.type.version, customer: customer.externalKey, timestamp: v.timestamp.toISOString(), data: v.data }),
      correlationId,
      receivedAt,
    });
    docIndex.push(i);
    results[i]!.usageEventId = id;
  });

  // 3. Store; the unique _id is the dedup: a replay fails to insert and is then compared with what is stored.
  const failedPositions = await insertUnordered(store, docs);
  if (failedPositions.length > 0) {
    const stored = new Map((await store.events.find({ _id: { $in: failedPositions.map((p) => docs[p]!._id) } }, { projection: { contentHash: 1 } }).toArray()).map((d) => [d._id, d.contentHash]));
    for (const p of failedPositions) {
      const doc = docs[p]!;
      const i = docIndex[p]!;
      if (stored.get(doc._id) === doc.contentHash) {
        results[i]!.status = 'DUPLICATE';
      } else {
        results[i]!.usageEventId = null;
        reject(i, [{ code: 'EVENT_CONFLICT', field: `events[${i}].id`, reason: `an event with source "${doc.source}" and id "${doc.eventId}" was already received with different content; the stored event is kept`, expected: 'a new id for a new event, or the identical payload for a retry' }]);
      }
    }
  }

  // 4. Quarantine every rejected event with its raw payload, so nothing is silently dropped.
  const now = new Date();
  const quarantined = results.filter((r) => r.status === 'REJECTED');
  if (quarantined.length > 0) {
    const ops = quarantined.map((r) => {
      const payload = rawEvents[r.index];
      const id = deterministicId('qev', contentHash(payload ?? null));
      r.quarantineId = id;
      return {
        updateOne: {
          filter: { _id: id },
          update: {
            $setOnInsert: { payload: payload ?? null, problems: r.problems, firstReceivedAt: now, correlationId },
            $set: { lastReceivedAt: now },
            $inc: { receivedCount: 1 },
          },
          upsert: true,
        },
      };
    });
    // One quarantine writer at a time in this process, so receivedCount counts every arrival (see lib/keyed-mutex.ts).
    await store.locks.run('quarantine', () => store.quarantine.bulkWrite(ops as Parameters<typeof store.quarantine.bulkWrite>[0], { ordered: false }));
  }

  const count = (s: IngestStatus) => results.filter((r) => r.status === s).length;
  return { accepted: count('ACCEPTED'), duplicates: count('DUPLICATE'), rejected: count('REJECTED'), results, correlationId };
}

/** Inserts what it can; returns the positions that already existed (duplicate key). Any other failure is thrown. */
async function insertUnordered(store: UsageStore, docs: UsageEventDoc[]): Promise<number[]> {
  if (docs.length === 0) return [];
  try {
    await store.events.insertMany(docs, { ordered: false });
    return [];
  } catch (error) {
    const writeErrors = (error as MongoBulkWriteError).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    if (list.length === 0 || list.some((w) => w.code !== 11000)) throw error;
    return list.map((w) => w.index);
  }
}
