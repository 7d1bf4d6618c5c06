// AVG, MIN and the time-weighted aggregations (weighted sums, recurring seats and levels), checked by hand (issue 11).
import fc from 'fast-check';
import { Dec } from '../../lib/money';
import { parsePeriod } from '../../lib/period';
import { UsageAggregator, aggregateEvents, type AggregationSpec, type CarryState } from './aggregation';

const day = (date: string, time = '00:00') => new Date(`${date}T${time}:00Z`);
const ev = (id: string, value: string, at: Date, extra: { operation?: string; team?: string } = {}) => ({
  _id: id,
  value,
  timestamp: at,
  dimensions: (extra.team ? { team: extra.team } : {}) as Record<string, string>,
  operation: extra.operation ?? null,
});
const frame = (key: string, carryIn: CarryState | null = null) => {
  const p = parsePeriod(key);
  return { start: p.start, end: p.end, carryIn };
};
/** Aggregates one period and returns its quantity and the carry for the next. */
function period(spec: AggregationSpec, key: string, events: ReturnType<typeof ev>[], carryIn: CarryState | null) {
  const a = new UsageAggregator(spec, frame(key, carryIn));
  events.forEach((e) => a.add(e));
  return { result: a.result(), carry: a.carryOut() };
}

describe('AVG and MIN (OpenMeter’s avg and min)', () => {
  const events = [ev('a', '1', day('2026-04-02')), ev('b', '2', day('2026-04-03')), ev('c', '4', day('2026-04-04'))];

  it('averages exactly, carrying a repeating mean to 30 places', () => {
    expect(aggregateEvents('AVG', events).quantity).toBe('2.333333333333333333333333333333');
    expect(aggregateEvents('AVG', events.slice(0, 2)).quantity).toBe('1.5');
    expect(aggregateEvents('AVG', []).quantity).toBe('0');
  });

  it('takes the smallest value, fractional and negative ones included', () => {
    expect(aggregateEvents('MIN', [...events, ev('d', '0.25', day('2026-04-05'))]).quantity).toBe('0.25');
    expect(aggregateEvents('MIN', [...events, ev('e', '-3', day('2026-04-05'))]).quantity).toBe('-3');
    expect(aggregateEvents('MIN', []).quantity).toBe('0');
  });
});

describe('WEIGHTED_SUM: a running total weighed by the time it held (Lago’s weighted_sum)', () => {
  const spec: AggregationSpec = { type: 'WEIGHTED_SUM' };

  it('weighs each level by its share of the period: 10 for 15 days, then 15 for 15 days of April = 12.5', () => {
    const r = aggregateEvents(
      spec,
      [ev('a', '10', day('2026-04-01')), ev('b', '5', day('2026-04-16'))],
      frame('2026-04'),
    );
    expect(r.quantity).toBe('12.5'); // (10 × 15 + 15 × 15) / 30
  });

  it('takes away with a negative value, to the millisecond', () => {
    const r = aggregateEvents(
      spec,
      [ev('a', '4', day('2026-04-01')), ev('b', '-4', day('2026-04-01', '12:00'))],
      frame('2026-04'),
    );
    expect(r.quantity).toBe('0.066666666666666666666666666667'); // 4 × ½ day / 30 days
  });

  it('starts from zero every period unless recurring, when the total carries into the next', () => {
    const april = period(spec, '2026-04', [ev('a', '10', day('2026-04-16'))], null);
    expect(april.result.quantity).toBe('5');
    expect(april.carry).toBeNull();
    const recurring = { ...spec, recurring: true };
    const carried = period(recurring, '2026-04', [ev('a', '10', day('2026-04-16'))], null);
    expect(period(recurring, '2026-05', [], carried.carry).result.quantity).toBe('10');
  });

  it('of a constant value equals value × days held ÷ the period’s days', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: 0, max: 29 }), (cents, d) => {
        const value = new Dec(cents).dividedBy(100).toFixed();
        const at = new Date(Date.UTC(2026, 3, 1 + d));
        const q = aggregateEvents(spec, [ev('a', value, at)], frame('2026-04')).quantity;
        const expected = new Dec(value)
          .times(30 - d)
          .dividedBy(30)
          .toDecimalPlaces(30, Dec.ROUND_HALF_EVEN);
        expect(new Dec(q).eq(expected)).toBe(true);
      }),
    );
  });
});

describe('recurring UNIQUE_COUNT: seats carried across three periods, prorated by the days each was active', () => {
  const seats: AggregationSpec = { type: 'UNIQUE_COUNT', recurring: true };

  it('bills a seat added mid-period its fraction, stops billing a removed one, and carries the rest', () => {
    // April (30 days): ann all month, bob from the 16th = 1 + 15/30.
    const april = period(
      seats,
      '2026-04',
      [ev('1', 'ann', day('2026-04-01', '09:30')), ev('2', 'bob', day('2026-04-16', '17:00'))],
      null,
    );
    expect(april.result.quantity).toBe('1.5');
    expect(april.carry?.total).toEqual({ units: ['ann', 'bob'] });
    // May (31 days): both carried in, no event re-sent; bob removed on the 11th (his last day the 10th) = 1 + 10/31.
    const may = period(
      seats,
      '2026-05',
      [ev('3', 'bob', day('2026-05-11', '08:00'), { operation: 'remove' })],
      april.carry,
    );
    expect(may.result.quantity).toBe('1.32258064516129032258064516129');
    expect(may.carry?.total).toEqual({ units: ['ann'] });
    // June (30 days): ann all month, cid on the last day = 1 + 1/30.
    const june = period(seats, '2026-06', [ev('4', 'cid', day('2026-06-30', '23:59'))], may.carry);
    expect(june.result.quantity).toBe('1.033333333333333333333333333333');
    expect(june.carry?.total).toEqual({ units: ['ann', 'cid'] });
  });

  it('counts a seat added twice once, and keeps it in the team it was added in when removed', () => {
    const r = period(
      seats,
      '2026-04',
      [
        ev('1', 'ann', day('2026-04-01'), { team: 'eu' }),
        ev('2', 'ann', day('2026-04-05'), { team: 'eu' }),
        ev('3', 'ann', day('2026-04-16'), { operation: 'remove' }),
      ],
      null,
    );
    expect(r.result.quantity).toBe('0.5');
    expect(r.result.groups).toEqual([{ dimensions: { team: 'eu' }, quantity: '0.5', eventCount: 3 }]);
    expect(r.carry).toEqual({ total: { units: [] }, groups: [] });
  });
});

describe('recurring LATEST: a level held until it changes, across periods', () => {
  const level: AggregationSpec = { type: 'LATEST', recurring: true };

  it('weighs each day’s level and carries the last one', () => {
    // 5 GB for 10 days, 8 GB for 20 days of April = (50 + 160) / 30 = 7.
    const april = period(level, '2026-04', [ev('1', '5', day('2026-04-01')), ev('2', '8', day('2026-04-11'))], null);
    expect(april.result.quantity).toBe('7');
    expect(period(level, '2026-05', [], april.carry).result.quantity).toBe('8');
  });
});
