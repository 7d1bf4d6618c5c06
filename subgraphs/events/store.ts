// The events subgraph's collections: the business event log (insert-only), webhook endpoints, deliveries (each one a
// state machine written only by the holder of its claim) and the delivery claims.
import type { Collection, Db } from 'mongodb';
import type { Claim } from '../../lib/claims';
import type { IndexDeclaration } from '../../lib/mongo';
import { RecordLocks, type RecordLockDoc } from '../../lib/record-locks';
import type { Money } from '../../lib/money';

export interface BusinessEventDoc {
  _id: string;
  type: string;
  subject: string;
  source: string;
  data: Record<string, unknown>;
  occurredAt: Date;
  correlationId: string;
  actor: string | null;
  recordedAt: Date;
}

/** A signing secret at rest: AES-256-GCM under a key derived from the system's internal secret. */
export interface SealedSecret {
  iv: string;
  tag: string;
  ciphertext: string;
}

export interface WebhookEndpointDoc {
  _id: string;
  url: string;
  description: string;
  eventTypes: string[];
  secret: SealedSecret;
  status: 'ACTIVE' | 'DISABLED';
  createdAt: Date;
  createdBy: string;
  disabledAt: Date | null;
}

export const DELIVERY_STATUSES = [
  'PENDING',
  'SENDING',
  'DELIVERED',
  'RETRY_SCHEDULED',
  'DEAD_LETTER',
  'CANCELLED',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface WebhookAttempt {
  at: Date;
  httpStatus: number | null;
  outcome: string;
  durationMs: number;
}

export interface WebhookDeliveryDoc {
  _id: string;
  eventId: string;
  endpointId: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lockedUntil: Date | null;
  history: WebhookAttempt[];
  createdAt: Date;
  deliveredAt: Date | null;
}

export interface DeliveryClaimDoc extends Claim {
  deliveryId: string;
}

export const WORK_ITEM_STATUSES = ['OPEN', 'IN_PROGRESS', 'RESOLVED', 'DISMISSED'] as const;
export type WorkItemStatus = (typeof WORK_ITEM_STATUSES)[number];

export interface WorkItemChange {
  at: Date;
  /** RAISED, RAISED_AGAIN, UPDATED, ASSIGNED, UNASSIGNED, RESOLVED, DISMISSED. */
  what: string;
  by: string | null;
  detail: string;
}

/** One business exception in finance's work queue: a projection of its exception.raised/resolved events. */
export interface WorkItemDoc {
  _id: string;
  kind: string;
  /** The subgraph that raised it (the stage). */
  source: string;
  status: WorkItemStatus;
  problem: string;
  remedy: string;
  held: { count: number; unit: string; amounts: Money[]; quantity: string | null };
  references: Record<string, string>;
  sampleRecordIds: string[];
  /** The latest raise's data as the owner sent it. */
  data: Record<string, unknown>;
  /** When the current opening was first raised. */
  raisedAt: Date;
  lastRaisedAt: Date;
  assignee: string | null;
  assignedAt: Date | null;
  resolution: {
    action: string;
    detail: string;
    afterwards: string;
    by: string | null;
    at: Date;
  } | null;
  dismissal: { reason: string; by: string; at: Date } | null;
  /** Newest last; bounded to the latest 50 changes. */
  history: WorkItemChange[];
  correlationId: string;
  updatedAt: Date;
}

export interface EventsStore {
  /** Read-modify-write on one record, exclusive across every process of this subgraph (lib/record-locks.ts). */
  locks: RecordLocks;
  workItems: Collection<WorkItemDoc>;
  events: Collection<BusinessEventDoc>;
  endpoints: Collection<WebhookEndpointDoc>;
  deliveries: Collection<WebhookDeliveryDoc>;
  claims: Collection<DeliveryClaimDoc>;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'business_events', keys: { recordedAt: -1, _id: -1 } },
  { collection: 'business_events', keys: { subject: 1 } },
  { collection: 'webhook_deliveries', keys: { status: 1 } },
  { collection: 'webhook_deliveries', keys: { createdAt: -1, _id: -1 } },
  // The webhookDeliveries filters: an event's deliveries, an endpoint's newest first.
  { collection: 'webhook_deliveries', keys: { eventId: 1 } },
  { collection: 'webhook_deliveries', keys: { endpointId: 1, createdAt: -1, _id: -1 } },
  { collection: 'webhook_delivery_claims', keys: { deliveryId: 1, sequence: -1 } },
  // The queue is read by status, newest raised first.
  { collection: 'work_items', keys: { status: 1, raisedAt: -1, _id: -1 } },
];

export function eventsStore(db: Db): EventsStore {
  return {
    locks: new RecordLocks(db.collection<RecordLockDoc>('record_locks')),
    workItems: db.collection('work_items'),
    events: db.collection('business_events'),
    endpoints: db.collection('webhook_endpoints'),
    deliveries: db.collection('webhook_deliveries'),
    claims: db.collection('webhook_delivery_claims'),
  };
}
