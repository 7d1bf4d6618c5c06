// The usage subgraph's collections: usage types, events, held events and their exceptions, quarantine, aggregates.
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { RecordLocks, type RecordLockDoc } from '../../lib/record-locks';
import { Outbox } from '../../lib/outbox';
import type { Problem } from '../../lib/errors';
import type { SchemaChange, UsageTypeDefinition } from './usage-type';
import type { IngestStatus } from './ingest-usage-events';
import type { CarryState } from './aggregation';
import type { StoredTally } from './usage-tally';

export type UsageTypeStatus = 'DRAFT' | 'ACTIVE' | 'DEPRECATED' | 'RETIRED';

export interface UsageTypeDoc extends UsageTypeDefinition {
  _id: string;
  major: number;
  minor: number;
  status: UsageTypeStatus;
  /** DEPRECATED only: from this instant the version counts as retired. */
  sunsetAt: Date | null;
  /** Against the version before it. */
  changes: SchemaChange[];
  createdAt: Date;
  activatedAt: Date | null;
  deprecatedAt: Date | null;
  retiredAt: Date | null;
  correlationId: string;
}

export interface UsageEventDoc {
  _id: string;
  eventId: string;
  source: string;
  usageTypeId: string;
  usageTypeKey: string;
  usageTypeVersion: string;
  customerKey: string;
  customerId: string;
  subscriptionId: string;
  pricePlanId: string;
  aggregateId: string;
  timestamp: Date;
  periodKey: string;
  data: Record<string, unknown>;
  /** What the aggregation reads: "1" for COUNT, else the aggregated field's value. */
  value: string;
  dimensions: Record<string, string>;
  /** Arrived after its period's aggregate was computed (for rating): re-rating should pick it up. */
  late: boolean;
  /** Hash of what the producer sent; tells a replay (same) from a conflicting rewrite (different). */
  contentHash: string;
  correlationId: string;
  receivedAt: Date;
}

/** Why events are held; the API's UsageExceptionCode enum lists the same values. */
export const HOLD_REASONS = ['CUSTOMER_UNKNOWN', 'SUBSCRIPTION_NOT_ACTIVE'] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];

/** A valid event that cannot be attributed yet; it flows on by itself once the customer mapping is fixed. */
export type HeldEventDoc = Omit<
  UsageEventDoc,
  'customerId' | 'subscriptionId' | 'pricePlanId' | 'aggregateId' | 'late'
> & {
  exceptionId: string;
  reason: HoldReason;
};

/** One per customer key, reason and period: what finance sees in the work queue. */
export interface UsageExceptionDoc {
  _id: string;
  code: HoldReason;
  customerKey: string;
  periodKey: string;
  status: 'OPEN' | 'RESOLVED';
  firstSeenAt: Date;
  lastSeenAt: Date;
  resolvedAt: Date | null;
  correlationId: string;
  /** When its current opening began (entries from before the work queue: firstSeenAt). */
  openedAt?: Date;
  /** The action finance took to resolve it, recorded before the held events are released. */
  resolutionRequest?: { action: string; detail: string; by: string; at: Date } | null;
}

/** Rejected events are grouped per usage type, problem and day in the work queue (one item, not one per event). */
export interface QuarantineGroup {
  id: string;
  usageTypeKey: string;
  problemCode: string;
  day: string;
}

export interface QuarantinedEventDoc {
  _id: string;
  /** A storable view (unsafe key characters replaced, cut short); entries from before payloadText: the payload itself. */
  payload: unknown;
  /** The payload as JSON text, exactly as sent unless payloadTruncated: what replay parses. */
  payloadText?: string;
  /** The text was cut at the event size limit (the event was over it), so it cannot be replayed. */
  payloadTruncated?: boolean;
  problems: Problem[];
  status: 'OPEN' | 'RESOLVED' | 'DISCARDED';
  /** How it was resolved by a replay: the stored or held event. */
  resolution: { status: IngestStatus; usageEventId: string | null; at: Date } | null;
  receivedCount: number;
  firstReceivedAt: Date;
  lastReceivedAt: Date;
  correlationId: string;
  /** Its work-queue group's id (entries from before the work queue have none), and what the group is. */
  groupId?: string;
  group?: QuarantineGroup;
  /** Kept, never deleted: who discarded it, when and why. */
  discard?: { reason: string; by: string; at: Date } | null;
  /** The corrected payload a person replayed in its place. */
  correction?: { payloadText: string; by: string; at: Date } | null;
}

export interface AggregateGroup {
  dimensions: Record<string, string>;
  quantity: string;
  eventCount: number;
}

export interface UsageAggregateDoc {
  _id: string;
  subscriptionId: string;
  usageTypeKey: string;
  periodKey: string;
  quantity: string;
  eventCount: number;
  groups: AggregateGroup[];
  /** The newest event receipt counted, so events received later are known to be pending. */
  lastReceivedAt: Date | null;
  computedAt: Date;
  correlationId: string;
  /** Recurring usage types: the levels the period ends with, where the next period starts. */
  carryOut?: CarryState;
  /** Recurring usage types: the levels the period started from; the aggregate holds only while they still do. */
  carryIn?: CarryState | null;
  /** Sums of data fields over the period's events, where rating asked for them (dynamic prices). */
  fieldTotals?: Record<string, string>;
  /** The latest event's time (customerUsage shows it); absent on aggregates stored before it was kept. */
  lastEventAt?: Date | null;
  /** When the aggregate was first stored: events ingested before then could not mark it stale. */
  firstComputedAt?: Date;
  /** Metered aggregations that merge: their running state, so later events fold in (usage-tally.ts). */
  tally?: StoredTally;
  /**
   * Events named by stale marks from SETTLE_MS before computedAt on that this result already counts; a fold skips
   * them. Absent when there were too many to keep: the aggregate is then recomputed instead of folded.
   */
  countedMarkedEventIds?: string[];
}

