// The usage subgraph: usage types, events, held events, quarantine and aggregates; origin of UsageEvent and UsageAggregate.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import type { Logger } from '../../lib/logger';
import { loaderByField } from '../../lib/loaders';
import { pageBy, pageById, withCount, type SortOrder } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { aggregateUsage, aggregatesForRating } from './aggregate-usage';
import { customerUsage } from './customer-usage';
import { aggregateId, eventId } from './enrichment';
import { heldReason, ingestUsageEvents } from './ingest-usage-events';
import { lateUsage } from './late-usage';
import { changeLifecycle, registerUsageType } from './register-usage-type';
import { releaseHeldEvents, startReleaseWorker } from './release-held-events';
import { replayQuarantinedEvents, sentPayload } from './replay-quarantined-events';
import { nestsWithin } from '../../lib/untrusted-json';
import { MAX_BODY_DEPTH } from '../../lib/http';
import { eventsEndpoint } from './events-endpoint';
import {
  indexes,
  usageStore,
  type AggregateGroup,
  type QuarantinedEventDoc,
  type UsageAggregateDoc,
  type UsageEventDoc,
  type UsageExceptionDoc,
  type UsageStore,
  type UsageTypeDoc,
  type UsageTypeStatus,
} from './store';
import { UsageTypeRegistry, effectiveStatus } from './usage-type-registry';
import { notFound } from '../../lib/errors';

interface Services {
  store: UsageStore;
  registry: UsageTypeRegistry;
  log: Logger;
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

const asDimensions = (d: Record<string, string> | undefined) =>
  Object.entries(d ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value }));

/** Versions of a key, newest first: the {key, major, minor} index. */
const NEWEST_VERSION_FIRST: SortOrder = [
  ['major', -1],
  ['minor', -1],
];

/** The stored documents whose status in force now is `status` (a deprecated version past its sunset is retired). */
function usageTypesIn(status: UsageTypeStatus | null | undefined, now = new Date()): Filter<UsageTypeDoc> {
  if (status === 'DEPRECATED') return { status, $or: [{ sunsetAt: null }, { sunsetAt: { $gt: now } }] };
  if (status === 'RETIRED') return { $or: [{ status }, { status: 'DEPRECATED', sunsetAt: { $lte: now } }] };
  return status ? { status } : {};
}
const groups = (g: AggregateGroup[]) => g.map((x) => ({ ...x, dimensions: asDimensions(x.dimensions) }));

