// Pure: the events of one usage type in one period → the aggregate quantity, overall and per dimension values.
// Metered aggregations (SUM, COUNT, MAX, MIN, AVG, UNIQUE_COUNT, LATEST) look only at the events. Time-weighted ones
// (WEIGHTED_SUM, and recurring UNIQUE_COUNT and LATEST) weigh each level by how long it held, and a recurring one
// starts from the level the previous period ended with (its carry).
import { Dec } from '../../lib/money';
import type { AggregationType } from './usage-type';

export interface EventForAggregation {
  _id: string;
  value: string;
  timestamp: Date;
  dimensions?: Record<string, string>;
  /** Recurring UNIQUE_COUNT: "remove" takes the unit away; anything else (or nothing) adds it. */
  operation?: string | null;
}

export interface AggregateResult {
  quantity: string;
  eventCount: number;
  groups: Array<{ dimensions: Record<string, string>; quantity: string; eventCount: number }>;
}

export interface AggregationSpec {
  type: AggregationType;
  /** The level carries over from one period to the next (seats, licences, storage held). */
  recurring?: boolean;
}

/** What a time-weighted aggregation holds at an instant: active units, or a level (a gauge or running total). */
export interface LevelState {
  units?: string[];
  value?: string | null;
}

/** The levels a recurring aggregate ends its period with, overall and per dimension values: the next period's start. */
export interface CarryState {
  total: LevelState;
  groups: Array<{ dimensions: Record<string, string>; state: LevelState }>;
}

export interface AggregationFrame {
  /** The period: time-weighted levels hold until its end, and quantities are shares of it. */
  start: Date;
  end: Date;
  /** Parts of the period to report separately (plan segments, series windows); the whole period when omitted. */
  windows?: ReadonlyArray<{ from: Date; to: Date }>;
  /** A window's time-weighted quantity as a share of the whole period (rating) or of the window itself (a series). */
  normalize?: 'PERIOD' | 'WINDOW';
  /** Recurring aggregations: the levels at the period's start. */
  carryIn?: CarryState | null;
}

const DAY_MS = 86_400_000;
/** Time-weighted quantities are fractions; one without a finite decimal form is carried to this many places. */
export const QUANTITY_PLACES = 30;

export function isTimeWeighted(spec: AggregationSpec): boolean {
  return (
    spec.type === 'WEIGHTED_SUM' ||
    (spec.recurring === true && (spec.type === 'UNIQUE_COUNT' || spec.type === 'LATEST'))
  );
}

/** Seats and levels change by the day (an addition counts its whole day, a removal frees its own day); sums by the ms. */
const snapsToDay = (spec: AggregationSpec) => spec.type !== 'WEIGHTED_SUM';

export const canonical = (d: Dec) => {
  const cut = d.toDecimalPlaces(QUANTITY_PLACES, Dec.ROUND_HALF_EVEN);
  return cut.isZero() ? '0' : cut.toFixed();
};

/** One running metered aggregate; `add` per event, `quantity` at the end, so a cursor streams through. */
class Accumulator {
  private sum = new Dec(0);
  private max: Dec | null = null;
  private min: Dec | null = null;
  private readonly distinct = new Set<string>();
  private latest: { value: string; timestamp: Date; id: string } | null = null;
  count = 0;

  constructor(private readonly type: AggregationType) {}

  add(e: EventForAggregation): void {
    this.count++;
    switch (this.type) {
      case 'SUM':
      case 'COUNT':
      case 'AVG':
        this.sum = this.sum.plus(e.value);
        break;
      case 'MAX':
        if (this.max === null || this.max.lt(e.value)) this.max = new Dec(e.value);
        break;
      case 'MIN':
        if (this.min === null || this.min.gt(e.value)) this.min = new Dec(e.value);
        break;
      case 'UNIQUE_COUNT':
        this.distinct.add(e.value);
        break;
      case 'LATEST':
      case 'WEIGHTED_SUM':
        // The last value in the period; equal timestamps are settled by id, so the result never depends on read order.
        if (
          !this.latest ||
          e.timestamp > this.latest.timestamp ||
          (e.timestamp.getTime() === this.latest.timestamp.getTime() && e._id > this.latest.id)
        ) {
          this.latest = { value: e.value, timestamp: e.timestamp, id: e._id };
        }
        break;
    }
  }

  quantity(): string {
    switch (this.type) {
      case 'SUM':
      case 'COUNT':
        return this.sum.toFixed();
      case 'AVG':
        return this.count === 0 ? '0' : canonical(this.sum.dividedBy(this.count));
      case 'MAX':
        return this.max?.toFixed() ?? '0';
      case 'MIN':
        return this.min?.toFixed() ?? '0';
      case 'UNIQUE_COUNT':
        return String(this.distinct.size);
      case 'LATEST':
      case 'WEIGHTED_SUM':
        return this.latest ? new Dec(this.latest.value).toFixed() : '0';
    }
  }
}

