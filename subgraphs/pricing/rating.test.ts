import fc from 'fast-check';
import { Dec, minorDigits, money, roundToMinorUnit, sumMoney, toMinorUnits } from '../../lib/money';
import { prorateAmount } from './proration';
import {
  commitmentTrueUp,
  rateCharge,
  ratePerUnit,
  type ChargeModel,
  type GraduatedCharge,
  type PackageCharge,
  type PercentageCharge,
  type RatingRules,
  type Tier,
  type UsageForRating,
  type VolumeCharge,
} from './rating';

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
    expect(r.explanation).toBe(
      '3333 used − 1000 included = 2333 billable × 0.0015 USD = 3.4995 USD → rounded half-up to 3.50',
    );
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
    expect(
      ratePerUnit({ model: 'PER_UNIT', unitPrice: '0.35', includedQuantity: '0' }, '1001', {
        currency: 'JPY',
        rounding: 'HALF_UP',
      }).amount,
    ).toEqual({ amount: '350', currency: 'JPY' });
  });
});

describe('per-unit rating properties', () => {
  const decimal = (max: number, scale: number) =>
    fc.integer({ min: 0, max }).map((n) => new Dec(n).dividedBy(10 ** scale).toFixed());

  it('never charges less when usage grows', () => {
    fc.assert(
      fc.property(
        decimal(10_000_000, 3),
        decimal(10_000_000, 3),
        decimal(100_000, 5),
        decimal(1_000_000, 2),
        (a, b, price, included) => {
          const [low, high] = new Dec(a).lte(b) ? [a, b] : [b, a];
          const charge = { model: 'PER_UNIT' as const, unitPrice: price, includedQuantity: included };
          expect(
            new Dec(ratePerUnit(charge, high, usd).amount.amount).gte(ratePerUnit(charge, low, usd).amount.amount),
          ).toBe(true);
        },
      ),
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

// ——— Tiered, package and percentage models, the minimum commitment, and properties across every model ———

const usdEven = { currency: 'USD', rounding: 'HALF_EVEN' as const };
const jpy = { currency: 'JPY', rounding: 'HALF_UP' as const };
const jpyEven = { currency: 'JPY', rounding: 'HALF_EVEN' as const };
const usage = (quantity: string): UsageForRating => ({ quantity });
const events = (...amounts: string[]): UsageForRating => ({
  quantity: String(amounts.length),
  events: amounts.map((amount) => ({ amount })),
});

// 0–100 at 0.10; above 100 up to 1000 at 0.08 with a 5.00 flat fee; above 1000 at 0.05.
const tiers: Tier[] = [
  { upTo: '100', unitPrice: '0.10' },
  { upTo: '1000', unitPrice: '0.08', flatFee: '5' },
  { upTo: null, unitPrice: '0.05' },
];
// A tie-maker: 10 units at 0.01, then 0.005 each.
const tieTiers: Tier[] = [
  { upTo: '10', unitPrice: '0.01' },
  { upTo: null, unitPrice: '0.005' },
];
const yenTiers: Tier[] = [
  { upTo: '100', unitPrice: '1.5' },
  { upTo: null, unitPrice: '0.75' },
];

describe('graduated rating: each unit priced by the tier it falls in', () => {
  const charge: GraduatedCharge = { model: 'GRADUATED', tiers };
  const rate = (q: string, rules: RatingRules = usd) => rateCharge(charge, usage(q), rules);

  it('charges nothing, not even a flat fee, for zero usage', () => {
    const r = rate('0');
    expect(r.amount).toEqual({ amount: '0.00', currency: 'USD' });
    expect(r.exactAmount).toBe('0');
    expect(r.breakdown).toEqual([]);
    expect(r.explanation).toBe('0 used, graduated: 0 USD');
  });

  it('keeps usage exactly on a boundary in the lower tier (upTo is inclusive)', () => {
    // 100 × 0.10 = 10.00; tier 2 untouched, so no flat fee
    const r = rate('100');
    expect(r.exactAmount).toBe('10');
    expect(r.amount.amount).toBe('10.00');
    expect(r.breakdown).toEqual([{ description: 'tier 1 (up to 100)', units: '100', unitPrice: '0.1', amount: '10' }]);
  });

  it('prices one unit past the boundary in the next tier and adds its flat fee', () => {
    // 100 × 0.10 + 1 × 0.08 + 5 flat = 10 + 0.08 + 5 = 15.08
    const r = rate('101');
    expect(r.exactAmount).toBe('15.08');
    expect(r.amount.amount).toBe('15.08');
    expect(r.billableQuantity).toBe('101');
    expect(r.breakdown).toEqual([
      { description: 'tier 1 (up to 100)', units: '100', unitPrice: '0.1', amount: '10' },
      { description: 'tier 2 (above 100 up to 1000)', units: '1', unitPrice: '0.08', amount: '0.08' },
      { description: 'flat fee of tier 2', units: '1', unitPrice: '5', amount: '5' },
    ]);
    expect(r.explanation).toBe(
      '101 used, graduated: 100 × 0.1 USD (tier 1, up to 100) + 1 × 0.08 USD (tier 2, above 100 up to 1000) + 5 USD flat fee (tier 2) = 15.08 USD',
    );
  });

  it('fills every tier on the last boundary and one unit past it', () => {
    // 1000: 100 × 0.10 + 900 × 0.08 + 5 = 10 + 72 + 5 = 87
    expect(rate('1000').exactAmount).toBe('87');
    // 1001: 87 + 1 × 0.05 = 87.05
    expect(rate('1001').amount.amount).toBe('87.05');
  });

  it('applies boundaries to the exact fractional quantity', () => {
    // 100.5: 100 × 0.10 + 0.5 × 0.08 + 5 = 10 + 0.04 + 5 = 15.04
    expect(rate('100.5').exactAmount).toBe('15.04');
    // 12.345 GB-h all in tier 1: 12.345 × 0.10 = 1.2345 → 1.23
    const r = rate('12.345');
    expect(r.exactAmount).toBe('1.2345');
    expect(r.amount.amount).toBe('1.23');
    expect(r.explanation).toBe(
      '12.345 used, graduated: 12.345 × 0.1 USD (tier 1, up to 100) = 1.2345 USD → rounded half-up to 1.23',
    );
  });

  it('rounds once at the line with the legal entity mode on a tie', () => {
    // 10 × 0.01 + 5 × 0.005 = 0.1 + 0.025 = 0.125 → 0.13 half-up, 0.12 half-even
    const tie: GraduatedCharge = { model: 'GRADUATED', tiers: tieTiers };
    expect(rateCharge(tie, usage('15'), usd).exactAmount).toBe('0.125');
    expect(rateCharge(tie, usage('15'), usd).amount.amount).toBe('0.13');
    expect(rateCharge(tie, usage('15'), usdEven).amount.amount).toBe('0.12');
  });

  it('rounds to whole yen', () => {
    const yen: GraduatedCharge = { model: 'GRADUATED', tiers: yenTiers };
    // 100 × 1.5 + 1 × 0.75 = 150.75 → 151
    expect(rateCharge(yen, usage('101'), jpy).amount).toEqual({ amount: '151', currency: 'JPY' });
    // 3 × 1.5 = 4.5 → 5 half-up, 4 half-even
    expect(rateCharge(yen, usage('3'), jpy).amount.amount).toBe('5');
    expect(rateCharge(yen, usage('3'), jpyEven).amount.amount).toBe('4');
  });

  it('refuses tiers the engine cannot price', () => {
    expect(() => rateCharge({ model: 'GRADUATED', tiers: [] }, usage('1'), usd)).toThrow(/at least one tier/);
    expect(() => rateCharge({ model: 'GRADUATED', tiers: [{ upTo: '10', unitPrice: '1' }] }, usage('1'), usd)).toThrow(
      /open-ended/,
    );
    expect(() =>
      rateCharge(
        {
          model: 'GRADUATED',
          tiers: [
            { upTo: '10', unitPrice: '1' },
            { upTo: '5', unitPrice: '1' },
            { upTo: null, unitPrice: '1' },
          ],
        },
        usage('1'),
        usd,
      ),
    ).toThrow(/greater than 10/);
    expect(() => rateCharge({ model: 'GRADUATED', tiers }, usage('1e3'), usd)).toThrow(/not a decimal/);
  });
});

describe('volume rating: every unit priced at the tier the total reaches', () => {
  const charge: VolumeCharge = { model: 'VOLUME', tiers };
  const rate = (q: string, rules: RatingRules = usd) => rateCharge(charge, usage(q), rules);

  it('charges nothing, not even a flat fee, for zero usage', () => {
    const r = rate('0');
    expect(r.amount.amount).toBe('0.00');
    expect(r.breakdown).toEqual([]);
    expect(r.explanation).toBe('0 used, volume: no tier reached = 0 USD');
  });

  it('keeps usage exactly on a boundary in the lower tier', () => {
    // 100 × 0.10 = 10.00
    const r = rate('100');
    expect(r.exactAmount).toBe('10');
    expect(r.breakdown).toEqual([
      { description: 'all units at the price of tier 1 (up to 100)', units: '100', unitPrice: '0.1', amount: '10' },
    ]);
  });

  it('moves every unit to the next tier one unit past the boundary', () => {
    // 101 × 0.08 + 5 flat = 8.08 + 5 = 13.08
    const r = rate('101');
    expect(r.exactAmount).toBe('13.08');
    expect(r.amount.amount).toBe('13.08');
    expect(r.breakdown).toEqual([
      {
        description: 'all units at the price of tier 2 (above 100 up to 1000)',
        units: '101',
        unitPrice: '0.08',
        amount: '8.08',
      },
      { description: 'flat fee of tier 2', units: '1', unitPrice: '5', amount: '5' },
    ]);
    expect(r.explanation).toBe(
      '101 used, volume: reaches tier 2 (above 100 up to 1000): 101 × 0.08 USD + 5 USD flat fee = 13.08 USD',
    );
  });

  it('prices the last boundary and one past it', () => {
    // 1000 × 0.08 + 5 = 85; 1001 × 0.05 = 50.05 (volume pricing can drop when usage grows)
    expect(rate('1000').exactAmount).toBe('85');
    expect(rate('1001').exactAmount).toBe('50.05');
  });

  it('applies boundaries to the exact fractional quantity', () => {
    // 100.5 × 0.08 + 5 = 8.04 + 5 = 13.04
    expect(rate('100.5').exactAmount).toBe('13.04');
    // 0.001 × 0.10 = 0.0001 → 0.00
    expect(rate('0.001').amount.amount).toBe('0.00');
  });

  it('rounds once at the line with the legal entity mode on a tie', () => {
    // 25 × 0.005 = 0.125 → 0.13 half-up, 0.12 half-even
    const tie: VolumeCharge = { model: 'VOLUME', tiers: tieTiers };
    expect(rateCharge(tie, usage('25'), usd).amount.amount).toBe('0.13');
    expect(rateCharge(tie, usage('25'), usdEven).amount.amount).toBe('0.12');
    expect(rateCharge(tie, usage('25'), usd).explanation).toBe(
      '25 used, volume: reaches tier 2 (above 10): 25 × 0.005 USD = 0.125 USD → rounded half-up to 0.13',
    );
  });

  it('rounds to whole yen', () => {
    const yen: VolumeCharge = { model: 'VOLUME', tiers: yenTiers };
    // 101 × 0.75 = 75.75 → 76
    expect(rateCharge(yen, usage('101'), jpy).amount).toEqual({ amount: '76', currency: 'JPY' });
    // 3 × 1.5 = 4.5 → 5 half-up, 4 half-even
    expect(rateCharge(yen, usage('3'), jpy).amount.amount).toBe('5');
    expect(rateCharge(yen, usage('3'), jpyEven).amount.amount).toBe('4');
  });
});

describe('package rating: whole packages after the free units', () => {
  const charge: PackageCharge = { model: 'PACKAGE', packageSize: '100', packagePrice: '5', freeUnits: '50' };
  const rate = (q: string, rules: RatingRules = usd) => rateCharge(charge, usage(q), rules);

  it('charges nothing for zero usage or usage inside the free units', () => {
    expect(rate('0').amount.amount).toBe('0.00');
    expect(rate('0').breakdown).toEqual([]);
    const r = rate('50');
    expect(r.amount.amount).toBe('0.00');
    expect(r.breakdown).toEqual([{ description: 'free units', units: '50', unitPrice: '0', amount: '0' }]);
  });

  it('charges exactly one package when the billable units fill it', () => {
    // 150 − 50 free = 100 billable = 1 package × 5 = 5.00
    const r = rate('150');
    expect(r.billableQuantity).toBe('100');
    expect(r.amount.amount).toBe('5.00');
    expect(r.explanation).toBe(
      '150 used − 50 free = 100 billable → 1 × 100-unit packages (rounded up) × 5 USD = 5 USD',
    );
  });

  it('starts a second package one unit past it', () => {
    // 151 − 50 = 101 billable → ⌈1.01⌉ = 2 packages × 5 = 10.00
    const r = rate('151');
    expect(r.amount.amount).toBe('10.00');
    expect(r.breakdown).toEqual([
      { description: 'free units', units: '50', unitPrice: '0', amount: '0' },
      {
        description: 'packages of 100 units for 101 billable units (a started package counts in full)',
        units: '2',
        unitPrice: '5',
        amount: '10',
      },
    ]);
  });

  it('rounds a fractional remainder up to a whole package', () => {
    // 50.001 − 50 = 0.001 billable → 1 package = 5.00
    expect(rate('50.001').amount.amount).toBe('5.00');
    expect(rate('50.001').billableQuantity).toBe('0.001');
  });

  it('rounds the money once at the line with the legal entity mode on a tie', () => {
    // 1 unit → 1 package × 0.125 = 0.125 → 0.13 half-up, 0.12 half-even
    const tie: PackageCharge = { model: 'PACKAGE', packageSize: '1000', packagePrice: '0.125', freeUnits: '0' };
    expect(rateCharge(tie, usage('1'), usd).amount.amount).toBe('0.13');
    expect(rateCharge(tie, usage('1'), usdEven).amount.amount).toBe('0.12');
  });

  it('rounds to whole yen', () => {
    // 25 units → 3 packages of 10 × 99.5 = 298.5 → 299 half-up, 298 half-even
    const yen: PackageCharge = { model: 'PACKAGE', packageSize: '10', packagePrice: '99.5', freeUnits: '0' };
    expect(rateCharge(yen, usage('25'), jpy).amount).toEqual({ amount: '299', currency: 'JPY' });
    expect(rateCharge(yen, usage('25'), jpyEven).amount.amount).toBe('298');
  });

  it('refuses an empty package', () => {
    expect(() => rateCharge({ ...charge, packageSize: '0' }, usage('1'), usd)).toThrow(
      /packageSize must be greater than 0/,
    );
  });
});

describe('percentage rating: a fee per event, clamped, summed exactly', () => {
  // 2.9 % + 0.30 per event, first event free, at least 0.50 and at most 10 per event
  const charge: PercentageCharge = {
    model: 'PERCENTAGE',
    rate: '0.029',
    fixedFeePerEvent: '0.30',
    freeEvents: 1,
    minPerEvent: '0.50',
    maxPerEvent: '10',
  };

  it('charges nothing without events', () => {
    const r = rateCharge(charge, events(), usd);
    expect(r.amount.amount).toBe('0.00');
    expect(r.quantity).toBe('0');
    expect(r.breakdown).toEqual([]);
    expect(r.explanation).toBe('0 events − 0 free = 0 billable: 0 USD');
  });

  it('charges nothing for events inside the free ones', () => {
    const r = rateCharge(charge, events('5000'), usd);
    expect(r.amount.amount).toBe('0.00');
    expect(r.billableQuantity).toBe('0');
  });

  it('frees the first events in time order, then raises, keeps or caps each fee', () => {
    // 100 free (first);
    // 5     → 5 × 0.029 + 0.30 = 0.445 < 0.50 → 0.50 (raised)
    // 10    → 0.29 + 0.30 = 0.59
    // 100   → 2.90 + 0.30 = 3.20
    // 1000  → 29 + 0.30 = 29.30 > 10 → 10 (capped)
    // total 0.50 + 0.59 + 3.20 + 10 = 14.29 (= 110 × 0.029 + 2 × 0.30 + 0.50 + 10 = 3.19 + 0.6 + 0.5 + 10)
    const r = rateCharge(charge, events('100', '5', '10', '100', '1000'), usd);
    expect(r.quantity).toBe('5');
    expect(r.billableQuantity).toBe('4');
    expect(r.exactAmount).toBe('14.29');
    expect(r.amount.amount).toBe('14.29');
    expect(r.breakdown).toEqual([
      { description: 'free events', units: '1', unitPrice: '0', amount: '0' },
      { description: '2.9 % of the amounts of 2 events', units: '110', unitPrice: '0.029', amount: '3.19' },
      { description: 'fixed fee per event', units: '2', unitPrice: '0.3', amount: '0.6' },
      { description: 'events raised to the minimum fee', units: '1', unitPrice: '0.5', amount: '0.5' },
      { description: 'events capped at the maximum fee', units: '1', unitPrice: '10', amount: '10' },
    ]);
    expect(r.explanation).toBe(
      '5 events − 1 free = 4 billable: 2.9 % × 110 USD + 2 × 0.3 USD fixed + 1 × 0.5 USD minimum + 1 × 10 USD maximum = 14.29 USD',
    );
  });

  it('leaves a fee exactly on the minimum or maximum as it is', () => {
    // 10 → 0.29 + 0.30 = 0.59 = min; 100 → 2.90 + 0.30 = 3.20 = max
    const r = rateCharge(
      { ...charge, freeEvents: 0, minPerEvent: '0.59', maxPerEvent: '3.2' },
      events('10', '100'),
      usd,
    );
    expect(r.exactAmount).toBe('3.79');
    expect(r.breakdown.map((s) => s.description)).toEqual(['2.9 % of the amounts of 2 events', 'fixed fee per event']);
  });

  it('raises to the minimum before capping at the maximum, so the cap wins if min > max slips through', () => {
    // 1 × 0.029 = 0.029 → raised to 5 → capped to 2
    const r = rateCharge({ model: 'PERCENTAGE', rate: '0.029', minPerEvent: '5', maxPerEvent: '2' }, events('1'), usd);
    expect(r.exactAmount).toBe('2');
  });

  it('sums exact per-event fees and rounds once, not per event', () => {
    // 0.2 × 0.025 = 0.005 per event (would be 0.01 each if rounded per event); 0.005 + 0.005 = 0.01
    const r = rateCharge({ model: 'PERCENTAGE', rate: '0.025' }, events('0.2', '0.2'), usd);
    expect(r.exactAmount).toBe('0.01');
    expect(r.amount.amount).toBe('0.01');
  });

  it('handles fractional amounts and rounds on a tie with the legal entity mode', () => {
    // 12.345 × 0.029 = 0.358005 → 0.36
    expect(rateCharge({ model: 'PERCENTAGE', rate: '0.029' }, events('12.345'), usd).exactAmount).toBe('0.358005');
    // 5 × 0.025 = 0.125 → 0.13 half-up, 0.12 half-even
    const tie: PercentageCharge = { model: 'PERCENTAGE', rate: '0.025' };
    expect(rateCharge(tie, events('5'), usd).amount.amount).toBe('0.13');
    expect(rateCharge(tie, events('5'), usdEven).amount.amount).toBe('0.12');
    expect(rateCharge(tie, events('5'), usd).explanation).toBe(
      '1 event − 0 free = 1 billable: 2.5 % × 5 USD = 0.125 USD → rounded half-up to 0.13',
    );
  });

  it('rounds to whole yen', () => {
    // 1250 × 0.036 + 999 × 0.036 = 45 + 35.964 = 80.964 → 81
    expect(rateCharge({ model: 'PERCENTAGE', rate: '0.036' }, events('1250', '999'), jpy).amount).toEqual({
      amount: '81',
      currency: 'JPY',
    });
  });

  it('needs the events, not just a quantity', () => {
    expect(() => rateCharge(charge, usage('3'), usd)).toThrow(/pass usage.events/);
    expect(() => rateCharge(charge, events('1', '1e3'), usd)).toThrow(/events\[1\].amount/);
  });
});

describe('minimum commitment true-up', () => {
  const commitment = { minimum: '100', currency: 'USD', rounding: 'HALF_UP' as const };

  it('bills the shortfall of a full period', () => {
    // 100 − 42.10 = 57.90
    expect(commitmentTrueUp(commitment, money('42.10', 'USD'), '1')).toEqual({
      amount: { amount: '57.90', currency: 'USD' },
      explanation: 'minimum commitment 100 USD − 42.10 USD rated usage = 57.90 USD true-up',
    });
  });

  it('owes nothing when usage reaches the minimum', () => {
    expect(commitmentTrueUp(commitment, money('100', 'USD'), '1')).toBeNull();
    expect(commitmentTrueUp(commitment, money('100.01', 'USD'), '1')).toBeNull();
  });

  it('prorates the minimum and rounds it once', () => {
    // 100 × 10/31 = 32.258064… → 32.26; 32.26 − 20.00 = 12.26
    const t = commitmentTrueUp(commitment, money('20', 'USD'), '10/31');
    expect(t?.amount).toEqual({ amount: '12.26', currency: 'USD' });
    expect(t?.explanation).toBe(
      'minimum commitment 100 USD × 10/31 of the period = 32.2580645161… USD → rounded half-up to 32.26 − 20.00 USD rated usage = 12.26 USD true-up',
    );
    // 100 × 10/31 = 32.26 ≤ 32.26 rated: nothing owed
    expect(commitmentTrueUp(commitment, money('32.26', 'USD'), '10/31')).toBeNull();
    // nothing committed for a period the subscription never covered
    expect(commitmentTrueUp(commitment, money('0', 'USD'), '0')).toBeNull();
  });

  it('rounds a prorated tie with the legal entity mode', () => {
    // 0.25 × 1/2 = 0.125 → 0.13 half-up, 0.12 half-even
    expect(
      commitmentTrueUp({ minimum: '0.25', currency: 'USD', rounding: 'HALF_UP' }, money('0', 'USD'), '1/2')?.amount
        .amount,
    ).toBe('0.13');
    expect(
      commitmentTrueUp({ minimum: '0.25', currency: 'USD', rounding: 'HALF_EVEN' }, money('0', 'USD'), '1/2')?.amount
        .amount,
    ).toBe('0.12');
  });

  it('rounds to whole yen', () => {
    // 1000 × 1/3 = 333.33… → 333; 333 − 100 = 233
    expect(
      commitmentTrueUp({ minimum: '1000', currency: 'JPY', rounding: 'HALF_UP' }, money('100', 'JPY'), '1/3')?.amount,
    ).toEqual({ amount: '233', currency: 'JPY' });
  });

  it('refuses a total in another currency or a factor above 1', () => {
    expect(() => commitmentTrueUp(commitment, money('1', 'EUR'), '1')).toThrow(/EUR total/);
    expect(() => commitmentTrueUp(commitment, money('1', 'USD'), '32/31')).toThrow(/from 0 to 1/);
  });
});

describe('rating properties across models', () => {
  const decimal = (max: number, scale: number) =>
    fc.integer({ min: 0, max }).map((n) => new Dec(n).dividedBy(10 ** scale).toFixed());
  const positive = (max: number, scale: number) =>
    fc.integer({ min: 1, max }).map((n) => new Dec(n).dividedBy(10 ** scale).toFixed());
  const quantity = decimal(50_000_000, 3);
  const rules = fc.record({
    currency: fc.constantFrom('USD', 'JPY', 'KWD'),
    rounding: fc.constantFrom('HALF_UP' as const, 'HALF_EVEN' as const),
  });

  /** Tiers from widths (positive) and prices; the last tier is open-ended. */
  const toTiers = (steps: Array<{ width: string; unitPrice: string; flatFee?: string }>): Tier[] => {
    let upTo = new Dec(0);
    return steps.map((s, i) => {
      upTo = upTo.plus(s.width);
      const tier: Tier = { upTo: i === steps.length - 1 ? null : upTo.toFixed(), unitPrice: s.unitPrice };
      return s.flatFee === undefined ? tier : { ...tier, flatFee: s.flatFee };
    });
  };
  const step = (withFlatFee: boolean) =>
    fc.record({
      width: positive(2_000_000, 2),
      unitPrice: decimal(100_000, 5),
      ...(withFlatFee ? { flatFee: fc.option(decimal(10_000, 2), { nil: undefined }) } : {}),
    });
  const tiersArb = fc.array(step(true), { minLength: 1, maxLength: 5 }).map(toTiers);
  const sortedPrices = (order: 'ascending' | 'descending') =>
    fc.array(step(false), { minLength: 1, maxLength: 5 }).map((steps) => {
      const prices = steps
        .map((s) => s.unitPrice)
        .sort((a, b) => new Dec(a).comparedTo(b) * (order === 'ascending' ? 1 : -1));
      return toTiers(steps.map((s, i) => ({ width: s.width, unitPrice: prices[i]! })));
    });

  const chargeArb: fc.Arbitrary<ChargeModel> = fc.oneof(
    fc.record({
      model: fc.constant('PER_UNIT' as const),
      unitPrice: decimal(100_000, 5),
      includedQuantity: decimal(1_000_000, 2),
    }),
    tiersArb.map((t): ChargeModel => ({ model: 'GRADUATED', tiers: t })),
    tiersArb.map((t): ChargeModel => ({ model: 'VOLUME', tiers: t })),
    tiersArb.map((t): ChargeModel => ({
      model: 'GRADUATED_PERCENTAGE',
      tiers: t.map(({ unitPrice, ...rest }) => ({ ...rest, rate: unitPrice })),
    })),
    fc
      .tuple(
        positive(10_000, 1),
        fc.array(
          fc.record({
            blocks: fc.integer({ min: 1, max: 1_000 }),
            blockPrice: decimal(1_000_000, 3),
            flatFee: fc.option(decimal(10_000, 2), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
      )
      .map(([size, steps]): ChargeModel => {
        let upTo = new Dec(0);
        return {
          model: 'TIERED_BLOCKS',
          blockSize: size,
          tiers: steps.map((s, i) => {
            upTo = upTo.plus(new Dec(size).times(s.blocks));
            const tier = { upTo: i === steps.length - 1 ? null : upTo.toFixed(), blockPrice: s.blockPrice };
            return s.flatFee === undefined ? tier : { ...tier, flatFee: s.flatFee };
          }),
        };
      }),
    fc.record({
      model: fc.constant('PACKAGE' as const),
      packageSize: positive(100_000, 1),
      packagePrice: decimal(1_000_000, 3),
      freeUnits: decimal(100_000, 1),
    }),
    fc
      .record({
        model: fc.constant('PERCENTAGE' as const),
        rate: decimal(1_000, 3),
        fixedFeePerEvent: fc.option(decimal(1_000, 3), { nil: undefined }),
        freeEvents: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
        minPerEvent: fc.option(decimal(100, 2), { nil: undefined }),
        maxPerEvent: fc.option(
          decimal(100_000, 2).map((v) => new Dec(v).plus(1).toFixed()),
          { nil: undefined },
        ),
      })
      .map(
        (c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as unknown as PercentageCharge,
      ),
  );
  const usageArb: fc.Arbitrary<UsageForRating> = fc.record({
    quantity,
    events: fc.array(
      decimal(10_000_000, 2).map((amount) => ({ amount })),
      { maxLength: 12 },
    ),
  });

  it('graduated equals each tier’s units × price plus the flat fees of touched tiers', () => {
    fc.assert(
      fc.property(tiersArb, quantity, (t, q) => {
        let expected = new Dec(0);
        let lower = new Dec(0);
        for (const tier of t) {
          const upper = tier.upTo === null ? new Dec(q) : Dec.min(q, tier.upTo);
          if (upper.gt(lower))
            expected = expected.plus(upper.minus(lower).times(tier.unitPrice)).plus(tier.flatFee ?? 0);
          if (tier.upTo !== null) lower = new Dec(tier.upTo);
        }
        // Zero usage sits in the first tier, so its flat fee is billed (the default convention).
        if (new Dec(q).isZero()) expected = new Dec(t[0]!.flatFee ?? 0);
        expect(rateCharge({ model: 'GRADUATED', tiers: t }, usage(q), usd).exactAmount).toBe(expected.toFixed());
      }),
    );
  });

  it('graduated is never below volume when tier prices do not increase and there are no flat fees', () => {
    fc.assert(
      fc.property(sortedPrices('descending'), quantity, rules, (t, q, r) => {
        const graduated = rateCharge({ model: 'GRADUATED', tiers: t }, usage(q), r);
        const volume = rateCharge({ model: 'VOLUME', tiers: t }, usage(q), r);
        expect(new Dec(graduated.exactAmount).gte(volume.exactAmount)).toBe(true);
        expect(new Dec(graduated.amount.amount).gte(volume.amount.amount)).toBe(true);
      }),
    );
  });

  it('graduated, volume and per-unit agree when every tier has the same price', () => {
    fc.assert(
      fc.property(
        fc.array(positive(2_000_000, 2), { minLength: 1, maxLength: 5 }),
        decimal(100_000, 5),
        quantity,
        rules,
        (widths, price, q, r) => {
          const t = toTiers(widths.map((width) => ({ width, unitPrice: price })));
          const perUnit = rateCharge({ model: 'PER_UNIT', unitPrice: price, includedQuantity: '0' }, usage(q), r);
          for (const model of ['GRADUATED', 'VOLUME'] as const) {
            const tiered = rateCharge({ model, tiers: t }, usage(q), r);
            expect(tiered.exactAmount).toBe(perUnit.exactAmount);
            expect(tiered.amount).toEqual(perUnit.amount);
          }
        },
      ),
    );
  });

  it('never charges less when usage grows (graduated, per-unit, package)', () => {
    const monotone: fc.Arbitrary<ChargeModel> = fc.oneof(
      tiersArb.map((t): ChargeModel => ({ model: 'GRADUATED', tiers: t })),
      fc.record({
        model: fc.constant('PER_UNIT' as const),
        unitPrice: decimal(100_000, 5),
        includedQuantity: decimal(1_000_000, 2),
      }),
      fc.record({
        model: fc.constant('PACKAGE' as const),
        packageSize: positive(100_000, 1),
        packagePrice: decimal(1_000_000, 3),
        freeUnits: decimal(100_000, 1),
      }),
    );
    fc.assert(
      fc.property(monotone, quantity, quantity, rules, (charge, a, b, r) => {
        const [low, high] = new Dec(a).lte(b) ? [a, b] : [b, a];
        expect(
          new Dec(rateCharge(charge, usage(high), r).amount.amount).gte(
            rateCharge(charge, usage(low), r).amount.amount,
          ),
        ).toBe(true);
      }),
    );
  });

  it('volume never charges less when usage grows and prices and flat fees do not decrease', () => {
    fc.assert(
      fc.property(sortedPrices('ascending'), quantity, quantity, (t, a, b) => {
        const [low, high] = new Dec(a).lte(b) ? [a, b] : [b, a];
        const charge: VolumeCharge = { model: 'VOLUME', tiers: t };
        expect(
          new Dec(rateCharge(charge, usage(high), usd).exactAmount).gte(
            rateCharge(charge, usage(low), usd).exactAmount,
          ),
        ).toBe(true);
      }),
    );
  });

  it('zero usage bills only the first tier’s flat fee, and nothing at all when the charge says NOT_BILLED', () => {
    fc.assert(
      fc.property(chargeArb, rules, (charge, r) => {
        const zero = { quantity: '0', events: [] };
        const firstFee = 'tiers' in charge ? (charge.tiers[0]!.flatFee ?? '0') : '0';
        expect(rateCharge(charge, zero, r).exactAmount).toBe(new Dec(firstFee).toFixed());
        if ('tiers' in charge) {
          const optedOut = { ...charge, flatFeeAtZeroUsage: 'NOT_BILLED' as const };
          expect(new Dec(rateCharge(optedOut, zero, r).amount.amount).isZero()).toBe(true);
        }
      }),
    );
  });

  it('explains every amount: breakdown steps read units × unit price and add up to the exact amount', () => {
    fc.assert(
      fc.property(chargeArb, usageArb, rules, (charge, u, r) => {
        const rated = rateCharge(charge, u, r);
        let sum = new Dec(0);
        for (const s of rated.breakdown) {
          expect(new Dec(s.units).times(s.unitPrice).toFixed()).toBe(new Dec(s.amount).toFixed());
          sum = sum.plus(s.amount);
        }
        expect(sum.toFixed()).toBe(rated.exactAmount);
        expect(rated.amount).toEqual(money(roundToMinorUnit(rated.exactAmount, r.currency, r.rounding), r.currency));
      }),
    );
  });

  it('never creates or loses a minor unit between the rounded lines and their total', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(chargeArb, usageArb), { minLength: 1, maxLength: 8 }), rules, (lines, r) => {
        const rated = lines.map(([charge, u]) => rateCharge(charge, u, r));
        const total = sumMoney(
          rated.map((l) => l.amount),
          r.currency,
        );
        expect(toMinorUnits(total)).toBe(rated.reduce((acc, l) => acc + toMinorUnits(l.amount), 0n));
        const halfMinor = new Dec(10).pow(-minorDigits(r.currency)).dividedBy(2);
        for (const l of rated) expect(new Dec(l.amount.amount).minus(l.exactAmount).abs().lte(halfMinor)).toBe(true);
        const exactTotal = rated.reduce((acc, l) => acc.plus(l.exactAmount), new Dec(0));
        expect(new Dec(total.amount).minus(exactTotal).abs().lte(halfMinor.times(rated.length))).toBe(true);
      }),
    );
  });

  it('bills exactly the larger of rated usage and the rounded prorated minimum', () => {
    fc.assert(
      fc.property(
        decimal(10_000_000, 3),
        decimal(10_000_000, 2),
        fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: 0, max: 31 }),
        rules,
        (minimum, rated, days, active, r) => {
          const factor = `${Math.min(active, days)}/${days}`;
          const total = money(roundToMinorUnit(rated, r.currency, r.rounding), r.currency);
          const trueUp = commitmentTrueUp({ minimum, ...r }, total, factor);
          const committed = prorateAmount(minimum, factor, r.currency, r.rounding);
          const billed = toMinorUnits(total) + (trueUp ? toMinorUnits(trueUp.amount) : 0n);
          const larger = toMinorUnits(committed) > toMinorUnits(total) ? toMinorUnits(committed) : toMinorUnits(total);
          expect(billed).toBe(larger);
          if (trueUp) expect(toMinorUnits(trueUp.amount) > 0n).toBe(true);
        },
      ),
    );
  });

  it('keeps every percentage fee between the minimum and the maximum', () => {
    fc.assert(
      fc.property(
        decimal(1_000, 3),
        decimal(1_000, 2),
        decimal(1_000, 2),
        decimal(1_000, 2),
        usageArb,
        (rate, fixed, low, spread, u) => {
          const maximum = new Dec(low).plus(spread).toFixed();
          const rated = rateCharge(
            { model: 'PERCENTAGE', rate, fixedFeePerEvent: fixed, minPerEvent: low, maxPerEvent: maximum },
            u,
            usd,
          );
          const billable = new Dec(rated.billableQuantity);
          expect(new Dec(rated.exactAmount).gte(billable.times(low))).toBe(true);
          expect(new Dec(rated.exactAmount).lte(billable.times(maximum))).toBe(true);
          expect(rated.quantity).toBe(String(u.events?.length));
        },
      ),
    );
  });

  it('rates the same inputs to the same result, without touching them', () => {
    const deepFreeze = <T>(value: T): T => {
      if (typeof value === 'object' && value !== null) {
        Object.values(value).forEach(deepFreeze);
        Object.freeze(value);
      }
      return value;
    };
    fc.assert(
      fc.property(chargeArb, usageArb, rules, (charge, u, r) => {
        const before = JSON.stringify([charge, u]);
        const first = rateCharge(deepFreeze(charge), deepFreeze(u), r);
        const second = rateCharge(charge, u, r);
        expect(second).toEqual(first);
        expect(JSON.stringify(second)).toBe(JSON.stringify(first));
        expect(JSON.stringify([charge, u])).toBe(before);
      }),
    );
  });
});
