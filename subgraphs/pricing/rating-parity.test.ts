// Worked examples, checked by hand, for the models and conventions shared with Lago, OpenMeter and Orb (issue 11).
import fc from 'fast-check';
import { Dec } from '../../lib/money';
import { rateCharge, type ChargeModel, type RatingRules } from './rating';
import { chargeAsStored, chargeModelInput } from './charge-input';

const usd: RatingRules = { currency: 'USD', rounding: 'HALF_UP' };
const usdEven: RatingRules = { currency: 'USD', rounding: 'HALF_EVEN' };
const jpy: RatingRules = { currency: 'JPY', rounding: 'HALF_UP' };
const jpyEven: RatingRules = { currency: 'JPY', rounding: 'HALF_EVEN' };

const rated = (charge: ChargeModel, quantity: string, rules = usd) => rateCharge(charge, { quantity }, rules);
const amount = (charge: ChargeModel, quantity: string, rules = usd) => rated(charge, quantity, rules).amount.amount;
const events = (charge: ChargeModel, amounts: string[], rules = usd) =>
  rateCharge(charge, { quantity: String(amounts.length), events: amounts.map((a) => ({ amount: a })) }, rules);

describe('a tier’s flat fee at zero usage (Lago and OpenMeter bill it; NOT_BILLED keeps the old convention)', () => {
  // Lago's own graduated spec: 0–10 at 0.10 + 0.02 flat, 11+ at 0.05 + 0.03 flat.
  const tiers = [
    { upTo: '10', unitPrice: '0.10', flatFee: '0.02' },
    { upTo: null, unitPrice: '0.05', flatFee: '0.03' },
  ];
  const graduated: ChargeModel = { model: 'GRADUATED', tiers };
  const volume: ChargeModel = { model: 'VOLUME', tiers };

  it('graduated: zero usage bills tier 1’s flat fee, as Lago does (0.02)', () => {
    const r = rated(graduated, '0');
    expect(r.exactAmount).toBe('0.02');
    expect(r.amount.amount).toBe('0.02');
    expect(r.breakdown).toEqual([
      { description: 'flat fee of tier 1, billed at zero usage', units: '1', unitPrice: '0.02', amount: '0.02' },
    ]);
  });

  it('graduated: one unit, the boundary and one past it match Lago (0.12, 1.02, 1.10)', () => {
    expect(amount(graduated, '1')).toBe('0.12'); // 1 × 0.10 + 0.02
    expect(amount(graduated, '10')).toBe('1.02'); // 10 × 0.10 + 0.02
    expect(amount(graduated, '11')).toBe('1.10'); // 1.02 + 1 × 0.05 + 0.03
  });

  it('volume: zero usage is in tier 1 and bills its flat fee; one past the boundary moves every unit', () => {
    expect(rated(volume, '0').exactAmount).toBe('0.02');
    expect(amount(volume, '10')).toBe('1.02'); // 10 × 0.10 + 0.02
    expect(amount(volume, '11')).toBe('0.58'); // 11 × 0.05 + 0.03
  });

  it('NOT_BILLED: zero usage reaches no tier and costs nothing, usage above zero is unchanged', () => {
    for (const charge of [graduated, volume]) {
      const optedOut = { ...charge, flatFeeAtZeroUsage: 'NOT_BILLED' } as ChargeModel;
      expect(rated(optedOut, '0').exactAmount).toBe('0');
      expect(rated(optedOut, '0').breakdown).toEqual([]);
      expect(amount(optedOut, '11')).toBe(amount(charge, '11'));
    }
  });

  it('rounds a fractional flat fee once, in both modes and in a zero-decimal currency', () => {
    const yen: ChargeModel = { model: 'GRADUATED', tiers: [{ upTo: null, unitPrice: '1', flatFee: '100.5' }] };
    expect(amount(yen, '0', jpy)).toBe('101');
    expect(amount(yen, '0', jpyEven)).toBe('100');
  });

  it('a charge written without the option gets BILLED where it matters; plans stored before keep NOT_BILLED', () => {
    const parsed = chargeModelInput.parse({ model: 'GRADUATED', tiers });
    expect(parsed).toMatchObject({ flatFeeAtZeroUsage: 'BILLED' });
    const noFlatFee = chargeModelInput.parse({ model: 'VOLUME', tiers: [{ upTo: null, unitPrice: '1' }] });
    expect(noFlatFee).not.toHaveProperty('flatFeeAtZeroUsage');
    // A stored plan without the field was made when zero usage cost nothing: re-rating it must not change that.
    expect(chargeAsStored(graduated)).toMatchObject({ flatFeeAtZeroUsage: 'NOT_BILLED' });
    expect(rated(chargeAsStored(graduated), '0').exactAmount).toBe('0');
  });
});

