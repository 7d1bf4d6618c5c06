import fc from 'fast-check';
import { parsePeriod } from '../../lib/period';
import { prorateAmount, prorationFactor } from './proration';

const october = parsePeriod('2026-10'); // 31 days
const at = (iso: string) => new Date(iso);

/** Whether two reduced fraction strings ("a/b", "n") add up to exactly 1, in integers. */
function sumsToOne(x: string, y: string): boolean {
  const parts = (f: string) => (f.includes('/') ? f.split('/').map(BigInt) : [BigInt(f), 1n]) as [bigint, bigint];
  const [a, b] = parts(x);
  const [c, d] = parts(y);
  return a * d + c * b === b * d;
}

describe('proration factor: the share of the period’s UTC days a subscription covers', () => {
  it('is exactly 1 for a full period, whether the subscription started before it or exactly on it', () => {
    expect(prorationFactor(at('2025-03-14T09:00:00Z'), null, october.start, october.end)).toBe('1');
    expect(prorationFactor(october.start, october.end, october.start, october.end)).toBe('1');
    expect(prorationFactor(at('2026-01-01T00:00:00Z'), at('2027-01-01T00:00:00Z'), october.start, october.end)).toBe(
      '1',
    );
  });

  it('counts the start day in full when a subscription starts mid-period', () => {
    // starts Oct 10 at 15:30 → Oct 10..31 = 22 of 31 days
    expect(prorationFactor(at('2026-10-10T15:30:00Z'), null, october.start, october.end)).toBe('22/31');
    expect(prorationFactor(at('2026-10-10T00:00:00Z'), null, october.start, october.end)).toBe('22/31');
    expect(prorationFactor(at('2026-10-31T23:59:59Z'), null, october.start, october.end)).toBe('1/31');
  });

  it('stops before the end day when a subscription is cancelled mid-period', () => {
    // ends Oct 10 (any time) → Oct 1..9 = 9 of 31 days
    expect(prorationFactor(at('2026-01-01T00:00:00Z'), at('2026-10-10T15:30:00Z'), october.start, october.end)).toBe(
      '9/31',
    );
    expect(prorationFactor(at('2026-01-01T00:00:00Z'), at('2026-10-10T00:00:00Z'), october.start, october.end)).toBe(
      '9/31',
    );
    // ends Oct 1 → no day of October
    expect(prorationFactor(at('2026-01-01T00:00:00Z'), at('2026-10-01T08:00:00Z'), october.start, october.end)).toBe(
      '0',
    );
  });

  it('splits a mid-period plan change into two segments that add up to exactly 1', () => {
    const change = at('2026-10-10T15:30:00Z');
    const oldPlan = prorationFactor(at('2026-01-01T00:00:00Z'), change, october.start, october.end);
    const newPlan = prorationFactor(change, null, october.start, october.end);
    expect([oldPlan, newPlan]).toEqual(['9/31', '22/31']);
    expect(sumsToOne(oldPlan, newPlan)).toBe(true);
    // 100 × 9/31 = 29.032… → 29.03; 100 × 22/31 = 70.967… → 70.97
    expect(prorateAmount('100', oldPlan, 'USD', 'HALF_UP').amount).toBe('29.03');
    expect(prorateAmount('100', newPlan, 'USD', 'HALF_UP').amount).toBe('70.97');
  });

  it('reduces the fraction', () => {
    // September has 30 days: from Sep 16 → 15/30 = 1/2
    const september = parsePeriod('2026-09');
    expect(prorationFactor(at('2026-09-16T12:00:00Z'), null, september.start, september.end)).toBe('1/2');
  });

  it('counts February 29 in a leap year', () => {
    const leapFebruary = parsePeriod('2028-02'); // 29 days
    expect(prorationFactor(at('2028-02-15T10:00:00Z'), null, leapFebruary.start, leapFebruary.end)).toBe('15/29');
    expect(prorationFactor(at('2028-02-29T23:00:00Z'), null, leapFebruary.start, leapFebruary.end)).toBe('1/29');
    expect(
      prorationFactor(at('2028-01-01T00:00:00Z'), at('2028-02-29T00:00:00Z'), leapFebruary.start, leapFebruary.end),
    ).toBe('28/29');
    expect(prorationFactor(at('2028-01-01T00:00:00Z'), null, leapFebruary.start, leapFebruary.end)).toBe('1');
    // and not in 2026: Feb 15 → 14 of 28 days
    const february = parsePeriod('2026-02');
    expect(prorationFactor(at('2026-02-15T10:00:00Z'), null, february.start, february.end)).toBe('1/2');
  });

  it('is 0 outside the subscription and for a start and end on the same day', () => {
    expect(prorationFactor(at('2026-11-01T00:00:00Z'), null, october.start, october.end)).toBe('0');
    expect(prorationFactor(at('2026-01-01T00:00:00Z'), at('2026-09-20T00:00:00Z'), october.start, october.end)).toBe(
      '0',
    );
    expect(prorationFactor(at('2026-10-10T08:00:00Z'), at('2026-10-10T17:00:00Z'), october.start, october.end)).toBe(
      '0',
    );
    expect(prorationFactor(at('2026-10-12T00:00:00Z'), at('2026-10-10T00:00:00Z'), october.start, october.end)).toBe(
      '0',
    );
  });

  it('refuses period bounds that are not UTC midnights or not in order', () => {
    expect(() => prorationFactor(october.start, null, at('2026-10-01T01:00:00Z'), october.end)).toThrow(
      /must be a UTC midnight/,
    );
    expect(() => prorationFactor(october.start, null, october.end, october.start)).toThrow(/must be after periodStart/);
    expect(() => prorationFactor(at('not a date'), null, october.start, october.end)).toThrow(
      /activeFrom is not a valid date/,
    );
  });

  it('splits any period at any instant into segments that add up to exactly 1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2000, max: 2100 }),
        fc.integer({ min: 1, max: 12 }),
        fc.nat(),
        (year, month, offset) => {
          const period = parsePeriod(`${year}-${String(month).padStart(2, '0')}`);
          const change = new Date(period.start.getTime() + (offset % (period.end.getTime() - period.start.getTime())));
          const before = prorationFactor(at('1999-01-01T00:00:00Z'), change, period.start, period.end);
          const after = prorationFactor(change, null, period.start, period.end);
          expect(sumsToOne(before, after)).toBe(true);
        },
      ),
    );
  });
});

