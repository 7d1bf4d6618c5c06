import fc from 'fast-check';
import { fromMinorUnits, money, sumMoney, toMinorUnits } from '../../../lib/money';
import { computeTax, jurisdictionLevels, type ApplicableRate } from './compute';
import { ratesFor, type TaxRateDoc } from './engine';

const state: ApplicableRate = { jurisdiction: 'US-CA', name: 'State sales tax', ratePercent: '6.25' };
const stateStorage: ApplicableRate = { ...state, ratePercent: '4' };
const city: ApplicableRate = { jurisdiction: 'US-CA-SF', name: 'City tax', ratePercent: '1.5' };
// The mixed invoice of the end-to-end test: api usage 12.24, storage 23.00 (4 % state rate), a fee of 49.00.
const mixed = [
  { lineId: 'api', amount: money('12.24', 'USD'), rates: [state, city] },
  { lineId: 'storage', amount: money('23.00', 'USD'), rates: [stateStorage, city] },
  { lineId: 'fee', amount: money('49.00', 'USD'), rates: [state, city] },
];
const amounts = (r: ReturnType<typeof computeTax>) =>
  Object.fromEntries(r.lines.map((l) => [l.lineId, l.taxes.map((t) => t.amount.amount)]));

describe('tax on a mixed invoice, by hand', () => {
  it('rounds each line half-up', () => {
    const r = computeTax(mixed, 'USD', { mode: 'HALF_UP', level: 'PER_LINE' });
    // 12.24 × 6.25 % = 0.765 → 0.77; × 1.5 % = 0.1836 → 0.18
    // 23.00 × 4 % = 0.92; × 1.5 % = 0.345 → 0.35
    // 49.00 × 6.25 % = 3.0625 → 3.06; × 1.5 % = 0.735 → 0.74
    expect(amounts(r)).toEqual({ api: ['0.77', '0.18'], storage: ['0.92', '0.35'], fee: ['3.06', '0.74'] });
    expect(r.taxLines.map((t) => [t.jurisdiction, t.ratePercent, t.taxable.amount, t.amount.amount])).toEqual([
      ['US-CA', '4', '23.00', '0.92'],
      ['US-CA', '6.25', '61.24', '3.83'],
      ['US-CA-SF', '1.5', '84.24', '1.27'],
    ]);
    expect(r.total).toEqual(money('6.02', 'USD'));
  });

  it('rounds each line half-even: the ties 0.765 and 0.345 go down, 0.735 goes up', () => {
    const r = computeTax(mixed, 'USD', { mode: 'HALF_EVEN', level: 'PER_LINE' });
    expect(amounts(r)).toEqual({ api: ['0.76', '0.18'], storage: ['0.92', '0.34'], fee: ['3.06', '0.74'] });
    expect(r.total).toEqual(money('6.00', 'USD'));
  });

  it('rounds once per jurisdiction and rate on the invoice total, and hands the cents out by largest remainder', () => {
    const r = computeTax(mixed, 'USD', { mode: 'HALF_UP', level: 'PER_INVOICE' });
    // State 6.25 %: 0.765 + 3.0625 = 3.8275 → 3.83; floors 0.76 + 3.06, the cent to api (remainder .5 > .25)
    // City: 0.1836 + 0.345 + 0.735 = 1.2636 → 1.26; floors 0.18 + 0.34 + 0.73 = 1.25, the cent to storage (.5 > .36, .5)
    expect(amounts(r)).toEqual({ api: ['0.77', '0.18'], storage: ['0.92', '0.35'], fee: ['3.06', '0.73'] });
    expect(r.taxLines.map((t) => t.amount.amount)).toEqual(['0.92', '3.83', '1.26']);
    expect(r.total).toEqual(money('6.01', 'USD'));
  });

  it('taxes nothing without rates, and works in a currency without minor units', () => {
    expect(
      computeTax([{ lineId: 'a', amount: money('1000', 'JPY'), rates: [] }], 'JPY', {
        mode: 'HALF_UP',
        level: 'PER_LINE',
      }).total,
    ).toEqual(money('0', 'JPY'));
    const jpy = computeTax(
      [{ lineId: 'a', amount: money('1005', 'JPY'), rates: [{ ...state, ratePercent: '10' }] }],
      'JPY',
      {
        mode: 'HALF_EVEN',
        level: 'PER_LINE',
      },
    );
    expect(jpy.total).toEqual(money('100', 'JPY')); // 100.5 → 100 (even)
  });

  it('keeps the lines and the total equal to the cent, whatever the lines, rates and rounding', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom('7.25', '19', '0.5', '8.875', '0'),
        fc.constantFrom('HALF_UP' as const, 'HALF_EVEN' as const),
        fc.constantFrom('PER_LINE' as const, 'PER_INVOICE' as const),
        (cents, rate, mode, level) => {
          const r = computeTax(
            cents.map((c, i) => ({
              lineId: `l${i}`,
              amount: fromMinorUnits(BigInt(c), 'USD'),
              rates: [{ ...state, ratePercent: rate }],
            })),
            'USD',
            { mode, level },
          );
          const lineTaxes = sumMoney(
            r.lines.flatMap((l) => l.taxes.map((t) => t.amount)),
            'USD',
          );
          expect(lineTaxes).toEqual(r.total);
          // Never more than half a cent per line away from the exact tax.
          const exact = cents.reduce((s, c) => s + c, 0) * Number(rate);
          expect(Math.abs(Number(toMinorUnits(r.total)) * 100 - exact)).toBeLessThanOrEqual(50 * cents.length + 1e-6);
        },
      ),
    );
  });
});

describe('the tax table', () => {
  const row = (jurisdiction: string, productLine: string, ratePercent: string, effectiveFrom: string): TaxRateDoc => ({
    _id: `${jurisdiction}/${productLine}/${effectiveFrom}`,
    jurisdiction,
    productLine,
    name: `${jurisdiction} tax`,
    ratePercent,
    effectiveFrom,
    setAt: new Date(),
    setBy: 'test',
    correlationId: 't',
  });
  const rows = [
    row('US-CA', '*', '6', '2020-01-01'),
    row('US-CA', '*', '6.25', '2026-07-01'),
    row('US-CA', 'storage', '4', '2020-01-01'),
    row('US-CA-SF', '*', '1.5', '2026-01-01'),
    row('DE', '*', '19', '2020-01-01'),
  ];

  it('applies every level of a jurisdiction, the product line’s own rate first, in force on the day', () => {
    expect(jurisdictionLevels('US-CA-SF')).toEqual(['US', 'US-CA', 'US-CA-SF']);
    expect(ratesFor(rows, 'US-CA-SF', 'api', '2026-10-31').map((r) => [r.jurisdiction, r.ratePercent])).toEqual([
      ['US-CA', '6.25'],
      ['US-CA-SF', '1.5'],
    ]);
    expect(ratesFor(rows, 'US-CA-SF', 'api', '2026-03-31').map((r) => r.ratePercent)).toEqual(['6', '1.5']);
    expect(ratesFor(rows, 'US-CA', 'storage', '2026-10-31').map((r) => r.ratePercent)).toEqual(['4']);
    expect(ratesFor(rows, 'FR', 'api', '2026-10-31')).toEqual([]);
  });
});