describe('graduated percentage: tiers of the summed amount, each with its rate and flat fee (Lago)', () => {
  const charge: ChargeModel = {
    model: 'GRADUATED_PERCENTAGE',
    tiers: [
      { upTo: '10000', rate: '0.01', flatFee: '2' },
      { upTo: null, rate: '0.005', flatFee: '3' },
    ],
  };

  it('bills tier 1’s flat fee at zero, or nothing with NOT_BILLED', () => {
    expect(amount(charge, '0')).toBe('2.00');
    expect(amount({ ...charge, flatFeeAtZeroUsage: 'NOT_BILLED' } as ChargeModel, '0')).toBe('0.00');
  });

  it('keeps the boundary in tier 1 and moves one cent past it into tier 2 with its flat fee', () => {
    expect(amount(charge, '10000')).toBe('102.00'); // 10000 × 1 % + 2
    const past = rated(charge, '10000.01'); // 102 + 0.01 × 0.5 % + 3 = 105.00005
    expect(past.exactAmount).toBe('105.00005');
    expect(past.amount.amount).toBe('105.00');
  });

  it('fills both tiers', () => {
    expect(amount(charge, '15000')).toBe('130.00'); // 100 + 2 + 5000 × 0.5 % + 3
  });

  it('rounds once on a tie with the legal entity’s mode, and to whole yen', () => {
    expect(rated(charge, '50.5').exactAmount).toBe('2.505'); // 50.5 × 1 % + 2
    expect(amount(charge, '50.5', usd)).toBe('2.51');
    expect(amount(charge, '50.5', usdEven)).toBe('2.50');
    const yen: ChargeModel = { model: 'GRADUATED_PERCENTAGE', tiers: [{ upTo: null, rate: '0.01' }] };
    expect(amount(yen, '1050', jpy)).toBe('11'); // 10.5
    expect(amount(yen, '1050', jpyEven)).toBe('10');
  });
});

describe('tiered blocks: graduated tiers priced per block of N units, a started block in full (Orb tiered package)', () => {
  const charge: ChargeModel = {
    model: 'TIERED_BLOCKS',
    blockSize: '10',
    tiers: [
      { upTo: '100', blockPrice: '5' },
      { upTo: null, blockPrice: '3' },
    ],
  };

  it('charges nothing at zero without a flat fee, one block for the first unit, a second block one unit past 10', () => {
    expect(amount(charge, '0')).toBe('0.00');
    expect(amount(charge, '1')).toBe('5.00');
    expect(amount(charge, '10')).toBe('5.00');
    expect(amount(charge, '11')).toBe('10.00');
  });

  it('fills tier 1 on its boundary and starts a tier 2 block one unit past it', () => {
    expect(amount(charge, '100')).toBe('50.00'); // 10 blocks × 5
    expect(amount(charge, '101')).toBe('53.00'); // + 1 block × 3
  });

  it('counts a fractional remainder as a started block', () => {
    expect(amount(charge, '125.5')).toBe('59.00'); // 50 + ⌈25.5 / 10⌉ = 3 blocks × 3
  });

  it('bills tier 1’s flat fee at zero usage, and rounds a tie in both modes', () => {
    const withFee: ChargeModel = { ...charge, tiers: [{ upTo: null, blockPrice: '0.625', flatFee: '1' }] };
    expect(amount(withFee, '0')).toBe('1.00');
    const tie: ChargeModel = { ...charge, tiers: [{ upTo: null, blockPrice: '0.625' }] };
    expect(amount(tie, '5', usd)).toBe('0.63');
    expect(amount(tie, '5', usdEven)).toBe('0.62');
  });

  it('refuses a tier bound that is not a whole number of blocks, naming the field', () => {
    const result = chargeModelInput.safeParse({
      model: 'TIERED_BLOCKS',
      blockSize: '10',
      blockTiers: [
        { upTo: '95', blockPrice: '5' },
        { upTo: null, blockPrice: '3' },
      ],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['blockTiers.0.upTo', 'is 95; expected a multiple of blockSize (10), so blocks never straddle two tiers'],
    ]);
  });
});

