import fc from 'fast-check';
import { parsePeriod } from '../../lib/period';
import { OPEN_ENDED, endsAtOrOpen } from './store';

// Dates from year 0 to past 9999: the text compared in the database must order as the instants do.
const instant = fc.date({
  min: new Date('0000-01-01T00:00:00Z'),
  max: new Date('+012000-01-01T00:00:00Z'),
  noInvalidDate: true,
});

it('orders endsAtOrOpen against a period start as the old $or compared endsAt (null: open, always after)', () => {
  fc.assert(
    fc.property(
      fc.option(instant),
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 1, max: 12 }),
      (endsAt, y, m) => {
        const period = parsePeriod(`${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}`);
        const before = endsAt === null || endsAt > period.start;
        expect(endsAtOrOpen(endsAt) > period.start.toISOString()).toBe(before);
      },
    ),
  );
});

it('stores the end as ISO text, and the far-future mark when open', () => {
  expect(endsAtOrOpen(new Date('2026-03-15T00:00:00Z'))).toBe('2026-03-15T00:00:00.000Z');
  expect(endsAtOrOpen(null)).toBe(OPEN_ENDED);
});
