// Use case: a subscription's usage per type for a period, exactly, with its breakdown by dimension — and, for rating,
// split at the instants its plan changes. Computed from the events (indexed by aggregate id) and stored; a stored
// aggregate is used as it is only while it can be trusted (see freshness.ts).
import { UserFacingError, type Problem } from '../../lib/errors';
import { stableStringify } from '../../lib/ids';
import { Dec } from '../../lib/money';
import { parsePeriod, periodOf, type BillingPeriod } from '../../lib/period';
import { UsageAggregator, type AggregationSpec, type CarryState, type LevelState } from './aggregation';
import { aggregateId, subscriptionStart } from './enrichment';
import { clearSettledMarks, SETTLE_MS, trustedAggregates } from './freshness';
import { tallies, UsageTally } from './usage-tally';
import type { UsageAggregateDoc, UsageEventDoc, UsageStore, UsageTypeDoc } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export { aggregateId };

export interface AggregateRequest {
  subscriptionId: string;
  usageTypeKeys: readonly string[];
  /** Instants inside the period where the usage must be split (plan changes, new plan versions). */
  boundaries?: readonly Date[] | null;
  /** Usage types whose per-event values rating needs (percentage charges), in time order. */
  valuesFor?: readonly string[] | null;
  /** Data fields to sum over the events (the price fields of dynamic charges). */
  fieldTotals?: ReadonlyArray<{ usageTypeKey: string; field: string }> | null;
  /** When the subscription started: how far back a recurring usage type's carry goes (looked up when omitted). */
  since?: Date | null;
}

export interface UsageSegment {
  from: Date;
  to: Date;
  quantity: string;
  eventCount: number;
  values: string[] | null;
  fieldTotals: Array<{ field: string; total: string }> | null;
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

export const specOf = (type: Pick<UsageTypeDoc, 'aggregation'>): AggregationSpec => ({
  type: type.aggregation.type,
  recurring: type.aggregation.recurring === true,
});

/** Aggregates for many subscriptions at once: one read for the trusted ones, a recompute for the rest. */
export async function aggregatesForRating(
  store: UsageStore,
  registry: UsageTypeRegistry,
  periodKey: string,
  requests: readonly AggregateRequest[],
  correlationId: string,
  options: { persist?: boolean } = {},
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
    const fields = [...new Set((r.fieldTotals ?? []).filter((f) => f.usageTypeKey === key).map((f) => f.field))];
    const stored = trusted.get(id);
    const storedTotals = stored?.fieldTotals ?? {};
    // A recurring aggregate holds only while the levels it started from still hold (earlier periods may have changed).
    const carryIn =
      type.aggregation.recurring === true
        ? await carryInFor(store, type, r.subscriptionId, period, r.since ?? null)
        : undefined;
    const carryHolds = carryIn === undefined || (stored !== undefined && sameCarry(stored.carryIn, carryIn));
    if (stored && carryHolds && boundaries.length === 0 && !withValues && fields.every((f) => f in storedTotals)) {
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
            fieldTotals: fields.length ? fields.map((field) => ({ field, total: storedTotals[field]! })) : null,
          },
        ],
      });
      continue;
    }
    // Metered results that merge are brought up to date by folding in only the events received since (foldForward),
    // their field totals too when the stored aggregate keeps every one asked for.
    const foldable = options.persist !== false && boundaries.length === 0 && !withValues && !carryIn;
    const fold = async () => {
      const current = foldable ? await store.aggregates.findOne({ _id: id }) : null;
      if (!current || !fields.every((f) => f in (current.fieldTotals ?? {}))) return null;
      const folded = await foldForward(store, current, type, correlationId);
      return folded && { aggregate: folded, type, segments: [wholePeriod(folded, period, fields)] };
    };
    const compute = async () =>
      (await fold()) ??
      computeAggregate(
        store,
        { _id: id, subscriptionId: r.subscriptionId, usageTypeKey: key, periodKey: period.key },
        type,
        correlationId,
        {
          period,
          boundaries,
          withValues,
          fieldTotals: fields,
          since: r.since ?? null,
          persist: options.persist,
          ...(carryIn !== undefined ? { carryIn } : {}),
        },
      );
    results.push(await (options.persist === false ? compute() : store.locks.run(id, compute)));
  }
  return results;
}

