// The usage subgraph: usage types, events, held events, quarantine and aggregates; origin of UsageEvent and UsageAggregate.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import { actingSubject, type BaseContext, type SubgraphDefinition } from '../../lib/subgraph-server';
import type { Resolvers } from './generated/resolvers-types';
import type { Logger } from '../../lib/logger';
import { loadReferenced, loaderByField } from '../../lib/loaders';
import { pageBy, pageById, withCount, type SortOrder } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { aggregateUsage } from './aggregate-usage';
import { startAggregateKeeper } from './aggregate-keeper';
import { customerUsage } from './customer-usage';
import { usageSeries } from './usage-series';
import { usageEventsPage } from './usage-events-page';
import { aggregateId, eventId } from './enrichment';
import { heldReason, ingestUsageEvents } from './ingest-usage-events';
import { lateUsage } from './late-usage';
import { usageForRating } from './usage-for-rating';
import { changeLifecycle, registerUsageType } from './register-usage-type';
import { releaseHeldEvents, startReleaseWorker } from './release-held-events';
import { replayQuarantinedEvents, sentPayload } from './replay-quarantined-events';
import { nestsWithin } from '../../lib/untrusted-json';
import { MAX_BODY_DEPTH } from '../../lib/http';
import { eventsEndpoint } from './events-endpoint';
import { correctQuarantinedEvent, discardQuarantinedEvents } from './quarantine-decisions';
import { resolveUsageException } from './resolve-usage-exception';
import {
  indexes,
  usageStore,
  type AggregateGroup,
  type QuarantinedEventDoc,
  type UsageAggregateDoc,
  type UsageExceptionDoc,
  type UsageEventDoc,
  type UsageStore,
  type UsageTypeDoc,
  type UsageTypeStatus,
} from './store';
import { UsageTypeRegistry, defaultVersion, effectiveStatus } from './usage-type-registry';
import { notFound } from '../../lib/errors';

interface Services {
  store: UsageStore;
  registry: UsageTypeRegistry;
  log: Logger;
}

