// Use case: compute a subscription's usage per type for a period, exactly (decimal sums in code, not $group floats).
import { deterministicId } from '../../lib/ids';
import { UserFacingError, type Problem } from '../../lib/errors';
import { Dec } from '../../lib/money';
import { parsePeriod } from '../../lib/period';
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
    let quantity = new Dec(0);
    let eventCount = 0;
    const cursor = store.events.find({ subscriptionId, usageTypeKey, periodKey: period.key }, { projection: { quantity: 1 } });
    for await (const e of cursor) {
      quantity = quantity.plus(e.quantity);
      eventCount++;
    }
    const _id = aggregateId(subscriptionId, usageTypeKey, period.key);
    const computed = { subscriptionId, usageTypeKey, periodKey: period.key, quantity: quantity.toFixed(), eventCount };
    const existing = await store.aggregates.findOne({ _id });
    if (existing && existing.quantity === computed.quantity && existing.eventCount === computed.eventCount) {
      aggregates.push(existing);
      continue;
    }
    const doc = await store.aggregates.findOneAndUpdate({ _id }, { $set: { ...computed, computedAt: new Date(), correlationId } }, { upsert: true, returnDocument: 'after' });
    aggregates.push(doc!);
  }
  return aggregates;
}
