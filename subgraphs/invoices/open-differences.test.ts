import fc from 'fast-check';
import { fromMinorUnits, money } from '../../lib/money';
import { openDifferences, type Correction } from './open-differences';

const usd = (a: string) => money(a, 'USD');
const invoiced = [
  { lineKey: 'USAGE:api', invoiceLineId: 'inv-l1', ratedChargeId: 'rc-api-1', amount: usd('160.49') },
  { lineKey: 'COMMITMENT', invoiceLineId: 'inv-l2', ratedChargeId: 'rc-com-1', amount: usd('39.51') },
];

describe('the open difference of an invoice line', () => {
  it('is current − invoiced, once per line, however often the line was re-rated', () => {
    // Late usage lifts api to 190.58 and the commitment true-up falls to 9.42 … then terms change: api 160.49 again.
    const first = openDifferences(
      invoiced,
      [
        { lineKey: 'USAGE:api', ratedChargeId: 'rc-api-2', voided: false, amount: usd('190.58') },
        { lineKey: 'COMMITMENT', ratedChargeId: 'rc-com-2', voided: false, amount: usd('9.42') },
      ],
      [],
      'USD',
    );
    expect(first.map((d) => [d.lineKey, d.difference.amount])).toEqual([
      ['COMMITMENT', '-30.09'],
      ['USAGE:api', '30.09'],
    ]);
    const second = openDifferences(
      invoiced,
      [
        { lineKey: 'USAGE:api', ratedChargeId: 'rc-api-3', voided: false, amount: usd('160.49') },
        { lineKey: 'COMMITMENT', ratedChargeId: 'rc-com-3', voided: true, amount: usd('0.00') },
      ],
      [],
      'USD',
    );
    // Not −160.49 beside −30.09: one difference per line, against what was invoiced.
    expect(second.map((d) => [d.lineKey, d.difference.amount, d.currentRatedChargeId])).toEqual([
      ['COMMITMENT', '-39.51', null],
      ['USAGE:api', '0.00', 'rc-api-3'],
    ]);
  });

  it('subtracts what notes already corrected, and counts a line the invoice did not have', () => {
    const corrections: Correction[] = [{ lineKey: 'COMMITMENT', slotId: 'inv#1', signed: usd('-30.09') }];
    const d = openDifferences(
      invoiced,
      [
        { lineKey: 'COMMITMENT', ratedChargeId: 'rc-com-2', voided: false, amount: usd('9.42') },
        { lineKey: 'FEE:support', ratedChargeId: 'rc-fee-1', voided: false, amount: usd('10.00') },
      ],
      corrections,
      'USD',
    );
    expect(d.map((x) => [x.lineKey, x.difference.amount, x.corrected.amount, x.invoiceLineId, x.slotIds])).toEqual([
      ['COMMITMENT', '0.00', '-30.09', 'inv-l2', ['inv#1']],
      ['FEE:support', '10.00', '0.00', null, []],
    ]);
  });

  it('always leaves invoiced + corrected + open = current, to the cent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.integer({ min: -500_000, max: 500_000 }), { maxLength: 4 }),
        (billed, now, notes) => {
          const [d] = openDifferences(
            [{ lineKey: 'L', invoiceLineId: 'l1', ratedChargeId: 'a', amount: fromMinorUnits(BigInt(billed), 'USD') }],
            [{ lineKey: 'L', ratedChargeId: 'b', voided: false, amount: fromMinorUnits(BigInt(now), 'USD') }],
            notes.map((n, i) => ({ lineKey: 'L', slotId: `s${i}`, signed: fromMinorUnits(BigInt(n), 'USD') })),
            'USD',
          );
          const cents = (m: { amount: string }) => Math.round(Number(m.amount) * 100);
          expect(cents(d!.invoiced) + cents(d!.corrected) + cents(d!.difference)).toBe(now);
        },
      ),
    );
  });
});
