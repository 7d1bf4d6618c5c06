import { money } from '../../lib/money';
import { DEFAULT_MAPPINGS, mappingsAt } from './mappings';
import {
  buildDocumentEntry,
  buildPrepaidCreditEntry,
  type DocumentForPosting,
  type PrepaidCreditForPosting,
} from './journal';
import type { AccountMappingDoc } from './store';

const lookup = mappingsAt(
  DEFAULT_MAPPINGS.map((m, i) => ({
    ...m,
    _id: `m${i}`,
    effectiveFrom: '1970-01-01',
    setAt: new Date(0),
    setBy: 'test',
    correlationId: 't',
  })) as AccountMappingDoc[],
  '2026-11-02',
).lookup;
const customer = { id: 'cus_1', externalKey: 'acme', name: 'Acme Inc' };
const lines = (r: ReturnType<typeof buildPrepaidCreditEntry>) => {
  if (!r.ok) throw new Error(`missing ${JSON.stringify(r.missing)}`);
  return r.entry.lines.map((l) => [l.account, l.side, l.amount.amount]);
};
const movement = (over: Partial<PrepaidCreditForPosting>): PrepaidCreditForPosting => ({
  kind: 'PREPAID_CREDIT_GRANT',
  movementId: 'wallet:USD:cus_1#1',
  grantId: 'wallet:USD:cus_1:annual',
  description: 'Annual prepayment',
  grantKind: 'PURCHASED',
  issueDate: '2026-10-05',
  legalEntityCode: 'DEFAULT',
  currency: 'USD',
  customer,
  amount: money('500.00', 'USD'),
  ...over,
});

describe('the ledger entries of prepaid credit', () => {
  it('books purchased credit as a receivable against the prepaid credit liability', () => {
    expect(lines(buildPrepaidCreditEntry(movement({}), lookup))).toEqual([
      ['assets:receivable', 'DEBIT', '500.00'],
      ['liabilities:prepaid-credits', 'CREDIT', '500.00'],
    ]);
  });

  it('books granted credit as a promotional expense, and its expiry back against that expense', () => {
    expect(lines(buildPrepaidCreditEntry(movement({ grantKind: 'GRANTED' }), lookup))).toEqual([
      ['expenses:promotional-credits', 'DEBIT', '500.00'],
      ['liabilities:prepaid-credits', 'CREDIT', '500.00'],
    ]);
    const expiry = movement({ kind: 'PREPAID_CREDIT_EXPIRY', grantKind: 'GRANTED', amount: money('12.34', 'USD') });
    expect(lines(buildPrepaidCreditEntry(expiry, lookup))).toEqual([
      ['liabilities:prepaid-credits', 'DEBIT', '12.34'],
      ['expenses:promotional-credits', 'CREDIT', '12.34'],
    ]);
  });

  it('releases expired purchased credit to expired-credit income (breakage)', () => {
    const expiry = movement({ kind: 'PREPAID_CREDIT_EXPIRY', amount: money('1500', 'JPY'), currency: 'JPY' });
    expect(lines(buildPrepaidCreditEntry(expiry, lookup))).toEqual([
      ['liabilities:prepaid-credits', 'DEBIT', '1500'],
      ['revenue:expired-credits', 'CREDIT', '1500'],
    ]);
  });

  it('settles the credited part of an invoice from the liability instead of the receivable', () => {
    const invoice: DocumentForPosting = {
      kind: 'INVOICE',
      id: 'inv_1',
      number: 'DEFAULT-2026-000001',
      issueDate: '2026-11-02',
      invoiceId: 'inv_1',
      invoiceNumber: 'DEFAULT-2026-000001',
      legalEntityCode: 'DEFAULT',
      currency: 'USD',
      periodKey: '2026-10',
      customer,
      lines: [
        {
          id: 'inv_1-l1',
          invoiceLineId: 'inv_1-l1',
          kind: 'USAGE',
          productLine: 'api',
          amount: money('120.00', 'USD'),
          servicePeriod: { from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' },
          taxes: [{ jurisdiction: 'US-CA', amount: money('8.70', 'USD') }],
        },
      ],
      prepaidCreditApplied: money('100.00', 'USD'),
    };
    // 128.70 owed: 100.00 paid by credit, 28.70 left receivable.
    const r = buildDocumentEntry(invoice, lookup);
    expect(lines(r)).toEqual([
      ['assets:receivable', 'DEBIT', '28.70'],
      ['liabilities:prepaid-credits', 'DEBIT', '100.00'],
      ['liabilities:tax:us-ca', 'CREDIT', '8.70'],
      ['revenue:usage:api', 'CREDIT', '120.00'],
    ]);
    expect(() => buildDocumentEntry({ ...invoice, prepaidCreditApplied: money('128.71', 'USD') }, lookup)).toThrow(
      RangeError,
    );
  });
});
