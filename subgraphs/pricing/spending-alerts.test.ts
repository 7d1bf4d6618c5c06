import type { RatedChargeDoc } from './store';
import { usageSoFar } from './spending-alerts';

const charge = (over: Partial<RatedChargeDoc>): RatedChargeDoc =>
  ({
    chargeKey: 'sub:2026-09:USAGE:calls',
    lineKey: 'USAGE:calls',
    revision: 1,
    kind: 'USAGE',
    voided: false,
    usageTypeKey: 'calls',
    quantity: '0',
    amount: { amount: '0.00', currency: 'USD' },
    ...over,
  }) as RatedChargeDoc;

describe('the usage a spending alert measures', () => {
  it("sums each line's latest revision of the usage type, leaving voided lines, fees and other types out", () => {
    const so = usageSoFar(
      [
        charge({ revision: 1, quantity: '60', amount: { amount: '0.60', currency: 'USD' } }),
        charge({ revision: 2, quantity: '110.5', amount: { amount: '1.11', currency: 'USD' } }),
        charge({ chargeKey: 'sub2:2026-09:USAGE:calls', quantity: '9.5', amount: { amount: '0.09', currency: 'USD' } }),
        charge({ chargeKey: 'sub3:2026-09:USAGE:calls', voided: true, quantity: '1000' }),
        charge({
          chargeKey: 'sub:2026-09:FEE:base',
          kind: 'FEE',
          usageTypeKey: null,
          amount: { amount: '99.00', currency: 'USD' },
        }),
        charge({ chargeKey: 'sub:2026-09:USAGE:gb', usageTypeKey: 'gb', quantity: '7' }),
      ],
      'calls',
    );
    // 110.5 + 9.5 = 120 calls; 1.11 + 0.09 = 1.20 USD — by hand.
    expect([so.quantity.toFixed(), so.amount.toFixed(2), so.currency]).toEqual(['120', '1.20', 'USD']);
  });

  it('is zero with no currency when nothing of the type was rated', () => {
    const so = usageSoFar([charge({ usageTypeKey: 'gb', quantity: '7' })], 'calls');
    expect([so.quantity.toFixed(), so.amount.toFixed(), so.currency]).toEqual(['0', '0', null]);
  });
});
