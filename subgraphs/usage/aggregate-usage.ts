// Use case: a subscription's usage per type for a period, exactly, with its breakdown by dimension — and, for rating,
// split at the instants its plan changes. Computed from the events (indexed by aggregate id) and stored; a stored
// aggregate is used as it is only while it can be trusted (see freshness.ts).
import { UserFacingError, type Problem } from '../../lib/errors';
import { parsePeriod, type BillingPeriod } from '../../lib/period';
import { UsageAggregator } from './aggregation';
import { aggregateId } from './enrichment';
import { clearSettledMarks, trustedAggregates } from './freshness';
import type { UsageAggregateDoc, UsageStore, UsageTypeDoc } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export { aggregateId };

export interface AggregateRequest {
  subscriptionId: string;
  usageTypeKeys: readonly string[];
  /** Instants inside the period where the usage must be split (plan changes, new plan versions). */
  boundaries?: readonly Date[] | null;
  /** Usage types whose per-event values rating needs (percentage charges), in time order. */
  valuesFor?: readonly string[] | null;
}

export interface UsageSegment {
  from: Date;
  to: Date;
  quantity: string;
  eventCount: number;
  values: string[] | null;
}

export interface AggregateForRating {
  aggregate: UsageAggregateDoc;
  type: UsageTypeDoc;
  segments: UsageSegment[];
}

async function typesByKey(registry: UsageTypeRegistry, keys: readonly string[]): Promise<Map<string, UsageTypeDoc>> {
  const problems: Problem[] = [];
  const types = new Map<string, UsageTypeDoc>();
  for (const [i, key] of [...new Set(keys)].entries()) {
    const type = await registry.forAggregation(key);
    if (type) types.set(key, type);
    else
      problems.push({
        code: 'USAGE_TYPE_UNKNOWN',
        field: `usageTypeKeys[${i}]`,
        reason: `no usage type "${key}" was ever activated`,
        expected: 'keys of registered usage types',
      });
  }
  if (problems.length > 0)
    throw new UserFacingError('USAGE_TYPE_UNKNOWN', problems.map((p) => p.reason).join('; '), {
      field: problems[0]!.field,
      problems,
    });
  return types;
}

/** Aggregates for many subscriptions at once: one read for the trusted ones, a recompute for the rest. */
export async function aggregatesForRating(
  store: UsageStore,
  registry: UsageTypeRegistry,
  periodKey: string,
  requests: readonly AggregateRequest[],
  correlationId: string,
): Promise<AggregateForRating[]> {
  const period = parsePeriod(periodKey);
  const types = await typesByKey(
    registry,
    requests.flatMap((r) => r.usageTypeKeys),
  );
  const wanted = requests.flatMap((r) =>
    r.usageTypeKeys.map((key) => ({ r, key, id: aggregateId(r.subscriptionId, key, period.key) })),
  );
  const trusted = await trustedAggregates(
    store,
    wanted.map((w) => w.id),
  );
  const results: AggregateForRating[] = [];
  for (const { r, key, id } of wanted) {
    const type = types.get(key)!;
    const boundaries = (r.boundaries ?? []).filter((b) => b > period.start && b < period.end);
    const withValues = r.valuesFor?.includes(key) ?? false;
    const stored = trusted.get(id);
    if (stored && boundaries.length === 0 && !withValues) {
      results.push({
        aggregate: stored,
        type,
        segments: [
          {
            from: period.start,
            to: period.end,
            quantity: stored.quantity,
            eventCount: stored.eventCount,
            values: null,
          },
        ],
      });
      continue;
    }
    results.push(
      await store.locks.run(id, () =>
        computeAggregate(
          store,
          { _id: id, subscriptionId: r.subscriptionId, usageTypeKey: key, periodKey: period.key },
          type,
          correlationId,
          { period, boundaries, withValues },
        ),
      ),
    );
  }
  return results;
}

export async function aggregateUsage(
  store: UsageStore,
  registry: UsageTypeRegistry,
  subscriptionId: string,
  periodKey: string,
  usageTypeKeys: readonly string[],
  correlationId: string,
): Promise<UsageAggregateDoc[]> {
  return (
    await aggregatesForRating(store, registry, periodKey, [{ subscriptionId, usageTypeKeys }], correlationId)
  ).map((a) => a.aggregate);
}

/** Streams the aggregate's events once; stores the result when it changed, and returns it split into segments. */
export async function computeAggregate(
  store: UsageStore,
  key: Pick<UsageAggregateDoc, '_id' | 'subscriptionId' | 'usageTypeKey' | 'periodKey'>,
  type: UsageTypeDoc,
  correlationId: string,
  split: { period?: BillingPeriod; boundaries?: readonly Date[]; withValues?: boolean } = {},
): Promise<AggregateForRating> {
  const scanStart = new Date();
  const period = split.period ?? parsePeriod(key.periodKey);
  const edges = [period.start, ...[...(split.boundaries ?? [])].sort((a, b) => a.getTime() - b.getTime()), period.end];
  const segments = edges.slice(0, -1).map((from, i) => ({
    from,
    to: edges[i + 1]!,
    aggregator: new UsageAggregator(type.aggregation.type),
    values: split.withValues ? ([] as Array<{ at: number; id: string; value: string }>) : null,
  }));
  const aggregator = new UsageAggregator(type.aggregation.type);
  let lastReceivedAt: Date | null = null;
  const cursor = store.events.find(
    { aggregateId: key._id },
    { projection: { value: 1, timestamp: 1, dimensions: 1, receivedAt: 1 } },
  );
  for await (const e of cursor) {
    aggregator.add(e);
    const segment = segments.find((s) => e.timestamp >= s.from && e.timestamp < s.to) ?? segments[segments.length - 1]!;
    segment.aggregator.add(e);
    segment.values?.push({ at: e.timestamp.getTime(), id: e._id, value: e.value });
    if (!lastReceivedAt || e.receivedAt > lastReceivedAt) lastReceivedAt = e.receivedAt;
  }
  const result = aggregator.result();
  const existing = await store.aggregates.findOne({ _id: key._id });
  const unchanged =
    existing &&
    existing.quantity === result.quantity &&
    existing.eventCount === result.eventCount &&
    JSON.stringify(existing.groups) === JSON.stringify(result.groups);
  // A recompute always refreshes computedAt: it is what tells later readers this result counted the events up to now.
  const doc: UsageAggregateDoc = {
    ...key,
    ...result,
    lastReceivedAt,
    computedAt: scanStart,
    correlationId: unchanged ? existing.correlationId : correlationId,
  };
  await store.aggregates
    .replaceOne({ _id: key._id }, doc, { upsert: true })
    .catch(async () => store.aggregates.replaceOne({ _id: key._id }, doc));
  await clearSettledMarks(store, key._id, scanStart);
  return {
    aggregate: doc,
    type,
    segments: segments.map((s) => {
      const r = s.aggregator.result();
      return {
        from: s.from,
        to: s.to,
        quantity: r.quantity,
        eventCount: r.eventCount,
        values: s.values ? s.values.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).map((v) => v.value) : null,
      };
    }),
  };
}