const wholePeriod = (a: UsageAggregateDoc, period: BillingPeriod, fields: readonly string[]): UsageSegment => ({
  from: period.start,
  to: period.end,
  quantity: a.quantity,
  eventCount: a.eventCount,
  values: null,
  fieldTotals: fields.length ? fields.map((field) => ({ field, total: a.fieldTotals![field]! })) : null,
});

/** Events of one aggregate read per query, at most: each page is its own bounded read (maxTimeMS), whatever the size. */
export const EVENT_PAGE = 5_000;

/**
 * Every event of an aggregate, in id order, read in keyset pages on {aggregateId, _id} (an index range of `pageSize`
 * rows each): a million-event aggregate is many short reads, never one that outlasts the database time limit.
 */
export async function* eventsOf(
  store: UsageStore,
  aggregateId: string,
  projection: Record<string, 1>,
  pageSize = EVENT_PAGE,
): AsyncGenerator<UsageEventDoc> {
  for (let after: string | null = null; ;) {
    const page: UsageEventDoc[] = await store.events
      .find(after === null ? { aggregateId } : { aggregateId, _id: { $gt: after } }, { projection })
      .sort({ _id: 1 })
      .limit(pageSize)
      .toArray();
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1]!._id;
  }
}

/** Adds an event's data fields to running totals, as a scan sums them (numbers and numeric text; others count 0). */
function addFields(totals: Map<string, Dec>, data: Record<string, unknown> | undefined) {
  for (const [field, total] of totals) {
    const v = data?.[field];
    if (typeof v === 'string' || typeof v === 'number') totals.set(field, total.plus(String(v)));
  }
}

/** Marked events a stored aggregate remembers having counted, at most: beyond that it is recomputed, not folded. */
const MAX_COUNTED_MARKED = 20_000;

/** The ids named by marks from `since` on that `counted` says were counted; undefined when too many to keep. */
function countedMarked(
  marks: ReadonlyArray<{ markedAt: Date; eventIds?: string[] }>,
  since: number,
  counted: (id: string) => boolean,
): string[] | undefined {
  const ids = [...new Set(marks.filter((m) => m.markedAt.getTime() >= since).flatMap((m) => m.eventIds ?? []))];
  const kept = ids.filter(counted).sort();
  return kept.length <= MAX_COUNTED_MARKED ? kept : undefined;
}

/**
 * Brings a stored metered aggregate up to date by folding in only the events its stale marks name (read by id), not
 * by reading all its events again. Exact because every event is marked, naming it, before it is stored (within the
 * write budget, freshness.ts): an event stored after the last scan or fold read its marks is named by a mark of its
 * window, and the events of those marks that it already counted are skipped by id. Null when it cannot (too many
 * counted ids to remember, or an aggregation that does not merge): the caller recomputes from the events.
 * Called under the aggregate's record lock, like a recompute; the stored result is replaced, never incremented.
 */
