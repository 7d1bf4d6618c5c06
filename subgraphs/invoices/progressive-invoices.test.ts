import fc from 'fast-check';
import { fromMinorUnits, money, sumMoney, toMinorUnits, type Money } from '../../lib/money';
import {
  crossingToRecord,
  normalizeThresholds,
  thresholdAmount,
  type UsageThreshold,
} from '../pricing/usage-thresholds';
import { buildInvoiceLines, type ChargeForInvoice } from './invoice-lines';
import { billsSomething, withAlreadyBilled } from './progressive-invoices';
import type { InvoiceDoc } from './store';
import { computeTax, type TaxRoundingLevel } from './tax/compute';

const charge = (
  id: string,
  productLine: string,
  amount: string,
  kind: 'USAGE' | 'FEE' = 'USAGE',
): ChargeForInvoice => ({
  id,
  kind,
  lineKey: `${kind}:${productLine}`,
  usageTypeKey: kind === 'USAGE' ? `${productLine}.calls` : null,
  productLine,
  unit: 'call',
  quantity: amount,
  billableQuantity: amount,
  includedQuantity: '0',
  unitPrice: '1',
  amount: money(amount, 'USD'),
});

/** An invoice as draftInvoice composes it: lines, tax per line (the tax table's arithmetic), then the deduction. */
function draft(
  id: string,
  kind: 'FINAL' | 'PROGRESSIVE',
  charges: ChargeForInvoice[],
  latest: InvoiceDoc | null,
  tax: { ratePercent: string; level: TaxRoundingLevel },
  thresholdIndex = 0,
): InvoiceDoc {
  const { lines } = buildInvoiceLines(id, 'USD', charges);
  const taxed = computeTax(
    lines.map((l) => ({
      lineId: l.id,
      amount: l.amount,
      rates: [{ jurisdiction: 'XX', name: 'VAT', ratePercent: tax.ratePercent }],
    })),
    'USD',
    { mode: 'HALF_UP', level: tax.level },
  );
  const taxesOf = new Map(taxed.lines.map((l) => [l.lineId, l.taxes]));
  for (const line of lines) line.taxes = taxesOf.get(line.id) ?? [];
  const billed = withAlreadyBilled(
    id,
    'USD',
    lines,
    taxed.taxLines.map(({ lineIds: _ids, ...t }) => t),
    latest,
  );
  return {
    _id: id,
    status: 'FINALIZED',
    number: `N-${id}`,
    customerId: 'c',
    subscriptionId: 's',
    legalEntityCode: 'DEFAULT',
    periodKey: '2026-10',
    currency: 'USD',
    lines: billed.lines,
    subtotal: billed.subtotal,
    taxLines: billed.taxLines,
    taxTotal: billed.taxTotal,
    total: sumMoney([billed.subtotal, billed.taxTotal], 'USD'),
    issueDate: '2026-10-15',
    finalizedAt: new Date(),
    kind,
    alreadyBilled: billed.alreadyBilled,
    usageThreshold:
      kind === 'PROGRESSIVE' ? { crossingId: id, index: thresholdIndex, amount: '0', accrued: '0' } : null,
    createdAt: new Date(),
    updatedAt: new Date(),
    correlationId: 't',
  };
}

/** One period: usage accrues in steps; after each, the crossing rule and the issuing rule run as the subgraphs do. */
function billPeriod(
  thresholds: UsageThreshold[],
  steps: Array<Array<ChargeForInvoice>>,
  fees: ChargeForInvoice[],
  tax: { ratePercent: string; level: TaxRoundingLevel },
) {
  const progressive: InvoiceDoc[] = [];
  let last: { thresholdIndex: number; accrued: string } | null = null;
  for (const usage of steps) {
    const accrued = fromMinorUnits(
      usage.reduce((s, c) => s + toMinorUnits(c.amount), 0n),
      'USD',
    ).amount;
    const index = crossingToRecord(thresholds, accrued, last);
    if (index === null) continue;
    last = { thresholdIndex: index, accrued };
    const latest = progressive.at(-1) ?? null;
    if (!billsSomething(latest, index, usage)) continue;
    progressive.push(draft(`p${index}`, 'PROGRESSIVE', usage, latest, tax, index));
  }
  const full = [...(steps.at(-1) ?? []), ...fees];
  const final = draft('final', 'FINAL', full, progressive.at(-1) ?? null, tax);
  const whole = draft('whole', 'FINAL', full, null, tax);
  return { progressive, final, whole };
}

const minor = (m: Money | undefined) => toMinorUnits(m!);

