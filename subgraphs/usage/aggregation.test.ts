import fc from 'fast-check';
import { aggregateEvents } from './aggregation';

const at = (minute: number) => new Date(Date.UTC(2026, 9, 1, 0, minute));
const ev = (id: string, value: string, minute: number, region?: string) => ({
  _id: id,
  value,
  timestamp: at(minute),
  dimensions: (region ? { region } : {}) as Record<string, string>,
});

describe('aggregating a period of events', () => {
  const events = [ev('a', '10', 1, 'eu'), ev('b', '2.5', 5, 'us'), ev('c', '7', 3, 'eu'), ev('d', '2.5', 9, 'us')];

  it('sums exactly, with a breakdown per dimension value', () => {
    expect(aggregateEvents('SUM', events)).toEqual({
      quantity: '22',
      eventCount: 4,
      groups: [
        { dimensions: { region: 'eu' }, quantity: '17', eventCount: 2 },
        { dimensions: { region: 'us' }, quantity: '5', eventCount: 2 },
      ],
    });
  });

  it('counts events', () => {
    expect(
      aggregateEvents(
        'COUNT',
        events.map((e) => ({ ...e, value: '1' })),
      ).quantity,
    ).toBe('4');
  });

  it('takes the maximum', () => {
    expect(aggregateEvents('MAX', events).quantity).toBe('10');
  });

  it('counts distinct values', () => {
    expect(aggregateEvents('UNIQUE_COUNT', events).quantity).toBe('3');
  });

  it('takes the latest value in time, not in arrival order', () => {
    expect(aggregateEvents('LATEST', events).quantity).toBe('2.5');
    expect(aggregateEvents('LATEST', [ev('x', '40', 10), ev('y', '30', 2)]).quantity).toBe('40');
    // Two readings at the same instant: the larger id wins, whatever the order they are read in.
    expect(aggregateEvents('LATEST', [ev('b', '1', 5), ev('a', '2', 5)]).quantity).toBe('1');
    expect(aggregateEvents('LATEST', [ev('a', '2', 5), ev('b', '1', 5)]).quantity).toBe('1');
  });

  it('is zero with no events', () => {
    for (const t of ['SUM', 'COUNT', 'MAX', 'UNIQUE_COUNT', 'LATEST'] as const)
      expect(aggregateEvents(t, [])).toEqual({ quantity: '0', eventCount: 0, groups: [] });
  });

  it('gives the same result in any order, and groups add up to the total for SUM', () => {
    const arb = fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom('eu', 'us', 'ap'),
      ),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(arb, (rows) => {
        const list = rows.map(([v, scale, region], i) =>
          ev(`e${String(i).padStart(3, '0')}`, (v / 10 ** scale).toString(), i, region),
        );
        for (const t of ['SUM', 'MAX', 'UNIQUE_COUNT', 'LATEST'] as const)
          expect(aggregateEvents(t, [...list].reverse())).toEqual(aggregateEvents(t, list));
        const sum = aggregateEvents('SUM', list);
        const fromGroups = sum.groups.reduce((s, g) => s + Number(g.eventCount), 0);
        expect(fromGroups).toBe(list.length);
      }),
    );
  });
});