export async function foldForward(
  store: UsageStore,
  stored: UsageAggregateDoc,
  type: UsageTypeDoc,
  correlationId: string,
): Promise<UsageAggregateDoc | null> {
  const spec = specOf(type);
  if (!tallies(spec) || !stored.tally || !stored.firstComputedAt || !stored.countedMarkedEventIds) return null;
  if (stored.lastEventAt === undefined) return null;
  const readAt = new Date();
  const marks = await store.staleMarks
    .find({ aggregateId: stored._id, markedAt: { $gte: new Date(stored.computedAt.getTime() - SETTLE_MS) } })
    .toArray();
  if (marks.length === 0) return stored; // nothing was stored for it since its scan (a late event marks first)
  if (marks.some((m) => !m.eventIds)) return null;
  const counted = new Set(stored.countedMarkedEventIds);
  const pending = [...new Set(marks.flatMap((m) => m.eventIds!))].filter((id) => !counted.has(id));
  const tally = new UsageTally(spec.type, stored.tally);
  // Field totals rating asked for (dynamic prices) are sums: they fold like the tally, so none is dropped or staled.
  const totals = new Map(Object.entries(stored.fieldTotals ?? {}).map(([f, t]) => [f, new Dec(t)]));
  let { lastEventAt, lastReceivedAt } = stored;
  for (let i = 0; i < pending.length; i += 1_000) {
    const events = await store.events
      .find({ _id: { $in: pending.slice(i, i + 1_000) } }, { projection: eventProjection(type, totals.size > 0) })
      .toArray();
    for (const e of events.filter((e) => e.aggregateId === stored._id)) {
      tally.add(e);
      addFields(totals, e.data);
      counted.add(e._id);
      if (!lastEventAt || e.timestamp > lastEventAt) lastEventAt = e.timestamp;
      if (!lastReceivedAt || e.receivedAt > lastReceivedAt) lastReceivedAt = e.receivedAt;
    }
  }
  const result = tally.result();
  const unchanged =
    stored.quantity === result.quantity &&
    stored.eventCount === result.eventCount &&
    [...totals].every(([f, t]) => stored.fieldTotals![f] === t.toFixed());
  const doc: UsageAggregateDoc = {
    ...stored,
    ...result,
    tally: tally.stored(),
    ...(stored.fieldTotals ? { fieldTotals: Object.fromEntries([...totals].map(([f, t]) => [f, t.toFixed()])) } : {}),
    lastEventAt,
    lastReceivedAt,
    // Counts every event stored before the marks were read, so it stands as a scan started then would.
    computedAt: readAt,
    countedMarkedEventIds: countedMarked(marks, readAt.getTime() - SETTLE_MS, (id) => counted.has(id)),
    correlationId: unchanged ? stored.correlationId : correlationId,
  };
  await store.aggregates.replaceOne({ _id: stored._id }, doc);
  await clearSettledMarks(store, stored._id, readAt);
  return doc;
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

/** What an aggregation reads of an event; `data` only when a field beyond the value is needed. */
export function eventProjection(type: UsageTypeDoc, withData: boolean): Record<string, 1> {
  const needsData = withData || type.aggregation.operationField !== undefined;
  return { value: 1, timestamp: 1, dimensions: 1, receivedAt: 1, aggregateId: 1, ...(needsData ? { data: 1 } : {}) };
}

/** An event as the aggregator reads it: with the unit operation of a recurring unique count. */
export function forAggregation(
  type: UsageTypeDoc,
  e: Pick<UsageEventDoc, '_id' | 'value' | 'timestamp' | 'dimensions' | 'data'>,
) {
  const field = type.aggregation.operationField;
  const op = field ? e.data?.[field] : undefined;
  return { ...e, operation: typeof op === 'string' ? op : null };
}

/**
 * Streams the aggregate's events once; stores the result when it changed (unless `persist` is false), and returns it
 * split into segments. A recurring usage type starts from the level its previous periods left (carryIn).
 */
export async function computeAggregate(
  store: UsageStore,
  key: Pick<UsageAggregateDoc, '_id' | 'subscriptionId' | 'usageTypeKey' | 'periodKey'>,
  type: UsageTypeDoc,
  correlationId: string,
  split: {
    period?: BillingPeriod;
    boundaries?: readonly Date[];
    withValues?: boolean;
    fieldTotals?: readonly string[];
    since?: Date | null;
    persist?: boolean;
    /** Recurring types: the levels at the period's start, when the caller already walked to them. */
    carryIn?: CarryState | null;
  } = {},
): Promise<AggregateForRating> {
  const scanStart = new Date();
  const period = split.period ?? parsePeriod(key.periodKey);
  const edges = [period.start, ...[...(split.boundaries ?? [])].sort((a, b) => a.getTime() - b.getTime()), period.end];
  const existing = split.persist === false ? null : await store.aggregates.findOne({ _id: key._id });
  // A recompute for another reader (customerUsage, the keeper) keeps summing the fields rating asked for before.
  const asked = split.fieldTotals ?? [];
  const fields = [...new Set([...asked, ...Object.keys(existing?.fieldTotals ?? {})])];
  const segments = edges.slice(0, -1).map((from, i) => ({
    from,
    to: edges[i + 1]!,
    values: split.withValues ? ([] as Array<{ at: number; id: string; value: string }>) : null,
    totals: fields.map(() => new Dec(0)),
  }));
  const spec = specOf(type);
  const carryIn =
    split.carryIn !== undefined
      ? split.carryIn
      : await carryInFor(store, type, key.subscriptionId, period, split.since ?? null);
  const aggregator = new UsageAggregator(spec, {
    start: period.start,
    end: period.end,
    windows: segments.map((s) => ({ from: s.from, to: s.to })),
    normalize: 'PERIOD',
    carryIn,
  });
  let lastReceivedAt: Date | null = null;
  let lastEventAt: Date | null = null;
  const tally = tallies(spec) ? new UsageTally(spec.type) : null;
  const counted = new Set<string>();
  for await (const e of eventsOf(store, key._id, eventProjection(type, fields.length > 0))) {
    aggregator.add(forAggregation(type, e));
    tally?.add(e);
    counted.add(e._id);
    if (!lastEventAt || e.timestamp > lastEventAt) lastEventAt = e.timestamp;
    const segment = segments.find((s) => e.timestamp >= s.from && e.timestamp < s.to) ?? segments[segments.length - 1]!;
    segment.values?.push({ at: e.timestamp.getTime(), id: e._id, value: e.value });
    fields.forEach((f, i) => {
      const v = e.data?.[f];
      if (typeof v === 'string' || typeof v === 'number') segment.totals[i] = segment.totals[i]!.plus(String(v));
    });
    if (!lastReceivedAt || e.receivedAt > lastReceivedAt) lastReceivedAt = e.receivedAt;
  }
  const result = aggregator.result();
  const carryOut = aggregator.carryOut();
  const periodTotals = fields.length
    ? Object.fromEntries(
        fields.map((f, i) => [f, segments.reduce((sum, s) => sum.plus(s.totals[i]!), new Dec(0)).toFixed()]),
      )
    : undefined;
  // Read after the scan: a mark written later is for events stored later, which this scan did not count.
  const marks =
    split.persist === false || !tally
      ? []
      : await store.staleMarks
          .find({ aggregateId: key._id, markedAt: { $gte: new Date(scanStart.getTime() - SETTLE_MS) } })
          .toArray();
  const unchanged =
    existing &&
    existing.quantity === result.quantity &&
    existing.eventCount === result.eventCount &&
    JSON.stringify(existing.groups) === JSON.stringify(result.groups) &&
    stableStringify(existing.fieldTotals ?? null) === stableStringify(periodTotals ?? null);
  // A recompute always refreshes computedAt: it is what tells later readers this result counted the events up to now.
  const doc: UsageAggregateDoc = {
    ...key,
    ...result,
    ...(carryOut ? { carryOut, carryIn } : {}),
    ...(periodTotals ? { fieldTotals: periodTotals } : {}),
    lastReceivedAt,
    lastEventAt,
    // Taken before the write, so never later than when ingestion first could see it (older ones: from now on).
    firstComputedAt: existing?.firstComputedAt ?? new Date(),
    ...(tally
      ? {
          tally: tally.stored(),
          countedMarkedEventIds: countedMarked(marks, scanStart.getTime() - SETTLE_MS, (id) => counted.has(id)),
        }
      : {}),
    computedAt: scanStart,
    correlationId: unchanged ? existing.correlationId : correlationId,
  };
  if (split.persist !== false) {
    await store.aggregates
      .replaceOne({ _id: key._id }, doc, { upsert: true })
      .catch(async () => store.aggregates.replaceOne({ _id: key._id }, doc));
    await clearSettledMarks(store, key._id, scanStart);
  }
  const windows = aggregator.windowResults();
  return {
    aggregate: doc,
    type,
    segments: segments.map((s, i) => ({
      from: s.from,
      to: s.to,
      quantity: windows[i]!.quantity,
      eventCount: windows[i]!.eventCount,
      values: s.values ? s.values.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).map((v) => v.value) : null,
      fieldTotals: asked.length
        ? asked.map((field) => ({ field, total: s.totals[fields.indexOf(field)]!.toFixed() }))
        : null,
    })),
  };
}

