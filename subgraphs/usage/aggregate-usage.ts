// Use case: compute a subscription's usage per type for a period, exactly (decimal sums in code, not $group floats).
import { deterministicId } from '../../lib/ids';
import { UserFacingError, type Problem } from '../../lib/errors';
import { Dec } from '../../lib/money';
import { parsePeriod } from '../../lib/period';
import { isDuplicateKeyError } from '../../lib/mongo';
import type { UsageAggregateDoc, UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export function aggregateId(subscriptionId: string, usageTypeKey: string, periodKey: string): string {
  return deterministicId('agg', subscriptionId, usageTypeKey, periodKey);
}

export async function aggregateUsage(store: UsageStore, registry: UsageTypeRegistry, subscriptionId: string, periodKey: string, usageTypeKeys: readonly string[], correlationId: string): Promise<UsageAggregateDoc[]> {
  const period = parsePeriod(periodKey);
  const problems: Problem[] = [];
  for (const [i, key] of usageTypeKeys.entries()) {
    if (!(await registry.find(key))) problems.push({ code: 'USAGE_TYPE_UNKNOWN', field: `usageTypeKeys[${i}]`, reason: `no usage type "${key}" is registered`, expected: 'registered usage type keys' });
  }
  if (problems.length > 0) throw new UserFacingError('USAGE_TYPE_UNKNOWN', problems.map((p) => p.reason).join('; '), { field: problems[0]!.field, problems });

  const aggregates: UsageAggregateDoc[] = [];
  for (const usageTypeKey of new Set(usageTypeKeys)) {
    const _id = aggregateId(subscriptionId, usageTypeKey, period.key);
    aggregates.push(await store.locks.run(_id, () => computeAggregate(store, _id, subscriptionId, usageTypeKey, period.key, correlationId)));
  }
  return aggregates;
}

async function computeAggregate(store: UsageStore, _id: string, subscriptionId: string, usageTypeKey: string, periodKey: string, correlationId: string): Promise<UsageAggregateDoc> {
  let quantity = new Dec(0);
  let eventCount = 0;
  const cursor = store.events.find({ subscriptionId, usageTypeKey, periodKey }, { projection: { quantity: 1 } });
  for await (const e of cursor) {
    quantity = quantity.plus(e.quantity);
    eventCount++;
  }
  const computed = { subscriptionId, usageTypeKey, periodKey, quantity: quantity.toFixed(), eventCount };
  const existing = await store.aggregates.findOne({ _id });
  if (existing && existing.quantity === computed.quantity && existing.eventCount === computed.eventCount) return existing;
  const doc: UsageAggregateDoc = { _id, ...computed, computedAt: new Date(), correlationId };
  await store.aggregates.replaceOne({ _id }, doc, { upsert: true }).catch(async (error) => {
    // Another process created it first (an upsert race is a duplicate key): ours is as fresh, so write it over.
    if (!isDuplicateKeyError(error)) throw error;
    await store.aggregates.replaceOne({ _id }, doc);
  });
  return doc;
}
