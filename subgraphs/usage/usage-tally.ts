// Pure: a metered aggregation's running state, kept with the stored aggregate so that later events — and another
// subscription's aggregate of the same customer — fold into it without reading its events again. SUM, COUNT, MAX,
// MIN, AVG (as sum and count) and LATEST (value, time, id) merge; UNIQUE_COUNT needs the distinct values and
// time-weighted aggregations the whole timeline, so they have no tally and are recomputed from their events.
import { Dec } from '../../lib/money';
import {
  canonical,
  groupKey,
  isTimeWeighted,
  type AggregateResult,
  type AggregationSpec,
  type EventForAggregation,
} from './aggregation';
import type { AggregationType } from './usage-type';

/** One running state as stored: decimal strings, so the sum stays exact. */
export interface TallyState {
  count: number;
  sum: string;
  max: string | null;
  min: string | null;
  latest: { value: string; at: Date; id: string } | null;
}

export interface StoredTally {
  total: TallyState;
  /** One per dimension values, in the aggregator's group order. */
  groups: Array<{ dimensions: Record<string, string>; state: TallyState }>;
}

/** Whether an aggregation's result can be carried forward by a tally. */
export const tallies = (spec: AggregationSpec): boolean => !isTimeWeighted(spec) && spec.type !== 'UNIQUE_COUNT';

class RunningState {
  count = 0;
  sum = new Dec(0);
  max: Dec | null = null;
  min: Dec | null = null;
  latest: { value: string; at: Date; id: string } | null = null;

  static from(s: TallyState): RunningState {
    const r = new RunningState();
    r.count = s.count;
    r.sum = new Dec(s.sum);
    r.max = s.max === null ? null : new Dec(s.max);
    r.min = s.min === null ? null : new Dec(s.min);
    r.latest = s.latest && { ...s.latest, at: new Date(s.latest.at) };
    return r;
  }

  add(type: AggregationType, e: Pick<EventForAggregation, '_id' | 'value' | 'timestamp'>): void {
    this.merge(type, { count: 1, value: e.value, latest: { value: e.value, at: e.timestamp, id: e._id } });
  }

  mergeState(type: AggregationType, other: RunningState): void {
    this.count += other.count;
    if (type === 'SUM' || type === 'COUNT' || type === 'AVG') this.sum = this.sum.plus(other.sum);
    if (other.max && (this.max === null || this.max.lt(other.max))) this.max = other.max;
    if (other.min && (this.min === null || this.min.gt(other.min))) this.min = other.min;
    if (other.latest) this.takeLatest(other.latest);
  }

  private merge(
    type: AggregationType,
    one: { count: number; value: string; latest: { value: string; at: Date; id: string } },
  ): void {
    this.count += one.count;
    switch (type) {
      case 'SUM':
      case 'COUNT':
      case 'AVG':
        this.sum = this.sum.plus(one.value);
        break;
      case 'MAX':
        if (this.max === null || this.max.lt(one.value)) this.max = new Dec(one.value);
        break;
      case 'MIN':
        if (this.min === null || this.min.gt(one.value)) this.min = new Dec(one.value);
        break;
      default:
        this.takeLatest(one.latest);
    }
  }

  // The same tie-break as the aggregator: the later time, then the greater id, so read order never matters.
  private takeLatest(l: { value: string; at: Date; id: string }): void {
    const cur = this.latest;
    if (!cur || l.at > cur.at || (l.at.getTime() === cur.at.getTime() && l.id > cur.id)) this.latest = l;
  }

  /** Exactly what the aggregator's accumulator reports for the same events. */
  quantity(type: AggregationType): string {
    switch (type) {
      case 'SUM':
      case 'COUNT':
        return this.sum.toFixed();
      case 'AVG':
        return this.count === 0 ? '0' : canonical(this.sum.dividedBy(this.count));
      case 'MAX':
        return this.max?.toFixed() ?? '0';
      case 'MIN':
        return this.min?.toFixed() ?? '0';
      default:
        return this.latest ? new Dec(this.latest.value).toFixed() : '0';
    }
  }

  stored(): TallyState {
    return {
      count: this.count,
      sum: this.sum.toFixed(),
      max: this.max?.toFixed() ?? null,
      min: this.min?.toFixed() ?? null,
      latest: this.latest,
    };
  }
}

/** A metered aggregate's state, overall and per dimension values. */
export class UsageTally {
  private readonly total: RunningState;
  private readonly groups = new Map<string, { dimensions: Record<string, string>; state: RunningState }>();

  constructor(
    private readonly type: AggregationType,
    stored?: StoredTally | null,
  ) {
    this.total = stored ? RunningState.from(stored.total) : new RunningState();
    for (const g of stored?.groups ?? [])
      this.groups.set(groupKey(g.dimensions), { dimensions: g.dimensions, state: RunningState.from(g.state) });
  }

  add(e: Pick<EventForAggregation, '_id' | 'value' | 'timestamp' | 'dimensions'>): void {
    this.total.add(this.type, e);
    const dims = e.dimensions ?? {};
    if (Object.keys(dims).length === 0) return;
    this.groupFor(dims).add(this.type, e);
  }

  /** Another aggregate of the same usage type (another subscription of the customer). */
  merge(other: UsageTally): void {
    this.total.mergeState(this.type, other.total);
    for (const g of other.groups.values()) this.groupFor(g.dimensions).mergeState(this.type, g.state);
  }

  private groupFor(dims: Record<string, string>): RunningState {
    const key = groupKey(dims);
    let g = this.groups.get(key);
    if (!g) {
      g = { dimensions: dims, state: new RunningState() };
      this.groups.set(key, g);
    }
    return g.state;
  }

  private sorted() {
    return [...this.groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
  }

  /** The same result the aggregator gives over the same events. */
  result(): AggregateResult {
    return {
      quantity: this.total.quantity(this.type),
      eventCount: this.total.count,
      groups: this.sorted().map((g) => ({
        dimensions: g.dimensions,
        quantity: g.state.quantity(this.type),
        eventCount: g.state.count,
      })),
    };
  }

  stored(): StoredTally {
    return {
      total: this.total.stored(),
      groups: this.sorted().map((g) => ({ dimensions: g.dimensions, state: g.state.stored() })),
    };
  }
}
