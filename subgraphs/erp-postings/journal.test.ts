import fc from 'fast-check';
import { fromMinorUnits, money, sumMoney } from '../../lib/money';
import { assertBalanced, buildInvoiceEntry, totals, UnbalancedEntryError, type InvoiceForPosting } from './journal';

const invoice = (lines: Array<[string, string]>, currency = 'USD'): InvoiceForPosting => {
  return {
    id: 'inv_1',
    number: 'US01-2026-000007',
    issueDate: '2026-11-02',
    currency,
    total: sumMoney(
      lines.map(([, amount]) => money(amount, currency)),
      currency,
    ),
    periodKey: '2026-10',
    customer: { id: 'cus_1', externalKey: 'acme', name: 'Acme Inc' },
    lines: lines.map(([productLine, amount], i) => ({
      id: `inv_1-l${i + 1}`,
      productLine,
      amount: money(amount, currency),
    })),
  };
};

describe('the journal entry of a usage invoice', () => {
  it('debits receivables with the total and credits revenue per product line', () => {
    const entry = buildInvoiceEntry(
      invoice([
        ['api', '600.00'],
        ['storage', '400.00'],
        ['api', '0.01'],
      ]),
    );
    expect(entry.lines.map((l) => [l.account, l.side, l.amount.amount])).toEqual([
      ['assets:receivable', 'DEBIT', '1000.01'],
      ['revenue:usage:api', 'CREDIT', '600.01'],
      ['revenue:usage:storage', 'CREDIT', '400.00'],
    ]);
    expect(entry.lines[1]!.invoiceLineIds).toEqual(['inv_1-l1', 'inv_1-l3']);
    expect(entry.lines[2]!.dimensions).toContainEqual({ name: 'product', value: 'storage' });
    expect(entry.postingDate).toBe('2026-11-02');
    expect(entry.accountingPeriod).toBe('2026-11');
  });

  it('balances in a currency without minor units', () => {
    const entry = buildInvoiceEntry(invoice([['api', '15000']], 'JPY'));
    expect(totals(entry)).toEqual({ debits: 15000n, credits: 15000n });
  });

  it('refuses an entry one minor unit off', () => {
    const entry = buildInvoiceEntry(invoice([['api', '10.00']]));
    entry.lines[1] = { ...entry.lines[1]!, amount: money('9.99', 'USD') };
    expect(() => assertBalanced(entry)).toThrow(UnbalancedEntryError);
    expect(() => assertBalanced(entry)).toThrow('debits 10.00 ≠ credits 9.99 USD');
  });

  it('refuses a single-line entry and negative amounts', () => {
    const entry = buildInvoiceEntry(invoice([['api', '10.00']]));
    expect(() => assertBalanced({ ...entry, lines: entry.lines.slice(0, 1) })).toThrow(/at least two lines/);
    expect(() =>
      assertBalanced({ ...entry, lines: [entry.lines[0]!, { ...entry.lines[1]!, amount: money('-10.00', 'USD') }] }),
    ).toThrow(/negative/);
  });

  it('balances for any set of invoice lines', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('api', 'storage', 'ai'), fc.integer({ min: 0, max: 10_000_000 })), {
          minLength: 1,
          maxLength: 20,
        }),
        (lines) => {
          const entry = buildInvoiceEntry(
            invoice(lines.map(([p, cents]) => [p, fromMinorUnits(BigInt(cents), 'USD').amount])),
          );
          const { debits, credits } = totals(entry);
          expect(debits).toBe(credits);
          expect(debits).toBe(lines.reduce((s, [, c]) => s + BigInt(c), 0n));
        },
      ),
    );
  });
});