describe('prorating an amount', () => {
  it('multiplies exactly and rounds once to the currency', () => {
    // 100 × 22/31 = 70.967741… → 70.97
    expect(prorateAmount('100', '22/31', 'USD', 'HALF_UP')).toEqual({ amount: '70.97', currency: 'USD' });
    // 1000 × 22/31 = 709.677… → 710 yen
    expect(prorateAmount('1000', '22/31', 'JPY', 'HALF_UP')).toEqual({ amount: '710', currency: 'JPY' });
    // a full period keeps the amount
    expect(prorateAmount('49.99', '1', 'USD', 'HALF_UP').amount).toBe('49.99');
    expect(prorateAmount('49.99', '0', 'USD', 'HALF_UP').amount).toBe('0.00');
  });

  it('applies the legal entity mode on a tie', () => {
    // 0.25 × 1/2 = 0.125 → 0.13 half-up, 0.12 half-even
    expect(prorateAmount('0.25', '1/2', 'USD', 'HALF_UP').amount).toBe('0.13');
    expect(prorateAmount('0.25', '1/2', 'USD', 'HALF_EVEN').amount).toBe('0.12');
    // a decimal factor works too: 0.25 × 0.5 = 0.125
    expect(prorateAmount('0.25', '0.5', 'USD', 'HALF_EVEN').amount).toBe('0.12');
    // 0.03 × 1/6 = 0.005 exactly: a tie a cut-off decimal factor (0.1666…67) would round up
    expect(prorateAmount('0.03', '1/6', 'USD', 'HALF_EVEN').amount).toBe('0.00');
  });

  it('refuses factors outside 0..1 and amounts that are not decimals', () => {
    expect(() => prorateAmount('100', '32/31', 'USD', 'HALF_UP')).toThrow(/from 0 to 1/);
    expect(() => prorateAmount('100', '-1/2', 'USD', 'HALF_UP')).toThrow(/from 0 to 1/);
    expect(() => prorateAmount('100', 'half', 'USD', 'HALF_UP')).toThrow(/from 0 to 1/);
    expect(() => prorateAmount('1e2', '1', 'USD', 'HALF_UP')).toThrow(/not a decimal/);
  });
});
