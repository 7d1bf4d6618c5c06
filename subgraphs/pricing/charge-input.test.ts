import { zodProblems } from '../../lib/errors';
import { chargeModelInput } from './charge-input';
import { rateCharge } from './rating';

/** The issues of a rejected input, as path + message. */
function issues(input: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const result = chargeModelInput.safeParse(input);
  if (result.success) throw new Error(`expected ${JSON.stringify(input)} to be refused`);
  return result.error.issues.map(({ path, message }) => ({ path, message }));
}

const tiers = [
  { upTo: '100', unitPrice: '0.10' },
  { upTo: '1000.0', unitPrice: '0.080', flatFee: '5.00' },
  { upTo: null, unitPrice: '0.05', flatFee: null },
];

describe('charge definitions that are accepted', () => {
  it('reads a per-unit charge, defaulting the model and the included quantity, with canonical decimals', () => {
    expect(chargeModelInput.parse({ unitPrice: '0.00040' })).toEqual({
      model: 'PER_UNIT',
      unitPrice: '0.0004',
      includedQuantity: '0',
    });
    expect(chargeModelInput.parse({ model: 'PER_UNIT', unitPrice: '1', includedQuantity: '1000.000' })).toEqual({
      model: 'PER_UNIT',
      unitPrice: '1',
      includedQuantity: '1000',
    });
  });

  it('reads graduated and volume tiers, dropping absent flat fees', () => {
    const expected = [
      { upTo: '100', unitPrice: '0.1' },
      { upTo: '1000', unitPrice: '0.08', flatFee: '5' },
      { upTo: null, unitPrice: '0.05' },
    ];
    const graduated = chargeModelInput.parse({ model: 'GRADUATED', tiers });
    expect(graduated).toEqual({ model: 'GRADUATED', tiers: expected });
    expect(JSON.stringify(graduated)).not.toContain('flatFee":null');
    expect(chargeModelInput.parse({ model: 'VOLUME', tiers: [{ upTo: null, unitPrice: '0.5' }] })).toEqual({
      model: 'VOLUME',
      tiers: [{ upTo: null, unitPrice: '0.5' }],
    });
  });

  it('reads a package charge with free units defaulting to 0', () => {
    expect(chargeModelInput.parse({ model: 'PACKAGE', packageSize: '100', packagePrice: '5.00' })).toEqual({
      model: 'PACKAGE',
      packageSize: '100',
      packagePrice: '5',
      freeUnits: '0',
    });
  });

  it('reads a percentage charge, leaving unset options out', () => {
    expect(
      chargeModelInput.parse({
        model: 'PERCENTAGE',
        rate: '0.0290',
        fixedFeePerEvent: '0.30',
        freeEvents: 10,
        minPerEvent: '0.50',
        maxPerEvent: '0.50',
      }),
    ).toEqual({
      model: 'PERCENTAGE',
      rate: '0.029',
      fixedFeePerEvent: '0.3',
      freeEvents: 10,
      minPerEvent: '0.5',
      maxPerEvent: '0.5',
    });
    const minimal = chargeModelInput.parse({
      model: 'PERCENTAGE',
      rate: '1',
      fixedFeePerEvent: null,
      freeEvents: null,
    });
    expect(minimal).toEqual({ model: 'PERCENTAGE', rate: '1' });
    expect(Object.keys(minimal)).toEqual(['model', 'rate']);
  });

  it('produces charges the rating engine prices', () => {
    // 101 units: 100 × 0.1 + 1 × 0.08 + 5 = 15.08
    const charge = chargeModelInput.parse({ model: 'GRADUATED', tiers });
    expect(rateCharge(charge, { quantity: '101' }, { currency: 'USD', rounding: 'HALF_UP' }).amount.amount).toBe(
      '15.08',
    );
  });
});