/**
 * One time-weighted timeline: the level from the period's start (the carry) through each event, weighed by how long
 * it held in each window. Events are kept and ordered at the end, since the order of arrival says nothing.
 */
class Timeline {
  private readonly events: EventForAggregation[] = [];

  constructor(
    private readonly spec: AggregationSpec,
    private readonly carryIn: LevelState | null,
  ) {}

  add(e: EventForAggregation): void {
    this.events.push(e);
  }

  /** Level × milliseconds per window, and the level at the end of the period. */
  weigh(
    start: Date,
    end: Date,
    windows: ReadonlyArray<{ from: number; to: number }>,
  ): { weights: Dec[]; end: LevelState } {
    const weights = windows.map(() => new Dec(0));
    const snap = (t: number) => (snapsToDay(this.spec) ? Math.floor(t / DAY_MS) * DAY_MS : t);
    const close = (from: number, to: number, level: Dec) => {
      if (to <= from || level.isZero()) return;
      windows.forEach((w, i) => {
        const overlap = Math.min(to, w.to) - Math.max(from, w.from);
        if (overlap > 0) weights[i] = weights[i]!.plus(level.times(overlap));
      });
    };
    const ordered = [...this.events].sort(
      (a, b) => a.timestamp.getTime() - b.timestamp.getTime() || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0),
    );
    const periodStart = start.getTime();
    const horizon = end.getTime();
    const at = (e: EventForAggregation) => Math.min(Math.max(snap(e.timestamp.getTime()), periodStart), horizon);
    if (this.spec.type === 'UNIQUE_COUNT') {
      const active = new Map<string, number>((this.carryIn?.units ?? []).map((u) => [u, periodStart]));
      for (const e of ordered) {
        const t = at(e);
        if (e.operation === 'remove') {
          const since = active.get(e.value);
          if (since !== undefined) close(since, t, new Dec(1));
          active.delete(e.value);
        } else if (!active.has(e.value)) active.set(e.value, t);
      }
      for (const since of active.values()) close(since, horizon, new Dec(1));
      return { weights, end: { units: [...active.keys()].sort() } };
    }
    // LATEST: the level is the last value reported; WEIGHTED_SUM: each event adds to a running total.
    const carried = this.carryIn?.value ?? null;
    let level = new Dec(carried ?? 0);
    let known = carried !== null;
    let since = periodStart;
    for (const e of ordered) {
      const t = at(e);
      close(since, t, level);
      level = this.spec.type === 'WEIGHTED_SUM' ? level.plus(e.value) : new Dec(e.value);
      known = true;
      since = t;
    }
    close(since, horizon, level);
    return { weights, end: { value: known ? level.toFixed() : null } };
  }
}

type Window = { from: number; to: number };

interface Partition {
  dimensions: Record<string, string>;
  /** Metered: one accumulator per window, and one for the whole period. */
  metered: Accumulator[] | null;
  whole: Accumulator | null;
  timeline: Timeline | null;
  counts: number[];
  count: number;
}

interface Quantities {
  windows: string[];
  whole: string;
  end: LevelState | null;
}

export class UsageAggregator {
  private readonly spec: AggregationSpec;
  private readonly timeWeighted: boolean;
  private readonly windows: Window[];
  private readonly total: Partition;
  private readonly groups = new Map<string, Partition>();
  /** Recurring UNIQUE_COUNT: the group each unit was added in, so a removal finds it without dimensions. */
  private readonly unitGroup = new Map<string, string>();

  constructor(
    spec: AggregationSpec | AggregationType,
    private readonly frame?: AggregationFrame,
  ) {
    this.spec = typeof spec === 'string' ? { type: spec } : spec;
    this.timeWeighted = isTimeWeighted(this.spec);
    if (this.timeWeighted && !frame)
      throw new RangeError(`a ${this.spec.type} aggregation is time-weighted and needs the period it covers`);
    const daily = this.timeWeighted && snapsToDay(this.spec);
    const snap = (t: Date) => Math.floor(t.getTime() / DAY_MS) * DAY_MS;
    // Day-based levels split at day edges; windows shorter than a day (a series by hour) are kept as they are.
    const snapped = (w: { from: Date; to: Date }) =>
      daily && w.to.getTime() - w.from.getTime() >= DAY_MS
        ? { from: snap(w.from), to: snap(w.to) }
        : { from: w.from.getTime(), to: w.to.getTime() };
    this.windows = frame
      ? (frame.windows ?? [{ from: frame.start, to: frame.end }]).map(snapped)
      : [{ from: -Infinity, to: Infinity }];
    this.total = this.partition({}, frame?.carryIn?.total ?? null);
    for (const g of frame?.carryIn?.groups ?? []) {
      const key = groupKey(g.dimensions);
      this.groups.set(key, this.partition(g.dimensions, g.state));
      for (const u of g.state.units ?? []) this.unitGroup.set(u, key);
    }
  }

