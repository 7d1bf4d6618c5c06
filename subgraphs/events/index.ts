// The events subgraph: the business event log the other subgraphs raise into (through their outboxes), and the
// webhooks that carry those events to downstream systems.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import { actingSubject, type BaseContext, type SubgraphDefinition } from '../../lib/subgraph-server';
import { loaderByField, loadReferenced } from '../../lib/loaders';
import { BY_ID, pageBy, type SortOrder } from '../../lib/pagination';
import type { Logger } from '../../lib/logger';
import { UserFacingError } from '../../lib/errors';
import type { Resolvers } from './generated/resolvers-types';
import { recordBusinessEvents } from './record-business-events';
import {
  replayWebhookDelivery,
  startWebhookWorker,
  webhookPolicyFromEnvironment,
  type WebhookPolicy,
} from './deliver-webhook';
import { createWebhookEndpoint, disableWebhookEndpoint } from './webhook-endpoints';
import { assignWorkItem, dismissWorkItem } from './work-queue';
import { replayWebhookDeliveries, webhookDeadLetters, workQueue, workQueueSummary } from './work-queue-reads';
import {
  eventsStore,
  indexes,
  type BusinessEventDoc,
  type EventsStore,
  type WebhookDeliveryDoc,
  type WebhookEndpointDoc,
} from './store';

interface Services {
  store: EventsStore;
  policy: WebhookPolicy;
  log: Logger;
}

export interface Context extends BaseContext, Services {
  events: DataLoader<string, BusinessEventDoc | null>;
  endpoints: DataLoader<string, WebhookEndpointDoc | null>;
}

const NEWEST_RECORDED: SortOrder = [
  ['recordedAt', -1],
  ['_id', -1],
];
const NEWEST_CREATED: SortOrder = [
  ['createdAt', -1],
  ['_id', -1],
];

function requireService(ctx: Context): void {
  if (ctx.principal.via !== 'service') {
    throw new UserFacingError('FORBIDDEN', 'this field is for the subgraphs only', { field: 'internal' });
  }
}

const resolvers: Resolvers = {
  Query: {
    businessEvents: (_, { filter, first, after }, ctx) => {
      const q: Filter<BusinessEventDoc> = {};
      if (filter?.type) q.type = filter.type;
      if (filter?.subject) q.subject = filter.subject;
      return pageBy(ctx.store.events, q, NEWEST_RECORDED, first, after);
    },
    businessEvent: (_, { id }, ctx) => ctx.events.load(id),
    workQueue: (_, { filter, first, after }, ctx) => workQueue(ctx.store, filter ?? {}, first, after),
    workItem: (_, { id }, ctx) => ctx.store.workItems.findOne({ _id: id }),
    workQueueSummary: (_, __, ctx) => workQueueSummary(ctx.store),
    webhookDeadLetters: (_, { first, after }, ctx) => webhookDeadLetters(ctx.store, first, after),
    webhookEndpoints: (_, { first, after }, ctx) => pageBy(ctx.store.endpoints, {}, BY_ID, first, after),
    webhookEndpoint: (_, { id }, ctx) => ctx.endpoints.load(id),
    webhookDeliveries: (_, { filter, first, after }, ctx) => {
      const q: Filter<WebhookDeliveryDoc> = {};
      if (filter?.endpointId) q.endpointId = filter.endpointId;
      if (filter?.eventId) q.eventId = filter.eventId;
      if (filter?.status) q.status = filter.status;
      return pageBy(ctx.store.deliveries, q, NEWEST_CREATED, first, after);
    },
  },
  Mutation: {
    createWebhookEndpoint: (_, { input }, ctx) => createWebhookEndpoint(ctx.store, input, actingSubject(ctx)),
    disableWebhookEndpoint: (_, { id }, ctx) => disableWebhookEndpoint(ctx.store, id),
    replayWebhookDelivery: (_, { id }, ctx) => replayWebhookDelivery(ctx.store, id, ctx.policy),
    assignWorkItem: (_, { id, assignee, unassign }, ctx) =>
      assignWorkItem(
        ctx.store,
        id,
        unassign ? null : assignee === undefined ? actingSubject(ctx) : assignee,
        actingSubject(ctx),
      ),
    dismissWorkItem: (_, { id, reason }, ctx) => dismissWorkItem(ctx.store, id, reason, actingSubject(ctx)),
    replayWebhookDeliveries: (_, { ids }, ctx) => replayWebhookDeliveries(ctx.store, ctx.policy, ids),
    recordBusinessEvents: (_, { events }, ctx) => {
      requireService(ctx);
      return recordBusinessEvents(ctx.store, events);
    },
  },
  BusinessEvent: {
    __resolveReference: (ref, ctx) => ctx.events.load(ref.id),
    id: (e) => e._id,
  },
  WebhookEndpoint: {
    id: (e) => e._id,
  },
  WorkItem: {
    id: (w) => w._id,
    references: (w) =>
      Object.entries(w.references)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, value]) => ({ name, value })),
    customerKey: (w) => w.references.customerKey ?? null,
    period: (w) => w.references.period ?? null,
    details: (w) => w.data,
    ageSeconds: (w) => {
      const end = w.resolution?.at ?? w.dismissal?.at ?? new Date();
      return Math.max(0, Math.floor((end.getTime() - w.raisedAt.getTime()) / 1000));
    },
    resolution: (w) =>
      w.resolution && {
        action: w.resolution.action,
        detail: w.resolution.detail,
        afterwards: w.resolution.afterwards,
        resolvedBy: w.resolution.by,
        resolvedAt: w.resolution.at,
      },
    dismissal: (w) =>
      w.dismissal && { reason: w.dismissal.reason, dismissedBy: w.dismissal.by, dismissedAt: w.dismissal.at },
  },
  WebhookDelivery: {
    id: (d) => d._id,
    event: (d, _, ctx) => loadReferenced(ctx.events, d.eventId, 'business event'),
    endpoint: (d, _, ctx) => loadReferenced(ctx.endpoints, d.endpointId, 'webhook endpoint'),
  },
};

export const eventsSubgraph: SubgraphDefinition<Services, Context, Resolvers> = {
  name: 'events',
  indexes,
  createServices: (db, log) => ({ store: eventsStore(db), policy: webhookPolicyFromEnvironment(), log }),
  createContext: (services, base) => ({
    ...base,
    ...services,
    events: loaderByField(services.store.events),
    endpoints: loaderByField(services.store.endpoints),
  }),
  startBackground: (s, log) => startWebhookWorker(s.store, s.policy, log),
  resolvers,
};
