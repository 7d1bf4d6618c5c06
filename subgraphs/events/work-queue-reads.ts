// Reads of the work queue and of the technical failures shown beside it (webhook dead letters), and their bulk replay.
import type { Filter } from 'mongodb';
import { UserFacingError } from '../../lib/errors';
import { pageBy, type Page, type SortOrder } from '../../lib/pagination';
import { replayWebhookDelivery, type WebhookPolicy } from './deliver-webhook';
import { WORK_ITEM_STATUSES, type EventsStore, type WorkItemDoc, type WorkItemStatus } from './store';

const NEWEST_RAISED: SortOrder = [
  ['raisedAt', -1],
  ['_id', -1],
];
const NEWEST_CREATED: SortOrder = [
  ['createdAt', -1],
  ['_id', -1],
];

export interface WorkQueueFilter {
  statuses?: WorkItemStatus[] | null;
  kind?: string | null;
  assignee?: string | null;
  source?: string | null;
  customerKey?: string | null;
  period?: string | null;
}

export async function workQueue(
  store: EventsStore,
  filter: WorkQueueFilter,
  first?: number | null,
  after?: string | null,
): Promise<Page<WorkItemDoc>> {
  const statuses = filter.statuses?.length ? [...new Set(filter.statuses)] : (['OPEN', 'IN_PROGRESS'] as const);
  const q: Filter<WorkItemDoc> = { status: statuses.length === 1 ? statuses[0] : { $in: [...statuses] } };
  if (filter.kind) q.kind = filter.kind;
  if (filter.assignee) q.assignee = filter.assignee;
  if (filter.source) q.source = filter.source;
  if (filter.customerKey) q['references.customerKey'] = filter.customerKey;
  if (filter.period) q['references.period'] = filter.period;
  const page = await pageBy(store.workItems, q, NEWEST_RAISED, first, after);
  const onlyStatuses = !filter.kind && !filter.assignee && !filter.source && !filter.customerKey && !filter.period;
  return {
    ...page,
    totalCount: async () =>
      onlyStatuses
        ? (await Promise.all(statuses.map((status) => store.workItems.countDocuments({ status })))).reduce(
            (a, b) => a + b,
            0,
          )
        : null,
  };
}

/** Counts per status and kind: one grouped read per status, on the status index. */
export async function workQueueSummary(
  store: EventsStore,
): Promise<Array<{ status: WorkItemStatus; kind: string; count: number }>> {
  const out: Array<{ status: WorkItemStatus; kind: string; count: number }> = [];
  for (const status of WORK_ITEM_STATUSES) {
    const groups = await store.workItems
      .aggregate<{ _id: string; count: number }>([
        { $match: { status } },
        { $group: { _id: '$kind', count: { $sum: 1 } } },
      ])
      .toArray();
    for (const g of groups.sort((a, b) => a._id.localeCompare(b._id)))
      out.push({ status, kind: g._id, count: Number(g.count) });
  }
  return out;
}

export async function webhookDeadLetters(store: EventsStore, first?: number | null, after?: string | null) {
  const page = await pageBy(store.deliveries, { status: 'DEAD_LETTER' }, NEWEST_CREATED, first, after);
  // An empty page asks for nothing: an empty $in would make the embedded database read the whole table.
  const [events, endpoints] = page.nodes.length
    ? await Promise.all([
        store.events.find({ _id: { $in: [...new Set(page.nodes.map((d) => d.eventId))] } }).toArray(),
        store.endpoints.find({ _id: { $in: [...new Set(page.nodes.map((d) => d.endpointId))] } }).toArray(),
      ])
    : [[], []];
  const eventById = new Map(events.map((e) => [e._id, e]));
  const endpointById = new Map(endpoints.map((e) => [e._id, e]));
  return {
    pageInfo: page.pageInfo,
    totalCount: () => store.deliveries.countDocuments({ status: 'DEAD_LETTER' }),
    nodes: page.nodes.map((d) => {
      const last = d.history[d.history.length - 1];
      const event = eventById.get(d.eventId);
      return {
        id: d._id,
        eventId: d.eventId,
        eventType: event?.type ?? 'unknown',
        eventSubject: event?.subject ?? '',
        endpointDescription: endpointById.get(d.endpointId)?.description || 'a webhook endpoint',
        attempts: d.attempts,
        lastOutcome: last?.outcome ?? null,
        lastAttemptAt: last?.at ?? null,
        createdAt: d.createdAt,
      };
    }),
  };
}

export async function replayWebhookDeliveries(store: EventsStore, policy: WebhookPolicy, ids: readonly string[]) {
  if (ids.length < 1 || ids.length > 500) {
    throw new UserFacingError('VALIDATION_FAILED', `ids: ${ids.length} ids given`, {
      field: 'ids',
      expected: 'from 1 to 500 delivery ids',
    });
  }
  const results = [];
  for (const id of ids) {
    try {
      const replayed = await replayWebhookDelivery(store, id, policy);
      results.push({ id, replayed: true, status: replayed.status, error: null });
    } catch (error) {
      results.push({ id, replayed: false, status: null, error: (error as Error).message });
    }
  }
  return results;
}
