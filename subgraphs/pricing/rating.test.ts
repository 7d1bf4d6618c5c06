import fc from 'fast-check';
import { Dec } from '../../lib/money';
import { ratePerUnit } from './rating';

const usd = { currency: 'USD', rounding: 'HALF_UP' as const };

describe('per-unit rating with an included quantity', () => {
  const charge = { model: 'PER_UNIT' as const, unitPrice: '0.0015', includedQuantity: '1000' };

  it('charges nothing for usage inside the included quantity', () => {
    const r = ratePerUnit(charge, '1000', usd);
    expect(r.billableQuantity).toBe('0');
    expect(r.amount).toEqual({ amount: '0.00', currency: 'USD' });
  });

  it('charges nothing for zero usage', () => {
    expect(ratePerUnit(charge, '0', usd).amount.amount).toBe('0.00');
  });

  it('charges one unit past the included quantity', () => {
    const r = ratePerUnit(charge, '1001', usd);
    expect(r.billableQuantity).toBe('1');
    expect(r.exactAmount).toBe('0.0015');
    expect(r.amount.amount).toBe('0.00'); // 0.0015 rounds half-up to 0.00
  });

  it('rates the overage and rounds once at the line', () => {
    // 3333 − 1000 = 2333 × 0.0015 = 3.4995 → 3.50
    const r = ratePerUnit(charge, '3333', usd);
    expect(r.billableQuantity).toBe('2333');
    expect(r.exactAmount).toBe('3.4995');
    expect(r.amount).toEqual({ amount: '3.50', currency: 'USD' });
    expect(r.explanation).toBe('3333 used − 1000 included = 2333 billable × 0.0015 USD = 3.4995 USD → rounded half-up to 3.50');
    expect(r.breakdown).toEqual([
      { description: 'included units', units: '1000', unitPrice: '0', amount: '0' },
      { description: 'units beyond the included quantity', units: '2333', unitPrice: '0.0015', amount: '3.4995' },
    ]);
  });

  it('handles fractional quantities exactly', () => {
    // 12.345 GB-h × 0.0125 = 0.1543125 → 0.15
    const r = ratePerUnit({ model: 'PER_UNIT', unitPrice: '0.0125', includedQuantity: '0' }, '12.345', usd);
    expect(r.exactAmount).toBe('0.1543125');
    expect(r.amount.amount).toBe('0.15');
  });

  it('applies the legal entity rounding mode on ties', () => {
    const tie = { model: 'PER_UNIT' as const, unitPrice: '0.005', includedQuantity: '0' };
    expect(ratePerUnit(tie, '25', { currency: 'USD', rounding: 'HALF_UP' }).amount.amount).toBe('0.13');
    expect(ratePerUnit(tie, '25', { currency: 'USD', rounding: 'HALF_EVEN' }).amount.amount).toBe('0.12');
  });

  it('rounds to the currency minor unit (JPY has none)', () => {
    expect(ratePerUnit({ model: 'PER_UNIT', unitPrice: '0.35', includedQuantity: '0' }, '1001', { currency: 'JPY', rounding: 'HALF_UP' }).amount).toEqual({ amount: '350', currency: 'JPY' });
  });
});

describe('per-unit rating properties', () => {
  const decimal = (max: number, scale: number) => fc.integer({ min: 0, max }).map((n) => new Dec(n).dividedBy(10 ** scale).toFixed());

  it('never charges less when usage grows', () => {
    fc.assert(
      fc.property(decimal(10_000_000, 3), decimal(10_000_000, 3), decimal(100_000, 5), decimal(1_000_000, 2), (a, b, price, included) => {
        const [low, high] = new Dec(a).lte(b) ? [a, b] : [b, a];
        const charge = { model: 'PER_UNIT' as const, unitPrice: price, includedQuantity: included };
        expect(new Dec(ratePerUnit(charge, high, usd).amount.amount).gte(ratePerUnit(charge, low, usd).amount.amount)).toBe(true);
      }),
    );
  });

  it('is within half a minor unit of the exact amount', () => {
    fc.assert(
      fc.property(decimal(10_000_000, 3), decimal(100_000, 5), (quantity, price) => {
        const r = ratePerUnit({ model: 'PER_UNIT', unitPrice: price, includedQuantity: '0' }, quantity, usd);
        expect(new Dec(r.amount.amount).minus(r.exactAmount).abs().lte('0.005')).toBe(true);
      }),
    );
  });
});
