import { UsageAggregator } from './aggregation';
import { windowsOf } from './usage-series';

const at = (iso: string) => new Date(iso);
const show = (ws: Array<{ from: Date; to: Date }>) => ws.map((w) => `${w.from.toISOString()}/${w.to.toISOString()}`);

describe('the windows of a usage series', () => {
  it('rounds from down and to up to the window size, in UTC', () => {
    expect(show(windowsOf(at('2026-07-01T10:15:00Z'), at('2026-07-01T11:05:00Z'), 'HOUR'))).toEqual([
      '2026-07-01T10:00:00.000Z/2026-07-01T11:00:00.000Z',
      '2026-07-01T11:00:00.000Z/2026-07-01T12:00:00.000Z',
    ]);
  });

  it('takes calendar months, 28 to 31 days', () => {
    expect(show(windowsOf(at('2026-01-31T00:00:00Z'), at('2026-03-01T00:00:00Z'), 'MONTH'))).toEqual([
      '2026-01-01T00:00:00.000Z/2026-02-01T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z/2026-03-01T00:00:00.000Z',
    ]);
  });

  it('stops one past the limit, so the caller can refuse the range', () => {
    expect(windowsOf(at('2026-07-01T00:00:00Z'), at('2026-07-02T00:00:00Z'), 'MINUTE')).toHaveLength(1_001);
  });
});

describe('a seat metric by day', () => {
  it('gives each day its own seats, and hours within a day the day’s seats', () => {
    const days = windowsOf(at('2026-07-01T00:00:00Z'), at('2026-07-04T00:00:00Z'), 'DAY');
    const seats = new UsageAggregator(
      { type: 'UNIQUE_COUNT', recurring: true },
      {
        start: days[0]!.from,
        end: days[2]!.to,
        windows: days,
        normalize: 'WINDOW',
        carryIn: { total: { units: ['ann'] }, groups: [] },
      },
    );
    seats.add({ _id: '1', value: 'bob', timestamp: at('2026-07-02T15:00:00Z'), operation: null });
    seats.add({ _id: '2', value: 'ann', timestamp: at('2026-07-03T09:00:00Z'), operation: 'remove' });
    expect(seats.windowResults().map((w) => [w.quantity, w.eventCount])).toEqual([
      ['1', 0], // ann
      ['2', 1], // ann and bob (an addition counts its whole day)
      ['1', 1], // bob; ann's removal frees its own day
    ]);
  });
});
