// Pure: the events of one usage type in one period → the aggregate quantity, overall and per dimension values.
import { Dec } from '../../lib/money';
import type { AggregationType } from './usage-type';

export interface EventForAggregation {
  _id: string;
  value: string;
  timestamp: Date;
  dimensions?: Record<string, string>;
}

export interface AggregateResult {
  quantity: string;
  eventCount: number;
  groups: Array<{ dimensions: Record<string, string>; quantity: string; eventCount: number }>;
}

/** One running aggregate; `add` per event, `result` at the end, so a cursor streams through without holding events. */
class Accumulator {
  private sum = new Dec(0);
  private max: Dec | null = null;
  private readonly distinct = new Set<string>();
  private latest: { value: string; timestamp: Date; id: string } | null = null;
  count = 0;

  constructor(private readonly type: AggregationType) {}

  add(e: EventForAggregation): void {
    this.count++;
    switch (this.type) {
      case 'SUM':
      case 'COUNT':
        this.sum = this.sum.plus(e.value);
        break;
      case 'MAX':
        if (this.max === null || this.max.lt(e.value)) this.max = new Dec(e.value);
        break;
      case 'UNIQUE_COUNT':
        this.distinct.add(e.value);
        break;
      case 'LATEST':
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
      case 'MAX':
        return this.max?.toFixed() ?? '0';
      case 'UNIQUE_COUNT':
        return String(this.distinct.size);
      case 'LATEST':
        return this.latest ? new Dec(this.latest.value).toFixed() : '0';
    }
  }
}

export class UsageAggregator {
  private readonly total: Accumulator;
  private readonly groups = new Map<string, { dimensions: Record<string, string>; acc: Accumulator }>();

  constructor(private readonly type: AggregationType) {
    this.total = new Accumulator(type);
  }

  add(e: EventForAggregation): void {
    this.total.add(e);
    const dims = e.dimensions ?? {};
    if (Object.keys(dims).length === 0) return;
    const key = JSON.stringify(Object.entries(dims).sort(([a], [b]) => (a < b ? -1 : 1)));
    let g = this.groups.get(key);
    if (!g) {
      g = { dimensions: dims, acc: new Accumulator(this.type) };
      this.groups.set(key, g);
    }
    g.acc.add(e);
  }

  result(): AggregateResult {
    const groups = [...this.groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]) => ({ dimensions: g.dimensions, quantity: g.acc.quantity(), eventCount: g.acc.count }));
    return { quantity: this.total.quantity(), eventCount: this.total.count, groups };
  }
}

export function aggregateEvents(type: AggregationType, events: Iterable<EventForAggregation>): AggregateResult {
  const aggregator = new UsageAggregator(type);
  for (const e of events) aggregator.add(e);
  return aggregator.result();
}