/** Two carries are the same levels (stored ones compared with what a walk arrives at). */
export const sameCarry = (a: CarryState | null | undefined, b: CarryState | null | undefined) =>
  stableStringify(a ?? null) === stableStringify(b ?? null);

/**
 * The levels a recurring usage type starts a period with, walking forward from the subscription's first period: a
 * stored aggregate's carry is used only when it is trusted and was computed from the carry the walk arrives with;
 * any other period's events are replayed. So a late event in April changes May's and June's start, even though
 * their own aggregates received nothing. Nothing for a metered type, or before the subscription's first period.
 */
export async function carryInFor(
  store: UsageStore,
  type: UsageTypeDoc,
  subscriptionId: string,
  period: BillingPeriod,
  since: Date | null,
): Promise<CarryState | null> {
  if (type.aggregation.recurring !== true) return null;
  const start = since ?? (await subscriptionStart(subscriptionId));
  if (!start) return null;
  const earlier: BillingPeriod[] = [];
  for (let p = periodOf(start); p.start < period.start; p = periodOf(p.end)) earlier.push(p);
  if (earlier.length === 0) return null;
  const ids = earlier.map((p) => aggregateId(subscriptionId, type.key, p.key));
  const trusted = await trustedAggregates(store, ids);
  let carry: CarryState | null = null;
  for (const [i, p] of earlier.entries()) {
    const stored = trusted.get(ids[i]!);
    if (stored?.carryOut && sameCarry(stored.carryIn, carry)) {
      carry = stored.carryOut;
      continue;
    }
    const aggregator: UsageAggregator = new UsageAggregator(specOf(type), {
      start: p.start,
      end: p.end,
      carryIn: carry,
    });
    for await (const e of eventsOf(store, ids[i]!, eventProjection(type, false)))
      aggregator.add(forAggregation(type, e));
    carry = aggregator.carryOut();
  }
  return carry;
}

