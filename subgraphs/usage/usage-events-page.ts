// Query: a page of usage events by the admin filters. Events keep one index, by aggregate, so that ingestion stays near
// the raw insert rate; a filter with a period and a subscription or customer names its aggregates (subscription ×
// usage type × period), each read through {aggregateId, _id} as one keyset page, and the pages merged by _id.
import type { Filter } from 'mongodb';
import { BY_ID, afterPosition, pageById, pageSize, sortFor, toPage, type Page } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { aggregateId, lookupCustomers } from './enrichment';
import type { UsageEventFilter } from './generated/resolvers-types';
import type { UsageEventDoc, UsageStore } from './store';

export function eventFilter(f: UsageEventFilter | null | undefined): Filter<UsageEventDoc> {
  const q: Filter<UsageEventDoc> = {};
  if (f?.subscriptionId) q.subscriptionId = f.subscriptionId;
  if (f?.customerKey) q.customerKey = f.customerKey;
  if (f?.usageTypeKey) q.usageTypeKey = f.usageTypeKey;
  if (f?.period) q.periodKey = parsePeriod(f.period, 'filter.period').key;
  return q;
}

export async function usageEventsPage(
  store: UsageStore,
  f: UsageEventFilter | null | undefined,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<UsageEventDoc>> {
  const filter = eventFilter(f);
  const size = pageSize(first);
  afterPosition(filter, BY_ID, after); // refuses a bad cursor even when no aggregate is read
  const ids = await aggregateIdsOf(store, f);
  // Without a period, or without a subscription or customer, the aggregates are not few enough to name: a walk.
  if (!ids) return pageById(store.events, filter, first, after);
  const pages = await Promise.all(
    ids.map((id) =>
      store.events
        .find(afterPosition({ ...filter, aggregateId: id }, BY_ID, after))
        .sort(sortFor(BY_ID))
        .limit(size + 1)
        .toArray(),
    ),
  );
  // Bytewise, as the database orders strings.
  const rows = pages.flat().sort((a, b) => Buffer.compare(Buffer.from(a._id), Buffer.from(b._id)));
  return toPage(rows.slice(0, size + 1), size);
}

/** Every aggregate an event the filter keeps can belong to (an event's aggregateId derives from the three), or null. */
async function aggregateIdsOf(store: UsageStore, f: UsageEventFilter | null | undefined): Promise<string[] | null> {
  if (!f?.period || !(f.subscriptionId || f.customerKey)) return null;
  const periodKey = parsePeriod(f.period, 'filter.period').key;
  // An event names the key it was sent with, an external key or an alias: the customer it resolves to holds its subscription.
  const subscriptionIds = f.subscriptionId
    ? [f.subscriptionId]
    : ((await lookupCustomers([f.customerKey!])).get(f.customerKey!)?.subscriptions ?? []).map((s) => s.id);
  const typeKeys = f.usageTypeKey
    ? [f.usageTypeKey]
    : [...new Set((await store.usageTypes.find({}, { projection: { key: 1 } }).toArray()).map((t) => t.key))];
  return subscriptionIds.flatMap((s) => typeKeys.map((k) => aggregateId(s, k, periodKey)));
}