export interface Context extends BaseContext, Services {
  usageTypes: DataLoader<string, UsageTypeDoc | null>;
  events: DataLoader<string, UsageEventDoc | null>;
  aggregates: DataLoader<string, UsageAggregateDoc | null>;
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

export const usageSubgraph: SubgraphDefinition<Services, Context, Resolvers> = {
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
  startBackground: (s, log) => {
    const stops = [startReleaseWorker(s.store, log), startAggregateKeeper(s.store, s.registry, log)];
    return async () => {
      await Promise.all(stops.map((stop) => stop()));
    };
  },
  resolvers: {
    Query: {
      usageType: async (_, args, ctx) => {
        if (!args.version) return ctx.registry.newest(args.key);
        const r = await ctx.registry.resolve(args.key, args.version);
        return r.ok
          ? r.type
          : ((await ctx.registry.versionsOf(args.key)).find((v) => v.version === args.version) ?? null);
      },
      usageTypeVersions: async (_, a, ctx) =>
        withCount(
          await pageBy(ctx.store.usageTypes, { key: a.key }, NEWEST_VERSION_FIRST, a.first, a.after),
          ctx.store.usageTypes,
          { key: a.key },
        ),
      usageTypesByKeys: (_, { keys }, ctx) => Promise.all(keys.map((k) => ctx.registry.newest(k))),
      usageTypes: (_, a, ctx) =>
        pageBy(ctx.store.usageTypes, usageTypesIn(a.status), [['key', 1], ...NEWEST_VERSION_FIRST], a.first, a.after),
      usageEvent: (_, { id }, ctx) => ctx.events.load(id),
      usageEventBySource: (_, args, ctx) => ctx.events.load(eventId(args.source, args.eventId)),
      usageEvents: (_, args, ctx) => usageEventsPage(ctx.store, args.filter, args.first, args.after),
      usageAggregate: (_, { id }, ctx) => ctx.aggregates.load(id),
      customerUsage: (_, args, ctx) =>
        customerUsage(ctx.store, ctx.registry, args.customerKey, args.period, ctx.correlationId),
      usageSeries: (_, args, ctx) =>
        usageSeries(ctx.store, ctx.registry, {
          customerKey: args.customerKey,
          usageTypeKey: args.usageTypeKey,
          from: args.from,
          to: args.to,
          windowSize: args.windowSize ?? 'DAY',
          groupBy: args.groupBy ?? [],
        }),
      lateUsage: (_, a, ctx) => lateUsage(ctx.store, a.period, a.first, a.after),
      usageExceptions: async (_, args, ctx) => {
        // Only quarantine entries are ever DISCARDED: asking for discarded exceptions finds none.
        const filter: Filter<UsageExceptionDoc> = args.status
          ? { status: args.status as UsageExceptionDoc['status'] }
          : {};
        return withCount(
          await pageById(ctx.store.exceptions, filter, args.first, args.after),
          ctx.store.exceptions,
          args.status ? filter : null,
        );
      },
      usageException: (_, { id }, ctx) => ctx.store.exceptions.findOne({ _id: id }),
      quarantinedEvents: async (_, args, ctx) => {
        const filter: Filter<QuarantinedEventDoc> = args.status ? { status: args.status } : {};
        if (args.groupId) filter.groupId = args.groupId;
        return withCount(
          await pageById(ctx.store.quarantine, filter, args.first, args.after),
          ctx.store.quarantine,
          args.status ? filter : null,
        );
      },
      quarantinedEvent: (_, { id }, ctx) => ctx.store.quarantine.findOne({ _id: id }),
    },
    Mutation: {
      registerUsageType: (_, { input, activate }, ctx) =>
        registerUsageType(ctx.store, ctx.registry, input, ctx.correlationId, activate ?? false),
      activateUsageType: (_, a, ctx) => changeLifecycle(ctx.store, ctx.registry, a.key, a.version, 'ACTIVE'),
      deprecateUsageType: (_, a, ctx) =>
        changeLifecycle(ctx.store, ctx.registry, a.key, a.version, 'DEPRECATED', a.sunsetAt),
      retireUsageType: (_, a, ctx) => changeLifecycle(ctx.store, ctx.registry, a.key, a.version, 'RETIRED'),
      ingestUsageEvents: (_, { events }, ctx) => ingestUsageEvents(ctx.store, ctx.registry, events, ctx.correlationId),
      aggregateUsage: (_, args, ctx) =>
        aggregateUsage(
          ctx.store,
          ctx.registry,
          args.subscriptionId,
          args.period,
          args.usageTypeKeys,
          ctx.correlationId,
        ),
      usageForRating: async (_, args, ctx) =>
        (await usageForRating(ctx.store, ctx.registry, args.period, args.requests, ctx.correlationId)).map((a) => ({
          subscriptionId: a.aggregate.subscriptionId,
          usageTypeKey: a.type.key,
          productLine: a.type.productLine,
          unit: a.type.unit,
          aggregate: a.aggregate,
          segments: a.segments,
        })),
      releaseHeldEvents: async (_, { exceptionId }, ctx) => {
        if (!(await ctx.store.exceptions.findOne({ _id: exceptionId })))
          throw notFound('usage exception', 'exceptionId', exceptionId);
        await releaseHeldEvents(ctx.store, ctx.log, exceptionId);
        const released = await ctx.store.exceptions.findOne({ _id: exceptionId });
        if (!released) throw notFound('usage exception', 'exceptionId', exceptionId);
        return released;
      },
      replayQuarantinedEvents: (_, { ids }, ctx) =>
        replayQuarantinedEvents(ctx.store, ctx.registry, ids, ctx.correlationId, actingSubject(ctx)),
      resolveUsageException: (_, { id, resolution }, ctx) =>
        resolveUsageException(ctx.store, ctx.log, id, resolution, actingSubject(ctx)),
      correctQuarantinedEvent: (_, { id, event }, ctx) =>
        correctQuarantinedEvent(ctx.store, ctx.registry, id, event, actingSubject(ctx), ctx.correlationId),
      discardQuarantinedEvents: (_, { ids, reason }, ctx) =>
        discardQuarantinedEvents(ctx.store, ids, reason, actingSubject(ctx), ctx.correlationId),
    },
    Aggregation: {
      recurring: (a) => a.recurring ?? false,
      operationField: (a) => a.operationField ?? null,
    },
    UsageType: {
      __resolveReference: (ref, ctx) => ctx.usageTypes.load(ref.id),
      id: (t) => t._id,
      status: (t) => effectiveStatus(t),
      isDefault: async (t, _, ctx) => defaultVersion(await ctx.registry.versionsOf(t.key))?._id === t._id,
    },
    UsageEvent: {
      __resolveReference: (ref, ctx) => ctx.events.load(ref.id),
      id: (e) => e._id,
      usageType: (e, _, ctx) => loadReferenced(ctx.usageTypes, e.usageTypeId, 'usage type'),
      customer: (e) => ({ id: e.customerId }),
      subscription: (e) => ({ id: e.subscriptionId }),
      period: (e) => parsePeriod(e.periodKey),
      quantity: (e) => (/^-?\d+(\.\d+)?$/.test(e.value) ? e.value : null),
      dimensions: (e) => asDimensions(e.dimensions),
      aggregate: (e, _, ctx) =>
        ctx.aggregates.load(e.aggregateId ?? aggregateId(e.subscriptionId, e.usageTypeKey, e.periodKey)),
    },
    UsageAggregate: {
      __resolveReference: (ref, ctx) => ctx.aggregates.load(ref.id),
      id: (a) => a._id,
      subscription: (a) => ({ id: a.subscriptionId }),
      // Once every version of the key is retired none is the newest usable, yet the usage was counted by one of them.
      usageType: async (a, _, ctx) => {
        const type = (await ctx.registry.newest(a.usageTypeKey)) ?? (await ctx.registry.forAggregation(a.usageTypeKey));
        if (!type) throw new Error(`usage type "${a.usageTypeKey}" of aggregate "${a._id}" does not exist`);
        return type;
      },
      period: (a) => parsePeriod(a.periodKey),
      groups: (a) => groups(a.groups ?? []),
      events: (a, args, ctx) => pageById(ctx.store.events, { aggregateId: a._id }, args.first, args.after),
      pendingEventCount: (a, _, ctx) =>
        ctx.store.events.countDocuments({ aggregateId: a._id, receivedAt: { $gt: a.lastReceivedAt ?? new Date(0) } }),
    },
    CustomerUsage: {
      period: (u) => parsePeriod(u.periodKey),
    },
    UsageTypeUsage: {
      groups: (u) => groups(u.groups),
    },
    UsageWindow: {
      groups: (w) => groups(w.groups),
    },
    UsageException: {
      __resolveReference: (ref, ctx) => ctx.store.exceptions.findOne({ _id: ref.id }),
      id: (e) => e._id,
      period: (e) => parsePeriod(e.periodKey),
      message: (e) => heldReason({ reason: e.code, customerKey: e.customerKey, periodKey: e.periodKey }),
      remedy: (e) =>
        e.code === 'CUSTOMER_UNKNOWN'
          ? `create the customer with upsertCustomer(externalKey: "${e.customerKey}"), or map "${e.customerKey}" to an existing customer with addCustomerAlias; the held events then flow on by themselves`
          : `create a subscription for customer "${e.customerKey}" that covers ${e.periodKey}; the held events then flow on by themselves`,
      heldEventCount: (e, _, ctx) => ctx.store.held.countDocuments({ exceptionId: e._id }),
      heldEvents: async (e, args, ctx) =>
        withCount(await pageById(ctx.store.held, { exceptionId: e._id }, args.first, args.after), ctx.store.held, {
          exceptionId: e._id,
        }),
    },
    QuarantinedEvent: {
      id: (q) => q._id,
      // As sent when it can be answered as JSON; nested too deep or cut short, its storable view; a bare null (never
      // a valid event, but a batch may hold one) as its text, since the field cannot be null.
      payload: (q) => {
        const sent = sentPayload(q);
        const shown = sent.ok && nestsWithin(sent.payload, MAX_BODY_DEPTH) ? sent.payload : q.payload;
        return shown ?? q.payloadText ?? 'null';
      },
      payloadText: (q) => q.payloadText ?? JSON.stringify(q.payload ?? null),
      payloadTruncated: (q) => q.payloadTruncated ?? false,
      status: (q) => q.status ?? 'OPEN',
      resolvedAs: (q) => q.resolution?.status ?? null,
      groupId: (q) => q.groupId ?? null,
      discard: (q) =>
        q.discard ? { reason: q.discard.reason, discardedBy: q.discard.by, discardedAt: q.discard.at } : null,
      correction: (q) =>
        q.correction
          ? { payloadText: q.correction.payloadText, correctedBy: q.correction.by, correctedAt: q.correction.at }
          : null,
      usageEventId: (q) => q.resolution?.usageEventId ?? null,
    },
  },
};