  private partition(dimensions: Record<string, string>, carry: LevelState | null): Partition {
    return {
      dimensions,
      metered: this.timeWeighted ? null : this.windows.map(() => new Accumulator(this.spec.type)),
      whole: this.timeWeighted ? null : new Accumulator(this.spec.type),
      timeline: this.timeWeighted ? new Timeline(this.spec, carry) : null,
      counts: this.windows.map(() => 0),
      count: 0,
    };
  }

  private windowOf(e: EventForAggregation): number {
    const t = e.timestamp.getTime();
    const i = this.windows.findIndex((w) => t >= w.from && t < w.to);
    // Before the first window: a level that only sets where a time-weighted series starts, counted in none.
    if (i < 0 && this.timeWeighted && t < this.windows[0]!.from) return -1;
    return i >= 0 ? i : this.windows.length - 1;
  }

  private addTo(p: Partition, e: EventForAggregation, w: number): void {
    if (w >= 0) p.counts[w]!++;
    p.count++;
    if (p.metered) {
      p.metered[w]!.add(e);
      if (this.windows.length > 1) p.whole!.add(e);
    } else p.timeline!.add(e);
  }

  add(e: EventForAggregation): void {
    const w = this.windowOf(e);
    this.addTo(this.total, e, w);
    const dims = e.dimensions ?? {};
    let key = Object.keys(dims).length === 0 ? null : groupKey(dims);
    if (this.spec.type === 'UNIQUE_COUNT' && this.timeWeighted) {
      // A removal belongs to the group its unit was added in.
      if (e.operation === 'remove') key = this.unitGroup.get(e.value) ?? key;
      else if (key !== null && !this.unitGroup.has(e.value)) this.unitGroup.set(e.value, key);
    }
    if (key === null) return;
    let g = this.groups.get(key);
    if (!g) {
      g = this.partition(dims, null);
      this.groups.set(key, g);
    }
    this.addTo(g, e, w);
  }

  private quantities(p: Partition): Quantities {
    if (p.metered) {
      const windows = p.metered.map((a) => a.quantity());
      return { windows, whole: this.windows.length > 1 ? p.whole!.quantity() : windows[0]!, end: null };
    }
    const { start, end, normalize } = this.frame!;
    const period = { from: start.getTime(), to: end.getTime() };
    const weighed = p.timeline!.weigh(start, end, [...this.windows, period]);
    const share = (weight: Dec, w: Window) => (w.to > w.from ? canonical(weight.dividedBy(w.to - w.from)) : '0');
    return {
      windows: this.windows.map((w, i) => share(weighed.weights[i]!, normalize === 'WINDOW' ? w : period)),
      whole: share(weighed.weights[this.windows.length]!, period),
      end: weighed.end,
    };
  }

  private sortedGroups(): Array<{ g: Partition; q: Quantities }> {
    return [...this.groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]) => ({ g, q: this.quantities(g) }));
  }

  /** One result per window (the whole period when no windows were given), each with its groups. */
  windowResults(): AggregateResult[] {
    const total = this.quantities(this.total);
    const groups = this.sortedGroups();
    return this.windows.map((_, i) => ({
      quantity: total.windows[i]!,
      eventCount: this.total.counts[i]!,
      groups: groups
        .filter(({ g, q }) => g.counts[i]! > 0 || q.windows[i] !== '0')
        .map(({ g, q }) => ({ dimensions: g.dimensions, quantity: q.windows[i]!, eventCount: g.counts[i]! })),
    }));
  }

  /** The whole period, with its groups. */
  result(): AggregateResult {
    const total = this.quantities(this.total);
    return {
      quantity: total.whole,
      eventCount: this.total.count,
      groups: this.sortedGroups()
        .filter(({ g, q }) => g.count > 0 || q.whole !== '0')
        .map(({ g, q }) => ({ dimensions: g.dimensions, quantity: q.whole, eventCount: g.count })),
    };
  }

  /** Recurring aggregations: the levels at the end of the period, for the next one to start from. */
  carryOut(): CarryState | null {
    if (!this.timeWeighted || this.spec.recurring !== true) return null;
    const held = (state: LevelState) => (state.units ? state.units.length > 0 : state.value != null);
    return {
      total: this.quantities(this.total).end ?? {},
      groups: this.sortedGroups()
        .map(({ g, q }) => ({ dimensions: g.dimensions, state: q.end ?? {} }))
        .filter((g) => held(g.state)),
    };
  }
}

export function groupKey(dims: Record<string, string>): string {
  return JSON.stringify(Object.entries(dims).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function aggregateEvents(
  spec: AggregationSpec | AggregationType,
  events: Iterable<EventForAggregation>,
  frame?: AggregationFrame,
): AggregateResult {
  const aggregator = new UsageAggregator(spec, frame);
  for (const e of events) aggregator.add(e);
  return aggregator.result();
}
