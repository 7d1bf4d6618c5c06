// The usage subgraph: usage types, events, quarantine and aggregates; origin of UsageEvent and UsageAggregate.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import { loaderByField } from '../../lib/loaders';
import { pageById } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { aggregateId, aggregateUsage } from './aggregate-usage';
import { ingestUsageEvents } from './ingest-usage-events';
import { registerUsageType } from './register-usage-type';
import { indexes, usageStore, type UsageAggregateDoc, type UsageEventDoc, type UsageStore, type UsageTypeDoc } from './store';
import { UsageTypeRegistry } from './usage-type-registry';
import { deterministicId } from '../../lib/ids';

interface Services {
  store: UsageStore;
  registry: UsageTypeRegistry;
}

interface Context extends BaseContext, Services {
  usageTypes: DataLoader<string, UsageTypeDoc | null>;
  events: DataLoader<string, UsageEventDoc | null>;
  aggregates: DataLoader<string, UsageAggregateDoc | null>;
}

interface EventFilter {
  subscriptionId?: string | null;
  customerKey?: string | null;
  usageTypeKey?: string | null;
  period?: string | null;
}

function eventFilter(f: EventFilter | null | undefined): Filter<UsageEventDoc> {
  const q: Filter<UsageEventDoc> = {};
  if (f?.subscriptionId) q.subscriptionId = f.subscriptionId;
  if (f?.customerKey) q.customerKey = f.customerKey;
  if (f?.usageTypeKey) q.usageTypeKey = f.usageTypeKey;
  if (f?.period) q.periodKey = parsePeriod(f.period, 'filter.period').key;
  return q;
}

export const usageSubgraph: SubgraphDefinition<Services, Context> = {
  name: 'usage',
  indexes,
  createServices(db) {
    const store = usageStore(db);
    return { store, registry: new UsageTypeRegistry(store) };
  },
  createContext: (services, base) => ({
    ...base,
    ...services,
    usageTypes: loaderByField(services.store.usageTypes),
    events: loaderByField(services.store.events),
    aggregates: loaderByField(services.store.aggregates),
  }),
  resolvers: {
    Query: {
      usageType: (_: unknown, args: { key: string; version?: number }, ctx: Context) => ctx.registry.find(args.key, args.version),
      usageTypesByKeys: (_: unknown, { keys }: { keys: string[] }, ctx: Context) => Promise.all(keys.map((k) => ctx.registry.find(k))),
      usageTypes: (_: unknown, __: unknown, ctx: Context) => ctx.store.usageTypes.find().sort({ key: 1, version: 1 }).toArray(),
      usageEvent: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.events.load(id),
      usageEventBySource: (_: unknown, args: { source: string; eventId: string }, ctx: Context) => ctx.events.load(deterministicId('evt', args.source, args.eventId)),
      usageEvents: (_: unknown, args: { filter?: EventFilter; first?: number; after?: string }, ctx: Context) => pageById(ctx.store.events, eventFilter(args.filter), args.first, args.after),
      usageAggregate: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.aggregates.load(id),
      quarantinedEvents: (_: unknown, args: { first?: number; after?: string }, ctx: Context) => pageById(ctx.store.quarantine, {}, args.first, args.after),
    },
    Mutation: {
      registerUsageType: (_: unknown, { input }: { input: unknown }, ctx: Context) => registerUsageType(ctx.store, ctx.registry, input, ctx.correlationId),
      ingestUsageEvents: (_: unknown, { events }: { events: unknown[] }, ctx: Context) => ingestUsageEvents(ctx.store, ctx.registry, events, ctx.correlationId),
      aggregateUsage: (_: unknown, args: { subscriptionId: string; period: string; usageTypeKeys: string[] }, ctx: Context) =>
        aggregateUsage(ctx.store, ctx.registry, args.subscriptionId, args.period, args.usageTypeKeys, ctx.correlationId),
    },
    UsageType: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.usageTypes.load(ref.id),
      id: (t: UsageTypeDoc) => t._id,
    },
    UsageEvent: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.events.load(ref.id),
      id: (e: UsageEventDoc) => e._id,
      usageType: (e: UsageEventDoc, _: unknown, ctx: Context) => ctx.usageTypes.load(e.usageTypeId),
      customer: (e: UsageEventDoc) => ({ id: e.customerId }),
      subscription: (e: UsageEventDoc) => ({ id: e.subscriptionId }),
      period: (e: UsageEventDoc) => parsePeriod(e.periodKey),
      aggregate: (e: UsageEventDoc, _: unknown, ctx: Context) => ctx.aggregates.load(aggregateId(e.subscriptionId, e.usageTypeKey, e.periodKey)),
    },
    UsageAggregate: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.aggregates.load(ref.id),
      id: (a: UsageAggregateDoc) => a._id,
      subscription: (a: UsageAggregateDoc) => ({ id: a.subscriptionId }),
      usageType: (a: UsageAggregateDoc, _: unknown, ctx: Context) => ctx.registry.find(a.usageTypeKey),
      period: (a: UsageAggregateDoc) => parsePeriod(a.periodKey),
      events: (a: UsageAggregateDoc, args: { first?: number; after?: string }, ctx: Context) =>
        pageById(ctx.store.events, { subscriptionId: a.subscriptionId, usageTypeKey: a.usageTypeKey, periodKey: a.periodKey }, args.first, args.after),
    },
    QuarantinedEvent: {
      id: (q: { _id: string }) => q._id,
    },
  },
};