describe('percentage: free amount per period and the fixed fee on an event of zero amount', () => {
  const base = { model: 'PERCENTAGE' as const, rate: '0.02', fixedFeePerEvent: '0.30' };

  it('frees the first 100 of the summed amount in time order; an event straddling it pays on the rest (Lago: 5.10)', () => {
    // 60 free; 50 − 40 free = 10 × 2 % + 0.30 = 0.50; 0 pays the fixed fee 0.30; 200 × 2 % + 0.30 = 4.30.
    const r = events({ ...base, freeAmount: '100' }, ['60', '50', '0', '200']);
    expect(r.exactAmount).toBe('5.1');
    expect(r.amount.amount).toBe('5.10');
    expect(r.billableQuantity).toBe('3');
  });

  it('with free events too, the allowance ends when either runs out (Lago: 5.90)', () => {
    // One free event (60); then 50 × 2 % + 0.30 = 1.30; 0.30; 4.30.
    expect(events({ ...base, freeAmount: '100', freeEvents: 1 }, ['60', '50', '0', '200']).amount.amount).toBe('5.90');
  });

  it('an event of zero amount pays the fixed fee and minimum by default; WAIVED makes it free', () => {
    const charge = { ...base, minPerEvent: '0.50' };
    expect(events(charge, ['0', '0', '10']).amount.amount).toBe('1.50'); // 0.50 + 0.50 + (0.20 + 0.30)
    expect(events({ ...charge, fixedFeeOnZeroAmount: 'WAIVED' }, ['0', '0', '10']).amount.amount).toBe('0.50');
  });

  it('rounds a free-amount remainder once, in both modes and in whole yen', () => {
    const yen = { model: 'PERCENTAGE' as const, rate: '0.02', freeAmount: '675' };
    expect(events(yen, ['2000'], jpy).exactAmount).toBe('26.5'); // (2000 − 675) × 2 %
    expect(events(yen, ['2000'], jpy).amount.amount).toBe('27');
    expect(events(yen, ['2000'], jpyEven).amount.amount).toBe('26');
  });
});

describe('dynamic: each event carries its price, summed exactly and rounded once (Lago dynamic)', () => {
  const charge: ChargeModel = { model: 'DYNAMIC', priceField: 'price' };
  const dyn = (total: string, rules = usd) =>
    rateCharge(charge, { quantity: '3', fieldTotals: { price: total }, eventCount: 3 }, rules);

  it('sums to the cent, rounding the exact sum once in both modes and in yen', () => {
    expect(dyn('12.3456').amount.amount).toBe('12.35');
    expect(dyn('0.125', usd).amount.amount).toBe('0.13');
    expect(dyn('0.125', usdEven).amount.amount).toBe('0.12');
    expect(dyn('100.5', jpy).amount.amount).toBe('101');
    expect(dyn('100.5', jpyEven).amount.amount).toBe('100');
  });

  it('bills zero when nothing was used or refunds exceed charges', () => {
    expect(dyn('0').amount.amount).toBe('0.00');
    expect(dyn('-4.20').amount.amount).toBe('0.00');
  });
});

describe('properties of the new options', () => {
  const cents = (max: number) => fc.integer({ min: 0, max }).map((n) => new Dec(n).dividedBy(100).toFixed());
  const amounts = fc.array(cents(1_000_000), { maxLength: 12 });

  it('a free amount never raises a percentage charge, and a larger one never costs more', () => {
    fc.assert(
      fc.property(amounts, cents(100_000), cents(100_000), (list, a, b) => {
        const [small, large] = new Dec(a).lte(b) ? [a, b] : [b, a];
        const base = { model: 'PERCENTAGE' as const, rate: '0.029', fixedFeePerEvent: '0.30' };
        const none = new Dec(events(base, list).exactAmount);
        const withSmall = new Dec(events({ ...base, freeAmount: small }, list).exactAmount);
        const withLarge = new Dec(events({ ...base, freeAmount: large }, list).exactAmount);
        expect(withSmall.lte(none)).toBe(true);
        expect(withLarge.lte(withSmall)).toBe(true);
      }),
    );
  });

  it('BILLED and NOT_BILLED differ only at zero usage, by exactly the first tier’s flat fee', () => {
    fc.assert(
      fc.property(cents(100_000_000), cents(10_000), (q, fee) => {
        const tiers = [
          { upTo: '1000', unitPrice: '0.01', flatFee: fee },
          { upTo: null, unitPrice: '0.005', flatFee: '1' },
        ];
        for (const model of ['GRADUATED', 'VOLUME'] as const) {
          const billed = new Dec(rated({ model, tiers }, q).exactAmount);
          const not = new Dec(rated({ model, tiers, flatFeeAtZeroUsage: 'NOT_BILLED' }, q).exactAmount);
          expect(billed.minus(not).toFixed()).toBe(new Dec(q).isZero() ? new Dec(fee).toFixed() : '0');
        }
      }),
    );
  });
});
