// A customer's usage in a period computed from every one of its events, as customerUsage did before it read the stored
// aggregates: the reference a test compares with, the baseline bench:usage times, and the answer for a usage type whose
// aggregates do not merge across several subscriptions (a unique count, a time-weighted level).
import { parsePeriod, periodOf } from '../../lib/period';
import { UsageAggregator, type AggregateResult } from './aggregation';
import { customerCarryIn, forAggregation, specOf } from './aggregate-usage';
import { aggregateId, exceptionId, lookupCustomers } from './enrichment';
import { HOLD_REASONS, type UsageStore, type UsageTypeDoc } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export interface CustomerUsage {
  customerKey: string;
  periodKey: string;
  asOf: Date;
  usage: Array<AggregateResult & { usageTypeKey: string; unit: string; lastEventAt: Date | null }>;
  heldEventCount: number;
}

/**
 * Reads the customer's events through its aggregates (subscription × usage type × period), the one events index; only
 * the usage types in `onlyTypeKeys` when given.
 */
export async function customerUsageFullRead(
  store: UsageStore,
  registry: UsageTypeRegistry,
  customerKey: string,
  periodKey?: string | null,
  onlyTypeKeys?: readonly string[],
): Promise<CustomerUsage> {
  const period = periodKey ? parsePeriod(periodKey) : periodOf(new Date());
  const customer = (await lookupCustomers([customerKey])).get(customerKey);
  const subscriptions = customer?.subscriptions ?? [];
  const typeDocs = await store.usageTypes
    .find(onlyTypeKeys ? { key: { $in: [...onlyTypeKeys] } } : {}, { projection: { key: 1, aggregation: 1 } })
    .toArray();
  const typeKeys = [...new Set(typeDocs.map((t) => t.key))];
  // An event's data is read only when a recurring unique count needs its add/remove field.
  const withData = typeDocs.some((t) => t.aggregation?.operationField !== undefined);
  const aggregateIds = subscriptions.flatMap((s) => typeKeys.map((k) => aggregateId(s.id, k, period.key)));

  const byType = new Map<string, { aggregator: UsageAggregator; type: UsageTypeDoc | null; last: Date | null }>();
  const entryFor = async (key: string, type: UsageTypeDoc | null) => {
    let entry = byType.get(key);
    if (!entry) {
      // Time-weighted types need the period; recurring ones start from the levels the customer held when it began.
      const carryIn = type ? await customerCarryIn(store, type, subscriptions, period) : null;
      const spec = type ? specOf(type) : { type: 'SUM' as const };
      entry = {
        aggregator: new UsageAggregator(spec, { start: period.start, end: period.end, carryIn }),
        type,
        last: null,
      };
      byType.set(key, entry);
    }
    return entry;
  };
  // Recurring types with levels carried in count even without an event this period (seats held all month).
  for (const key of typeKeys) {
    const type = await registry.forAggregation(key);
    if (type?.aggregation.recurring && subscriptions.length > 0) {
      if ((await entryFor(key, type)).aggregator.result().quantity === '0') byType.delete(key);
    }
  }
  const cursor = store.events.find(
    { aggregateId: { $in: aggregateIds } },
    { projection: { usageTypeKey: 1, value: 1, timestamp: 1, dimensions: 1, ...(withData ? { data: 1 } : {}) } },
  );
  for await (const e of aggregateIds.length ? cursor : []) {
    // An alias's events count for the customer too; events under another key of the same customer are its usage.
    const entry = await entryFor(e.usageTypeKey, await registry.forAggregation(e.usageTypeKey));
    entry.aggregator.add(entry.type ? forAggregation(entry.type, e) : e);
    if (!entry.last || e.timestamp > entry.last) entry.last = e.timestamp;
  }
  const heldEventCount = await heldEventCountOf(store, customerKey, period.key);
  return {
    customerKey,
    periodKey: period.key,
    asOf: new Date(),
    heldEventCount,
    usage: [...byType.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([usageTypeKey, e]) => ({
        usageTypeKey,
        unit: e.type?.unit ?? '',
        lastEventAt: e.last,
        ...e.aggregator.result(),
      })),
  };
}

/** A held event's exception id follows from its reason, customer and period: the {exceptionId, _id} index finds them. */
export function heldEventCountOf(store: UsageStore, customerKey: string, periodKey: string): Promise<number> {
  return store.held.countDocuments({
    exceptionId: { $in: HOLD_REASONS.map((reason) => exceptionId(reason, customerKey, periodKey)) },
    customerKey,
    periodKey,
  });
}
