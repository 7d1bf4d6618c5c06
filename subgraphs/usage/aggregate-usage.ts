// Use case: compute a subscription's usage per type for a period, exactly, with its breakdown by dimension.
// Computed on demand from the events (indexed by aggregate id): exact decimals in code, never $group floats.
import { UserFacingError, type Problem } from '../../lib/errors';
import { parsePeriod } from '../../lib/period';
import { UsageAggregator } from './aggregation';
import { aggregateId } from './enrichment';
import type { UsageAggregateDoc, UsageStore, UsageTypeDoc } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export { aggregateId };

export async function aggregateUsage(store: UsageStore, registry: UsageTypeRegistry, subscriptionId: string, periodKey: string, usageTypeKeys: readonly string[], correlationId: string): Promise<UsageAggregateDoc[]> {
  const period = parsePeriod(periodKey);
  const problems: Problem[] = [];
  const types = new Map<string, UsageTypeDoc>();
  for (const [i, key] of usageTypeKeys.entries()) {
    const type = await registry.newest(key);
    if (type) types.set(key, type);
    else problems.push({ code: 'USAGE_TYPE_UNKNOWN', field: `usageTypeKeys[${i}]`, reason: `no active usage type "${key}"`, expected: 'keys of registered, active usage types' });
  }
  if (problems.length > 0) throw new UserFacingError('USAGE_TYPE_UNKNOWN', problems.map((p) => p.reason).join('; '), { field: problems[0]!.field, problems });

  const aggregates: UsageAggregateDoc[] = [];
  for (const [key, type] of types) {
    const _id = aggregateId(subscriptionId, key, period.key);
    aggregates.push(await store.locks.run(_id, () => computeAggregate(store, { _id, subscriptionId, usageTypeKey: key, periodKey: period.key }, type, correlationId)));
  }
  return aggregates;
}

/** Streams the aggregate's events once; writes only when the result changed, so re-running is a no-op. */
export async function computeAggregate(
  store: UsageStore,
  key: Pick<UsageAggregateDoc, '_id' | 'subscriptionId' | 'usageTypeKey' | 'periodKey'>,
  type: UsageTypeDoc,
  correlationId: string,
): Promise<UsageAggregateDoc> {
  const aggregator = new UsageAggregator(type.aggregation.type);
  let lastReceivedAt: Date | null = null;
  const cursor = store.events.find({ aggregateId: key._id }, { projection: { value: 1, timestamp: 1, dimensions: 1, receivedAt: 1 } });
  for await (const e of cursor) {
    aggregator.add(e);
    if (!lastReceivedAt || e.receivedAt > lastReceivedAt) lastReceivedAt = e.receivedAt;
  }
  const result = aggregator.result();
  const existing = await store.aggregates.findOne({ _id: key._id });
  if (existing && existing.quantity === result.quantity && existing.eventCount === result.eventCount && JSON.stringify(existing.groups) === JSON.stringify(result.groups)) return existing;
  const doc: UsageAggregateDoc = { ...key, ...result, lastReceivedAt, computedAt: new Date(), correlationId };
  await store.aggregates.replaceOne({ _id: key._id }, doc, { upsert: true }).catch(async () => store.aggregates.replaceOne({ _id: key._id }, doc));
  return doc;
}