describe('threshold (progressive) billing', () => {
  it('worked example: thresholds 100 and 250, usage 0 → 120 → 300, a fee of 30, tax 20%', () => {
    const thresholds = normalizeThresholds([
      { amount: '250', recurring: false },
      { amount: '100', recurring: false },
    ]);
    const { progressive, final } = billPeriod(
      thresholds,
      [[], [charge('r1', 'api', '120.00')], [charge('r2', 'api', '300.00')]],
      [charge('f1', 'platform', '30.00', 'FEE')],
      { ratePercent: '20', level: 'PER_LINE' },
    );
    // By hand: 120 crosses 100 → bills 120 (+24 tax); 300 crosses 250 → bills 300 − 120 = 180 (+36 tax).
    expect(progressive.map((p) => [p.usageThreshold!.index, p.subtotal!.amount, p.taxTotal!.amount])).toEqual([
      [0, '120.00', '24.00'],
      [1, '180.00', '36.00'],
    ]);
    expect(progressive[1]!.lines.map((l) => [l.description, l.amount.amount])).toEqual([
      ['api.calls: 300.00 call', '300.00'],
      ['Already billed on invoice N-p0: api.calls: 120.00 call', '-120.00'],
    ]);
    // The final invoice lists the full period (300 usage + 30 fee) and deducts the 300 already billed: 30 (+6 tax).
    expect(final.lines.map((l) => [l.kind, l.amount.amount, l.alreadyBilledInvoiceId ?? null])).toEqual([
      ['USAGE', '300.00', null],
      ['FEE', '30.00', null],
      ['USAGE', '-300.00', 'p1'],
    ]);
    expect([final.alreadyBilled!.amount, final.subtotal!.amount, final.taxTotal!.amount, final.total.amount]).toEqual([
      '300.00',
      '30.00',
      '6.00',
      '36.00',
    ]);
    expect(final.taxLines).toEqual([
      {
        jurisdiction: 'XX',
        name: 'VAT',
        ratePercent: '20',
        taxable: money('30', 'USD'),
        amount: money('6', 'USD'),
      },
    ]);
  });

  it('crosses both thresholds at once with one invoice, and a recurring threshold every 100 above 250', () => {
    const thresholds = normalizeThresholds([
      { amount: '100', recurring: false },
      { amount: '250', recurring: false },
      { amount: '100', recurring: true },
    ]);
    expect([2, 3].map((i) => thresholdAmount(thresholds, i)!.toFixed())).toEqual(['350', '450']);
    const { progressive } = billPeriod(
      thresholds,
      [[charge('a', 'api', '300.00')], [charge('b', 'api', '349.99')], [charge('c', 'api', '460.00')]],
      [],
      { ratePercent: '0', level: 'PER_LINE' },
    );
    expect(progressive.map((p) => [p.usageThreshold!.index, p.subtotal!.amount])).toEqual([
      [1, '300.00'],
      [3, '160.00'],
    ]);
  });

  it('never bills more than the full period, and final + progressive = full period, amounts and tax exactly', () => {
    const step = fc.record({ api: fc.integer({ min: 0, max: 40_000 }), storage: fc.integer({ min: 0, max: 40_000 }) });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 4 }),
        fc.option(fc.integer({ min: 1, max: 50_000 }), { nil: null }),
        fc.array(step, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.constantFrom('0', '7.25', '19', '20'),
        fc.constantFrom<TaxRoundingLevel>('PER_LINE', 'PER_INVOICE'),
        (fixed, recurring, increments, fee, ratePercent, level) => {
          const thresholds = normalizeThresholds([
            ...fixed.map((c) => ({ amount: fromMinorUnits(BigInt(c), 'USD').amount, recurring: false })),
            ...(recurring ? [{ amount: fromMinorUnits(BigInt(recurring), 'USD').amount, recurring: true }] : []),
          ]);
          // Usage only grows within a period: each step adds to the running totals per product line.
          let api = 0n;
          let storage = 0n;
          const steps = increments.map(({ api: a, storage: s }) => {
            api += BigInt(a);
            storage += BigInt(s);
            return [
              charge('api', 'api', fromMinorUnits(api, 'USD').amount),
              charge('storage', 'storage', fromMinorUnits(storage, 'USD').amount),
            ];
          });
          const fees = fee > 0 ? [charge('fee', 'platform', fromMinorUnits(BigInt(fee), 'USD').amount, 'FEE')] : [];
          const { progressive, final, whole } = billPeriod(thresholds, steps, fees, { ratePercent, level });
          const usageTotal = api + storage;
          const billed = progressive.reduce((s, p) => s + minor(p.subtotal), 0n);
          expect(billed <= usageTotal).toBe(true);
          for (const p of progressive) expect(minor(p.subtotal) > 0n).toBe(true);
          expect(minor(final.subtotal) + billed).toBe(minor(whole.subtotal));
          expect(minor(final.alreadyBilled)).toBe(billed);
          const taxBilled = progressive.reduce((s, p) => s + minor(p.taxTotal), 0n);
          expect(minor(final.taxTotal) + taxBilled).toBe(minor(whole.taxTotal));
          // Every document's tax lines add up to its line taxes.
          for (const doc of [...progressive, final]) {
            const lineTax = doc.lines.flatMap((l) => l.taxes ?? []).reduce((s, t) => s + minor(t.amount), 0n);
            expect(lineTax).toBe(minor(doc.taxTotal));
          }
        },
      ),
      { numRuns: 120 },
    );
  });
});