describe('charge definitions that are refused, with what would be accepted', () => {
  it('names the models when the model is unknown', () => {
    expect(issues({ model: 'TIERED', unitPrice: '1' })).toEqual([
      {
        path: ['model'],
        message:
          'is not a charge model; expected one of PER_UNIT, GRADUATED, VOLUME, PACKAGE, PERCENTAGE, GRADUATED_PERCENTAGE, TIERED_BLOCKS, DYNAMIC',
      },
    ]);
  });

  it('refuses JSON numbers, exponents and negative amounts', () => {
    expect(issues({ unitPrice: 0.5 })).toEqual([
      {
        path: ['unitPrice'],
        message:
          'must be a decimal number written as a string, e.g. "0.0004" (a JSON number is refused: floats are not exact)',
      },
    ]);
    expect(issues({ unitPrice: '1e-3' })).toEqual([
      {
        path: ['unitPrice'],
        message:
          'is not a decimal number; expected digits with an optional fraction, e.g. "12" or "0.0004" (no exponent, sign or spaces)',
      },
    ]);
    expect(issues({ unitPrice: '-0.5' })).toEqual([
      { path: ['unitPrice'], message: 'must not be negative; expected a decimal of 0 or more' },
    ]);
    expect(issues({ model: 'PACKAGE', packageSize: '10', packagePrice: '5', freeUnits: ' 1' })[0]?.path).toEqual([
      'freeUnits',
    ]);
  });

  it('needs at least one tier', () => {
    expect(issues({ model: 'GRADUATED', tiers: [] })).toEqual([
      { path: ['tiers'], message: 'needs at least one tier; expected e.g. [{ upTo: null, unitPrice: "0.01" }]' },
    ]);
    expect(issues({ model: 'VOLUME' })).toEqual([
      { path: ['tiers'], message: 'must be a list of tiers, each { upTo, unitPrice, flatFee? }' },
    ]);
  });

  it('needs strictly ascending upper bounds, starting above 0', () => {
    expect(
      issues({
        model: 'GRADUATED',
        tiers: [
          { upTo: '100', unitPrice: '1' },
          { upTo: '100.0', unitPrice: '1' },
          { upTo: null, unitPrice: '1' },
        ],
      }),
    ).toEqual([
      {
        path: ['tiers', 1, 'upTo'],
        message: "is 100; expected greater than the previous tier's upTo (100), bounds strictly ascending",
      },
    ]);
    expect(
      issues({
        model: 'VOLUME',
        tiers: [
          { upTo: '0', unitPrice: '1' },
          { upTo: null, unitPrice: '1' },
        ],
      }),
    ).toEqual([{ path: ['tiers', 0, 'upTo'], message: 'is 0; expected greater than 0' }]);
  });

  it('allows only the last tier to be open-ended, and requires it to be', () => {
    expect(
      issues({
        model: 'GRADUATED',
        tiers: [
          { upTo: null, unitPrice: '1' },
          { upTo: null, unitPrice: '2' },
        ],
      }),
    ).toEqual([
      {
        path: ['tiers', 0, 'upTo'],
        message:
          'only the last tier may be open-ended; expected a decimal upper bound here, or remove the tiers after it',
      },
    ]);
    expect(
      issues({
        model: 'GRADUATED',
        tiers: [
          { upTo: '10', unitPrice: '1' },
          { upTo: '20', unitPrice: '2' },
        ],
      }),
    ).toEqual([
      {
        path: ['tiers', 1, 'upTo'],
        message: 'the last tier must be open-ended; expected null here (every usage above 10 needs a price)',
      },
    ]);
    expect(issues({ model: 'GRADUATED', tiers: [{ unitPrice: '1' }] })).toEqual([
      {
        path: ['tiers', 0, 'upTo'],
        message: 'must be a decimal string such as "1000", or null on the last tier (no upper bound)',
      },
    ]);
  });

  it('reports a bad tier field without checking the bounds of a half-read list', () => {
    expect(
      issues({
        model: 'GRADUATED',
        tiers: [
          { upTo: 'ten', unitPrice: '1' },
          { upTo: null, unitPrice: '-1' },
        ],
      }),
    ).toEqual([
      {
        path: ['tiers', 0, 'upTo'],
        message: 'must be a decimal string such as "1000", or null on the last tier (no upper bound)',
      },
      { path: ['tiers', 1, 'unitPrice'], message: 'must not be negative; expected a decimal of 0 or more' },
    ]);
  });

  it('needs a package of more than 0 units', () => {
    expect(issues({ model: 'PACKAGE', packageSize: '0', packagePrice: '5' })).toEqual([
      { path: ['packageSize'], message: 'must be greater than 0; expected a positive decimal, e.g. "1000"' },
    ]);
  });

  it('needs a rate from 0 to 1, a whole number of free events and a minimum no higher than the maximum', () => {
    expect(issues({ model: 'PERCENTAGE', rate: '2.9' })).toEqual([
      { path: ['rate'], message: 'must be a fraction from 0 to 1; expected e.g. "0.029" for 2.9 %' },
    ]);
    expect(issues({ model: 'PERCENTAGE', rate: '0.029', freeEvents: 1.5 })).toEqual([
      { path: ['freeEvents'], message: 'must be a whole number of events, 0 or more' },
    ]);
    expect(issues({ model: 'PERCENTAGE', rate: '0.029', freeEvents: -1 })).toEqual([
      { path: ['freeEvents'], message: 'must be a whole number of events, 0 or more' },
    ]);
    expect(issues({ model: 'PERCENTAGE', rate: '0.029', minPerEvent: '1.00', maxPerEvent: '0.5' })).toEqual([
      { path: ['maxPerEvent'], message: 'is 0.5; expected at least minPerEvent (1)' },
    ]);
  });

  it('gives the field path and reason through the VALIDATION_FAILED problems', () => {
    const result = chargeModelInput.safeParse({
      model: 'GRADUATED',
      tiers: [
        { upTo: '10', unitPrice: '1' },
        { upTo: '5', unitPrice: '1' },
        { upTo: null, unitPrice: '1' },
      ],
    });
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(zodProblems(result.error, 'input.charges[0]')).toEqual([
        {
          code: 'VALIDATION_FAILED',
          field: 'input.charges[0].tiers[1].upTo',
          reason: "is 5; expected greater than the previous tier's upTo (10), bounds strictly ascending",
        },
      ]);
    }
  });
});
