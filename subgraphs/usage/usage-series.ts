// Query: a customer's usage of one type per time window (minute, hour, day, month), optionally grouped by dimensions —
// OpenMeter's meter query, for analytics and customers' usage pages.
import { UserFacingError } from '../../lib/errors';
import { periodOf, type BillingPeriod } from '../../lib/period';
import { UsageAggregator, isTimeWeighted, type AggregateResult } from './aggregation';
import { customerCarryIn, eventProjection, forAggregation, specOf } from './aggregate-usage';
import { aggregateId, lookupCustomers } from './enrichment';
import type { UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export const WINDOW_SIZES = ['MINUTE', 'HOUR', 'DAY', 'MONTH'] as const;
export type WindowSize = (typeof WINDOW_SIZES)[number];
export const MAX_WINDOWS = 1_000;

const FIXED_MS: Record<Exclude<WindowSize, 'MONTH'>, number> = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };

export interface UsageSeries {
  customerKey: string;
  usageTypeKey: string;
  unit: string;
  windowSize: WindowSize;
  windows: Array<AggregateResult & { from: Date; to: Date }>;
}

/** The windows covering [from, to): from rounded down and to rounded up to the window size, in UTC. */
export function windowsOf(from: Date, to: Date, size: WindowSize): Array<{ from: Date; to: Date }> {
  const windows: Array<{ from: Date; to: Date }> = [];
  if (size === 'MONTH') {
    for (let p: BillingPeriod = periodOf(from); p.start < to; p = periodOf(p.end)) {
      windows.push({ from: p.start, to: p.end });
      if (windows.length > MAX_WINDOWS) break;
    }
    return windows;
  }
  const ms = FIXED_MS[size];
  for (let t = Math.floor(from.getTime() / ms) * ms; t < to.getTime(); t += ms) {
    windows.push({ from: new Date(t), to: new Date(t + ms) });
    if (windows.length > MAX_WINDOWS) break;
  }
  return windows;
}

export async function usageSeries(
  store: UsageStore,
  registry: UsageTypeRegistry,
  args: { customerKey: string; usageTypeKey: string; from: Date; to: Date; windowSize: WindowSize; groupBy: string[] },
): Promise<UsageSeries> {
  const { customerKey, usageTypeKey, from, to, windowSize } = args;
  if (!(from < to))
    throw new UserFacingError('VALIDATION_FAILED', `to: ${to.toISOString()} is not after from`, {
      field: 'to',
      expected: `an instant after from (${from.toISOString()})`,
    });
  const type = await registry.forAggregation(usageTypeKey);
  if (!type)
    throw new UserFacingError('NOT_FOUND', `usageTypeKey: no usage type "${usageTypeKey}" is active or was`, {
      field: 'usageTypeKey',
      expected: 'the key of a registered, activated usage type',
    });
  const unknown = args.groupBy.filter((d) => !type.dimensions.includes(d));
  if (unknown.length > 0)
    throw new UserFacingError(
      'VALIDATION_FAILED',
      `groupBy: "${unknown.join('", "')}" is not a dimension of "${type.key}"`,
      {
        field: 'groupBy',
        expected: type.dimensions.length
          ? `some of its dimensions: ${type.dimensions.join(', ')}`
          : 'nothing: it has no dimensions',
      },
    );
  const windows = windowsOf(from, to, windowSize);
  if (windows.length > MAX_WINDOWS)
    throw new UserFacingError(
      'VALIDATION_FAILED',
      `windowSize: ${windowSize} windows from ${from.toISOString()} to ${to.toISOString()} are more than ${MAX_WINDOWS}`,
      {
        field: 'windowSize',
        expected: `a larger window or a shorter range: at most ${MAX_WINDOWS} windows`,
      },
    );
  const start = windows[0]!.from;
  const end = windows[windows.length - 1]!.to;
  const customer = (await lookupCustomers([customerKey])).get(customerKey);
  const subscriptions = customer?.subscriptions ?? [];
  // A time-weighted level at the first window depends on the events before it: read from the start of its period.
  const spec = specOf(type);
  const firstPeriod = periodOf(start);
  const readFrom = isTimeWeighted(spec) ? firstPeriod.start : start;
  const periods: BillingPeriod[] = [];
  for (let p = periodOf(readFrom); p.start < end; p = periodOf(p.end)) periods.push(p);
  const carryIn = await customerCarryIn(store, type, subscriptions, firstPeriod);
  const aggregator = new UsageAggregator(spec, { start: readFrom, end, windows, normalize: 'WINDOW', carryIn });
  const ids = subscriptions.flatMap((s) => periods.map((p) => aggregateId(s.id, type.key, p.key)));
  const pick = (dims: Record<string, string> | undefined) =>
    Object.fromEntries(args.groupBy.flatMap((d) => (dims?.[d] === undefined ? [] : [[d, dims[d]]])));
  const cursor = store.events.find(
    { aggregateId: { $in: ids }, timestamp: { $gte: readFrom, $lt: end } },
    { projection: eventProjection(type, false) },
  );
  for await (const e of ids.length ? cursor : [])
    if (e.timestamp >= start || isTimeWeighted(spec))
      aggregator.add(forAggregation(type, { ...e, dimensions: pick(e.dimensions) }));
  const results = aggregator.windowResults();
  return {
    customerKey,
    usageTypeKey: type.key,
    unit: type.unit,
    windowSize,
    windows: windows.map((w, i) => ({ ...w, ...results[i]! })),
  };
}