/**
 * Written before late events are stored: their aggregate must be recomputed. Inserted, never updated, so it needs no
 * isolation; a recompute removes only marks old enough that their events are surely stored (see aggregate-usage.ts).
 */
export interface StaleMarkDoc {
  _id: string;
  aggregateId: string;
  markedAt: Date;
  /** The late events it was written for (marks from before this field name none: their aggregate is recomputed). */
  eventIds?: string[];
}

/**
 * A request to bring one aggregate up to date in the background (aggregate-keeper.ts): `_id` is the aggregate's, so
 * one waits per aggregate; inserted by ingestion after storing events, deleted by the keeper before it works.
 */
export interface AggregateRefreshDoc {
  /** The aggregate's id; `<aggregate id>#later` for one the keeper scheduled itself. */
  _id: string;
  aggregateId: string;
  subscriptionId: string;
  usageTypeKey: string;
  periodKey: string;
  /**
   * Not worked before then (ingestion's waits five keeper intervals; the keeper's own for a rescan or a backoff). ISO 8601
   * text in UTC: it sorts as time does, and the embedded database pushes a range on text down to its index.
   */
  dueAt: string;
  requestedAt: Date;
  correlationId: string;
  /** Refreshes of this aggregate that failed in a row: its backoff (absent when none failed). */
  failures?: number;
}

/**
 * What rating (usageForRating) read of one aggregate: the state it priced. Inserted on every rating read, never updated;
 * older ones of the aggregate are then removed. lateUsage counts the events stored beyond it (late-usage.ts).
 */
export interface RatingReadDoc {
  _id: string;
  aggregateId: string;
  periodKey: string;
  /** Events the aggregate counted as rating read it. */
  eventCount: number;
  /** The aggregate's computedAt and newest event receipt as rating read them (which state was priced). */
  computedAt: Date;
  lastReceivedAt: Date | null;
  ratedAt: Date;
  correlationId: string;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'usage_types', keys: { key: 1, major: -1, minor: -1 } },
  // Every index slows every insert (measured on FerretDB: five secondary indexes made 1,000-event inserts 3× slower,
  // two 1.7×), so events get one: by aggregate, which serves rating, lineage, pending counts, a customer's usage
  // (through the customer's aggregate ids) and the usageEvents filters with a period and a subscription or customer.
  { collection: 'usage_events', keys: { aggregateId: 1, _id: 1 } },
  // A period's aggregates in id order: lateUsage pages through them.
  { collection: 'usage_aggregates', keys: { periodKey: 1, _id: 1 } },
  { collection: 'stale_marks', keys: { aggregateId: 1 } },
  // An aggregate's rating reads: lateUsage reads them per aggregate.
  { collection: 'rating_reads', keys: { aggregateId: 1, _id: 1 } },
  // The keeper's due page, oldest first: a range on dueAt.
  { collection: 'aggregate_refreshes', keys: { dueAt: 1, _id: 1 } },
  { collection: 'held_events', keys: { exceptionId: 1, _id: 1 } },
  { collection: 'usage_exceptions', keys: { status: 1, _id: 1 } },
  { collection: 'quarantined_events', keys: { status: 1, _id: 1 } },
  // A work-queue group's entries (rejections are rare next to events, so the index costs little).
  { collection: 'quarantined_events', keys: { groupId: 1, _id: 1 } },
];

export interface UsageStore {
  /** Read-modify-write on one record, exclusive across every process of this subgraph (lib/record-locks.ts). */
  locks: RecordLocks;
  /** Business events raised by this subgraph, forwarded to the events subgraph (lib/outbox.ts). */
  outbox: Outbox;
  usageTypes: Collection<UsageTypeDoc>;
  events: Collection<UsageEventDoc>;
  held: Collection<HeldEventDoc>;
  exceptions: Collection<UsageExceptionDoc>;
  quarantine: Collection<QuarantinedEventDoc>;
  aggregates: Collection<UsageAggregateDoc>;
  staleMarks: Collection<StaleMarkDoc>;
  refreshes: Collection<AggregateRefreshDoc>;
  ratingReads: Collection<RatingReadDoc>;
}

export function usageStore(db: Db): UsageStore {
  return {
    locks: new RecordLocks(db.collection<RecordLockDoc>('record_locks')),
    outbox: new Outbox(db, 'usage'),
    usageTypes: db.collection<UsageTypeDoc>('usage_types'),
    events: db.collection<UsageEventDoc>('usage_events'),
    held: db.collection<HeldEventDoc>('held_events'),
    exceptions: db.collection<UsageExceptionDoc>('usage_exceptions'),
    quarantine: db.collection<QuarantinedEventDoc>('quarantined_events'),
    aggregates: db.collection<UsageAggregateDoc>('usage_aggregates'),
    staleMarks: db.collection<StaleMarkDoc>('stale_marks'),
    refreshes: db.collection<AggregateRefreshDoc>('aggregate_refreshes'),
    ratingReads: db.collection<RatingReadDoc>('rating_reads'),
  };
}
