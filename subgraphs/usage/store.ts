// The usage subgraph's collections: usage types, events, quarantine, aggregates.
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { KeyedMutex } from '../../lib/keyed-mutex';
import type { Problem } from '../../lib/errors';
import type { UsageTypeDefinition } from './usage-type';

export interface UsageTypeDoc extends UsageTypeDefinition {
  _id: string;
  status: 'ACTIVE';
  createdAt: Date;
  correlationId: string;
}

export interface UsageEventDoc {
  _id: string;
  eventId: string;
  source: string;
  usageTypeId: string;
  usageTypeKey: string;
  usageTypeVersion: number;
  customerKey: string;
  customerId: string;
  subscriptionId: string;
  timestamp: Date;
  periodKey: string;
  data: Record<string, unknown>;
  quantity: string;
  /** Hash of what the producer sent; tells a replay (same) from a conflicting rewrite (different). */
  contentHash: string;
  correlationId: string;
  receivedAt: Date;
}

export interface QuarantinedEventDoc {
  _id: string;
  payload: unknown;
  problems: Problem[];
  receivedCount: number;
  firstReceivedAt: Date;
  lastReceivedAt: Date;
  correlationId: string;
}

export interface UsageAggregateDoc {
  _id: string;
  subscriptionId: string;
  usageTypeKey: string;
  periodKey: string;
  quantity: string;
  eventCount: number;
  computedAt: Date;
  correlationId: string;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'usage_types', keys: { key: 1, version: 1 }, options: { unique: true } },
  { collection: 'usage_events', keys: { subscriptionId: 1, usageTypeKey: 1, periodKey: 1, _id: 1 } },
  { collection: 'usage_events', keys: { customerKey: 1, timestamp: 1 } },
  { collection: 'usage_events', keys: { source: 1, eventId: 1 } },
];

export interface UsageStore {
  locks: KeyedMutex;
  usageTypes: Collection<UsageTypeDoc>;
  events: Collection<UsageEventDoc>;
  quarantine: Collection<QuarantinedEventDoc>;
  aggregates: Collection<UsageAggregateDoc>;
}

export function usageStore(db: Db): UsageStore {
  return {
    locks: new KeyedMutex(),
    usageTypes: db.collection<UsageTypeDoc>('usage_types'),
    events: db.collection<UsageEventDoc>('usage_events'),
    quarantine: db.collection<QuarantinedEventDoc>('quarantined_events'),
    aggregates: db.collection<UsageAggregateDoc>('usage_aggregates'),
  };
}