/** One customer's carry from several subscriptions: units together, levels added up, per dimension values too. */
export function mergeCarries(carries: ReadonlyArray<CarryState | null>): CarryState | null {
  const present = carries.filter((c): c is CarryState => c !== null);
  if (present.length <= 1) return present[0] ?? null;
  const merge = (states: LevelState[]): LevelState => {
    if (states.some((s) => s.units)) return { units: [...new Set(states.flatMap((s) => s.units ?? []))].sort() };
    const values = states.flatMap((s) => (s.value == null ? [] : [s.value]));
    return { value: values.length ? values.reduce((sum, v) => sum.plus(v), new Dec(0)).toFixed() : null };
  };
  const groups = new Map<string, { dimensions: Record<string, string>; states: LevelState[] }>();
  for (const c of present)
    for (const g of c.groups) {
      const key = JSON.stringify(Object.entries(g.dimensions).sort(([a], [b]) => (a < b ? -1 : 1)));
      const entry = groups.get(key) ?? { dimensions: g.dimensions, states: [] };
      entry.states.push(g.state);
      groups.set(key, entry);
    }
  return {
    total: merge(present.map((c) => c.total)),
    groups: [...groups.values()].map((g) => ({ dimensions: g.dimensions, state: merge(g.states) })),
  };
}

/** A customer's levels at the start of a period for a recurring usage type, over all its subscriptions. */
export async function customerCarryIn(
  store: UsageStore,
  type: UsageTypeDoc,
  subscriptions: ReadonlyArray<{ id: string; startsAt: string }>,
  period: BillingPeriod,
): Promise<CarryState | null> {
  if (type.aggregation.recurring !== true) return null;
  const started = subscriptions.filter((s) => new Date(s.startsAt) < period.start);
  return mergeCarries(
    await Promise.all(started.map((s) => carryInFor(store, type, s.id, period, new Date(s.startsAt)))),
  );
}