export const usageSubgraph: SubgraphDefinition<Services, Context> = {
  name: 'usage',
  indexes,
  createServices(db, log) {
    const store = usageStore(db);
    return { store, registry: new UsageTypeRegistry(store), log };
  },
  createContext: (services, base) => ({
    ...base,
    ...services,
    usageTypes: loaderByField(services.store.usageTypes),
    events: loaderByField(services.store.events),
    aggregates: loaderByField(services.store.aggregates),
  }),
  routes: (app, services) => app.use('/events', eventsEndpoint(services.store, services.registry, services.log)),
  startBackground: (s, log) => startReleaseWorker(s.store, log),
  resolvers: {
    Query: {
      usageType: async (_: unknown, args: { key: string; version?: string }, ctx: Context) => {
        if (!args.version) return ctx.registry.newest(args.key);
        const r = await ctx.registry.resolve(args.key, args.version);
        return r.ok
          ? r.type
          : ((await ctx.registry.versionsOf(args.key)).find((v) => v.version === args.version) ?? null);
      },
      usageTypeVersions: async (_: unknown, a: { key: string; first?: number; after?: string }, ctx: Context) =>
        withCount(
          await pageBy(ctx.store.usageTypes, { key: a.key }, NEWEST_VERSION_FIRST, a.first, a.after),
          ctx.store.usageTypes,
          { key: a.key },
        ),
      usageTypesByKeys: (_: unknown, { keys }: { keys: string[] }, ctx: Context) =>
        Promise.all(keys.map((k) => ctx.registry.newest(k))),
      usageTypes: (_: unknown, a: { status?: UsageTypeStatus | null; first?: number; after?: string }, ctx: Context) =>
        pageBy(ctx.store.usageTypes, usageTypesIn(a.status), [['key', 1], ...NEWEST_VERSION_FIRST], a.first, a.after),
      usageEvent: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.events.load(id),
      usageEventBySource: (_: unknown, args: { source: string; eventId: string }, ctx: Context) =>
        ctx.events.load(eventId(args.source, args.eventId)),
      usageEvents: (_: unknown, args: { filter?: EventFilter; first?: number; after?: string }, ctx: Context) =>
        pageById(ctx.store.events, eventFilter(args.filter), args.first, args.after),
      usageAggregate: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.aggregates.load(id),
      customerUsage: (_: unknown, args: { customerKey: string; period?: string }, ctx: Context) =>
        customerUsage(ctx.store, ctx.registry, args.customerKey, args.period),
      lateUsage: (_: unknown, a: { period: string; first?: number; after?: string }, ctx: Context) =>
        lateUsage(ctx.store, a.period, a.first, a.after),
      usageExceptions: async (
        _: unknown,
        args: { status?: 'OPEN' | 'RESOLVED'; first?: number; after?: string },
        ctx: Context,
      ) => {
        const filter = args.status ? { status: args.status } : {};
        return withCount(
          await pageById(ctx.store.exceptions, filter, args.first, args.after),
          ctx.store.exceptions,
          args.status ? filter : null,
        );
      },
      usageException: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.store.exceptions.findOne({ _id: id }),
      quarantinedEvents: async (
        _: unknown,
        args: { status?: 'OPEN' | 'RESOLVED'; first?: number; after?: string },
        ctx: Context,
      ) => {
        const filter = args.status ? { status: args.status } : {};
        return withCount(
          await pageById(ctx.store.quarantine, filter, args.first, args.after),
          ctx.store.quarantine,
          args.status ? filter : null,
        );
      },
      quarantinedEvent: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.store.quarantine.findOne({ _id: id }),
    },
    Mutation: {
      registerUsageType: (_: unknown, { input, activate }: { input: unknown; activate?: boolean }, ctx: Context) =>
        registerUsageType(ctx.store, ctx.registry, input, ctx.correlationId, activate ?? false),
      activateUsageType: (_: unknown, a: { key: string; version: string }, ctx: Context) =>
        changeLifecycle(ctx.store, ctx.registry, a.key, a.version, 'ACTIVE'),
      deprecateUsageType: (_: unknown, a: { key: string; version: string; sunsetAt: Date }, ctx: Context) =>
        changeLifecycle(ctx.store, ctx.registry, a.key, a.version, 'DEPRECATED', a.sunsetAt),
      retireUsageType: (_: unknown, a: { key: string; version: string }, ctx: Context) =>
        changeLifecycle(ctx.store, ctx.registry, a.key, a.version, 'RETIRED'),
      ingestUsageEvents: (_: unknown, { events }: { events: unknown[] }, ctx: Context) =>
        ingestUsageEvents(ctx.store, ctx.registry, events, ctx.correlationId),
      aggregateUsage: (
        _: unknown,
        args: { subscriptionId: string; period: string; usageTypeKeys: string[] },
        ctx: Context,
      ) =>
        aggregateUsage(
          ctx.store,
          ctx.registry,
          args.subscriptionId,
          args.period,
          args.usageTypeKeys,
          ctx.correlationId,
        ),
      usageForRating: async (
        _: unknown,
        args: {
          period: string;
          requests: Array<{
            subscriptionId: string;
            usageTypeKeys: string[];
            boundaries?: Date[];
            valuesFor?: string[];
          }>;
        },
        ctx: Context,
      ) =>
        (await aggregatesForRating(ctx.store, ctx.registry, args.period, args.requests, ctx.correlationId)).map(
          (a) => ({
            subscriptionId: a.aggregate.subscriptionId,
            usageTypeKey: a.type.key,
            productLine: a.type.productLine,
            unit: a.type.unit,
            aggregate: a.aggregate,
            segments: a.segments,
          }),
        ),
      releaseHeldEvents: async (_: unknown, { exceptionId }: { exceptionId: string }, ctx: Context) => {
        if (!(await ctx.store.exceptions.findOne({ _id: exceptionId })))
          throw notFound('usage exception', 'exceptionId', exceptionId);
        await releaseHeldEvents(ctx.store, ctx.log, exceptionId);
        return ctx.store.exceptions.findOne({ _id: exceptionId });
      },
      replayQuarantinedEvents: (_: unknown, { ids }: { ids: string[] }, ctx: Context) =>
        replayQuarantinedEvents(ctx.store, ctx.registry, ids, ctx.correlationId),
    },
    UsageType: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.usageTypes.load(ref.id),
      id: (t: UsageTypeDoc) => t._id,
      status: (t: UsageTypeDoc) => effectiveStatus(t),
    },
    UsageEvent: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.events.load(ref.id),
      id: (e: UsageEventDoc) => e._id,
      usageType: (e: UsageEventDoc, _: unknown, ctx: Context) => ctx.usageTypes.load(e.usageTypeId),
      customer: (e: UsageEventDoc) => ({ id: e.customerId }),
      subscription: (e: UsageEventDoc) => ({ id: e.subscriptionId }),
      period: (e: UsageEventDoc) => parsePeriod(e.periodKey),
      quantity: (e: UsageEventDoc) => (/^-?\d+(\.\d+)?$/.test(e.value) ? e.value : null),
      dimensions: (e: UsageEventDoc) => asDimensions(e.dimensions),
      aggregate: (e: UsageEventDoc, _: unknown, ctx: Context) =>
        ctx.aggregates.load(e.aggregateId ?? aggregateId(e.subscriptionId, e.usageTypeKey, e.periodKey)),
    },
    UsageAggregate: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.aggregates.load(ref.id),
      id: (a: UsageAggregateDoc) => a._id,
      subscription: (a: UsageAggregateDoc) => ({ id: a.subscriptionId }),
      usageType: (a: UsageAggregateDoc, _: unknown, ctx: Context) => ctx.registry.newest(a.usageTypeKey),
      period: (a: UsageAggregateDoc) => parsePeriod(a.periodKey),
      groups: (a: UsageAggregateDoc) => groups(a.groups ?? []),
      events: (a: UsageAggregateDoc, args: { first?: number; after?: string }, ctx: Context) =>
        pageById(ctx.store.events, { aggregateId: a._id }, args.first, args.after),
      pendingEventCount: (a: UsageAggregateDoc, _: unknown, ctx: Context) =>
        ctx.store.events.countDocuments({ aggregateId: a._id, receivedAt: { $gt: a.lastReceivedAt ?? new Date(0) } }),
    },
    CustomerUsage: {
      period: (u: { periodKey: string }) => parsePeriod(u.periodKey),
    },
    UsageTypeUsage: {
      groups: (u: { groups: AggregateGroup[] }) => groups(u.groups),
    },
    UsageException: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.store.exceptions.findOne({ _id: ref.id }),
      id: (e: UsageExceptionDoc) => e._id,
      period: (e: UsageExceptionDoc) => parsePeriod(e.periodKey),
      message: (e: UsageExceptionDoc) =>
        heldReason({ reason: e.code, customerKey: e.customerKey, periodKey: e.periodKey }),
      remedy: (e: UsageExceptionDoc) =>
        e.code === 'CUSTOMER_UNKNOWN'
          ? `create the customer with upsertCustomer(externalKey: "${e.customerKey}"), or map "${e.customerKey}" to an existing customer with addCustomerAlias; the held events then flow on by themselves`
          : `create a subscription for customer "${e.customerKey}" that covers ${e.periodKey}; the held events then flow on by themselves`,
      heldEventCount: (e: UsageExceptionDoc, _: unknown, ctx: Context) =>
        ctx.store.held.countDocuments({ exceptionId: e._id }),
      heldEvents: async (e: UsageExceptionDoc, args: { first?: number; after?: string }, ctx: Context) =>
        withCount(await pageById(ctx.store.held, { exceptionId: e._id }, args.first, args.after), ctx.store.held, {
          exceptionId: e._id,
        }),
    },
    QuarantinedEvent: {
      id: (q: QuarantinedEventDoc) => q._id,
      // As sent when it can be answered as JSON; a payload nested too deep for that (or cut short) shows its safe view.
      payload: (q: QuarantinedEventDoc) => {
        const sent = sentPayload(q);
        return sent.ok && nestsWithin(sent.payload, MAX_BODY_DEPTH) ? sent.payload : q.payload;
      },
      payloadText: (q: QuarantinedEventDoc) => q.payloadText ?? JSON.stringify(q.payload ?? null),
      payloadTruncated: (q: QuarantinedEventDoc) => q.payloadTruncated ?? false,
      status: (q: QuarantinedEventDoc) => q.status ?? 'OPEN',
      resolvedAs: (q: QuarantinedEventDoc) => q.resolution?.status ?? null,
      usageEventId: (q: QuarantinedEventDoc) => q.resolution?.usageEventId ?? null,
    },
  },
};
