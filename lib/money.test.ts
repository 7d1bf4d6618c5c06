import fc from 'fast-check';
import { Dec, fromMinorUnits, minorDigits, money, roundToMinorUnit, sumMoney, toMinorUnits } from './money';

describe('minor units follow ISO 4217', () => {
  it.each([
    ['USD', 2],
    ['EUR', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['KWD', 3],
    ['BHD', 3],
    ['CLF', 4],
  ])('%s has %i minor digits', (currency, digits) => {
    expect(minorDigits(currency)).toBe(digits);
  });

  it('rejects codes that are not currencies', () => {
    expect(() => minorDigits('XYZ')).toThrow(/unknown ISO 4217 currency/);
    expect(() => minorDigits('usd')).toThrow();
  });
});

describe('rounding happens once, with an explicit mode', () => {
  it('rounds half up and half even differently on a tie', () => {
    expect(roundToMinorUnit('0.125', 'USD', 'HALF_UP').toFixed()).toBe('0.13');
    expect(roundToMinorUnit('0.125', 'USD', 'HALF_EVEN').toFixed()).toBe('0.12');
    expect(roundToMinorUnit('0.135', 'USD', 'HALF_EVEN').toFixed()).toBe('0.14');
    expect(roundToMinorUnit('-0.125', 'USD', 'HALF_UP').toFixed()).toBe('-0.13');
  });

  it('rounds to the currency, not to two decimals', () => {
    expect(roundToMinorUnit('1499.5', 'JPY', 'HALF_UP').toFixed()).toBe('1500');
    expect(roundToMinorUnit('1.0005', 'KWD', 'HALF_UP').toFixed()).toBe('1.001');
  });

  it('refuses to build Money that still needs rounding', () => {
    expect(() => money('0.125', 'USD')).toThrow(/round it first/);
    expect(money('12.3', 'USD')).toEqual({ amount: '12.30', currency: 'USD' });
    expect(money('1500', 'JPY')).toEqual({ amount: '1500', currency: 'JPY' });
  });

  it('keeps amounts that binary floats would get wrong exact', () => {
    expect(new Dec('0.1').plus('0.2').toFixed()).toBe('0.3');
    expect(sumMoney([money('0.10', 'USD'), money('0.20', 'USD')], 'USD')).toEqual({ amount: '0.30', currency: 'USD' });
  });
});

describe('sums are exact in minor units', () => {
  it('refuses to add currencies together', () => {
    expect(() => sumMoney([money('1', 'USD'), money('1', 'EUR')], 'USD')).toThrow(/cannot add EUR/);
  });

  it('round-trips any amount through minor units', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
        fc.constantFrom('USD', 'JPY', 'KWD'),
        (minor, currency) => {
          expect(toMinorUnits(fromMinorUnits(minor, currency))).toBe(minor);
        },
      ),
    );
  });

  it('sum of amounts equals the sum of their minor units', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), { maxLength: 50 }), (minors) => {
        const total = sumMoney(
          minors.map((m) => fromMinorUnits(m, 'USD')),
          'USD',
        );
        expect(toMinorUnits(total)).toBe(minors.reduce((a, b) => a + b, 0n));
      }),
    );
  });
});
