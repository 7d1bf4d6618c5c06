import fc from 'fast-check';
import { aggregateEvents } from './aggregation';
import { UsageTally } from './usage-tally';

const TALLIED = ['SUM', 'COUNT', 'MAX', 'MIN', 'AVG', 'LATEST'] as const;

const event = fc.record({
  _id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'),
  value: fc.oneof(fc.integer({ min: -50, max: 500 }).map(String), fc.constantFrom('0.1', '2.25', '1e-7', '7')),
  // Few distinct instants, so equal timestamps (settled by id) occur.
  timestamp: fc.integer({ min: 0, max: 5 }).map((m) => new Date(Date.UTC(2026, 9, 1, 0, m))),
  dimensions: fc.constantFrom<Record<string, string>>({}, { region: 'eu' }, { region: 'us', tier: 'a' }),
});

describe('a usage tally', () => {
  it('folds events in parts, through storage, to exactly what the aggregator computes over all of them', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TALLIED), fc.array(event, { maxLength: 30 }), fc.nat(30), (type, events, cut) => {
        // Stored after the first part, read back (as the database returns it), then the rest folded in.
        const first = new UsageTally(type);
        for (const e of events.slice(0, cut)) first.add(e);
        const resumed = new UsageTally(type, JSON.parse(JSON.stringify(first.stored()), revive));
        for (const e of events.slice(cut)) resumed.add(e);
        expect(resumed.result()).toEqual(aggregateEvents(type, events));
      }),
    );
  });

  it('merges two subscriptions’ tallies into what one aggregator over both gives', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TALLIED), fc.array(event), fc.array(event), (type, a, b) => {
        const left = new UsageTally(type);
        const right = new UsageTally(type);
        for (const e of a) left.add(e);
        for (const e of b) right.add(e);
        left.merge(right);
        expect(left.result()).toEqual(aggregateEvents(type, [...a, ...b]));
      }),
    );
  });

  it('averages exactly by sum and count, not by averaging averages', () => {
    const at = new Date(Date.UTC(2026, 9, 1));
    const left = new UsageTally('AVG');
    const right = new UsageTally('AVG');
    left.add({ _id: 'a', value: '1', timestamp: at });
    right.add({ _id: 'b', value: '2', timestamp: at });
    right.add({ _id: 'c', value: '3', timestamp: at });
    left.merge(right);
    expect(left.result().quantity).toBe('2'); // (1 + 2 + 3) / 3, where the mean of the means would be 1.75
  });
});

// JSON gives dates back as strings; the database gives Dates.
function revive(key: string, value: unknown) {
  return key === 'at' && typeof value === 'string' ? new Date(value) : value;
}
