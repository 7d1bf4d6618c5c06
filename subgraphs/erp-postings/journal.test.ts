import fc from 'fast-check';
import { fromMinorUnits, money, sumMoney } from '../../lib/money';
import { DEFAULT_MAPPINGS, mappingsAt } from './mappings';
import {
  assertBalanced,
  buildDocumentEntry,
  buildRecognitionEntry,
  prorateByMonth,
  servicePeriodValue,
  totals,
  UnbalancedEntryError,
  type DocumentForPosting,
  type MappingLookup,
} from './journal';
import type { AccountMappingDoc } from './store';

const rows = (extra: Array<Pick<AccountMappingDoc, 'kind' | 'key' | 'value'>> = []): AccountMappingDoc[] =>
  [...DEFAULT_MAPPINGS, ...extra].map((m, i) => ({
    ...m,
    _id: `m${i}`,
    effectiveFrom: '1970-01-01',
    setAt: new Date(0),
    setBy: 'test',
    correlationId: 't',
  }));
const defaults: MappingLookup = mappingsAt(rows(), '2026-11-02').lookup;
const october = { from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' };
const november = { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' };

const document = (
  lines: Array<[productLine: string, amount: string, taxes?: Array<[string, string]>, period?: typeof october]>,
  options: Partial<DocumentForPosting> = {},
  currency = 'USD',
): DocumentForPosting => ({
  kind: 'INVOICE',
  id: 'inv_1',
  number: 'US01-2026-000007',
  issueDate: '2026-11-02',
  invoiceId: 'inv_1',
  invoiceNumber: 'US01-2026-000007',
  legalEntityCode: 'DEFAULT',
  currency,
  periodKey: '2026-10',
  customer: { id: 'cus_1', externalKey: 'acme', name: 'Acme Inc' },
  lines: lines.map(([productLine, amount, taxes = [], servicePeriod = october], i) => ({
    id: `inv_1-l${i + 1}`,
    invoiceLineId: `inv_1-l${i + 1}`,
    kind: productLine === 'subscription' ? 'FEE' : 'USAGE',
    productLine,
    amount: money(amount, currency),
    servicePeriod,
    taxes: taxes.map(([jurisdiction, tax]) => ({ jurisdiction, amount: money(tax, currency) })),
  })),
  ...options,
});
const built = (doc: DocumentForPosting, lookup = defaults) => {
  const r = buildDocumentEntry(doc, lookup);
  if (!r.ok) throw new Error(`missing ${JSON.stringify(r.missing)}`);
  return r;
};
const shape = (r: ReturnType<typeof built>) => r.entry.lines.map((l) => [l.account, l.side, l.amount.amount]);

describe('the journal entry of an invoice', () => {
  it('debits the receivable with the total and credits revenue per product line (§5.1)', () => {
    const r = built(
      document([
        ['api', '600.00'],
        ['storage', '400.00'],
        ['api', '0.01'],
      ]),
    );
    expect(shape(r)).toEqual([
      ['assets:receivable', 'DEBIT', '1000.01'],
      ['revenue:usage:api', 'CREDIT', '600.01'],
      ['revenue:usage:storage', 'CREDIT', '400.00'],
    ]);
    expect(r.entry.lines[1]!.invoiceLineIds).toEqual(['inv_1-l1', 'inv_1-l3']);
    expect(r.entry.lines[2]!.dimensions).toEqual([
      { name: 'customer', value: 'acme' },
      { name: 'legalEntity', value: 'DEFAULT' },
      { name: 'document', value: 'US01-2026-000007' },
      { name: 'servicePeriod', value: '2026-10' },
      { name: 'productLine', value: 'storage' },
    ]);
    expect([r.entry.postingDate, r.entry.accountingPeriod]).toEqual(['2026-11-02', '2026-11']);
  });

  it('credits tax payable per jurisdiction, never revenue', () => {
    const r = built(
      document([
        [
          'api',
          '12.24',
          [
            ['US-CA', '0.77'],
            ['US-CA-SF', '0.18'],
          ],
        ],
        [
          'storage',
          '23.00',
          [
            ['US-CA', '0.92'],
            ['US-CA-SF', '0.35'],
          ],
        ],
      ]),
    );
    expect(shape(r)).toEqual([
      ['assets:receivable', 'DEBIT', '37.46'],
      ['liabilities:tax:us-ca', 'CREDIT', '1.69'],
      ['liabilities:tax:us-ca-sf', 'CREDIT', '0.53'],
      ['revenue:usage:api', 'CREDIT', '12.24'],
      ['revenue:usage:storage', 'CREDIT', '23.00'],
    ]);
  });

  it('credits a fee billed in advance to deferred revenue, with its own service period and a schedule (§5.2)', () => {
    const r = built(
      document([
        ['api', '25.00'],
        ['subscription', '49.00', [], november],
      ]),
    );
    expect(shape(r)).toEqual([
      ['assets:receivable', 'DEBIT', '74.00'],
      ['liabilities:deferred-revenue', 'CREDIT', '49.00'],
      ['revenue:usage:api', 'CREDIT', '25.00'],
    ]);
    expect(r.entry.lines[1]!.dimensions).toContainEqual({ name: 'servicePeriod', value: '2026-11' });
    expect(r.portions).toEqual([
      {
        month: '2026-11',
        lines: [{ invoiceLineId: 'inv_1-l2', productLine: 'subscription', kind: 'FEE', amount: money('49.00', 'USD') }],
      },
    ]);
  });

  it('reverses revenue, tax and receivable on the same accounts for a credit note (§5.3)', () => {
    const r = built(
      document(
        [
          ['api', '100.00', [['US-CA', '10.00']]],
          ['subscription', '20.00', [], november],
        ],
        {
          kind: 'CREDIT_NOTE',
          id: 'note_1',
          number: 'US01-CN-2026-000001',
        },
      ),
    );
    expect(shape(r)).toEqual([
      ['liabilities:deferred-revenue', 'DEBIT', '20.00'],
      ['liabilities:tax:us-ca', 'DEBIT', '10.00'],
      ['revenue:usage:api', 'DEBIT', '100.00'],
      ['assets:receivable', 'CREDIT', '130.00'],
    ]);
    expect(r.portions[0]!.lines[0]!.amount).toEqual(money('-20.00', 'USD'));
  });

  it('posts a customer with an ERP id to its receivable sub-account, and drops zero lines', () => {
    const lookup = mappingsAt(rows([{ kind: 'ERP_CUSTOMER_ID', key: 'cus_1', value: 'C-0042' }]), '2026-11-02').lookup;
    const r = built(
      document([
        ['api', '5.00', [['US-CA', '0.00']]],
        ['storage', '0.00'],
      ]),
      lookup,
    );
    expect(shape(r)).toEqual([
      ['assets:receivable:C-0042', 'DEBIT', '5.00'],
      ['revenue:usage:api', 'CREDIT', '5.00'],
    ]);
    expect(r.erpCustomerAccount).toBe('assets:receivable:C-0042');
  });

  it('reports every missing mapping at once, and uses the mapping in force on the posting date', () => {
    const r = buildDocumentEntry(
      document(
        [
          ['api', '5.00'],
          ['subscription', '1.00', [], november],
        ],
        { legalEntityCode: 'US01' },
      ),
      defaults,
    );
    expect(r).toEqual({
      ok: false,
      missing: [
        { kind: 'RECEIVABLE_ACCOUNT', key: 'US01' },
        { kind: 'DEFERRED_REVENUE_ACCOUNT', key: 'US01' },
      ],
    });
    const dated = rows([{ kind: 'REVENUE_ACCOUNT', key: 'api', value: 'revenue:api-2027' }]).map((m) =>
      m.key === 'api' ? { ...m, effectiveFrom: '2027-01-01' } : m,
    );
    expect(shape(built(document([['api', '5.00']]), mappingsAt(dated, '2026-11-02').lookup))[1]![0]).toBe(
      'revenue:usage:api',
    );
    expect(shape(built(document([['api', '5.00']]), mappingsAt(dated, '2027-01-02').lookup))[1]![0]).toBe(
      'revenue:api-2027',
    );
  });

  it('balances in a currency without minor units', () => {
    expect(totals(built(document([['api', '15000']], {}, 'JPY')).entry)).toEqual({ debits: 15000n, credits: 15000n });
  });

  it('refuses an entry one minor unit off, a zero line, a single line and negative amounts', () => {
    const { entry } = built(document([['api', '10.00']]));
    expect(() =>
      assertBalanced({ ...entry, lines: [entry.lines[0]!, { ...entry.lines[1]!, amount: money('9.99', 'USD') }] }),
    ).toThrow('debits 10.00 ≠ credits 9.99 USD');
    expect(() =>
      assertBalanced({ ...entry, lines: [...entry.lines, { ...entry.lines[1]!, amount: money('0.00', 'USD') }] }),
    ).toThrow(/zero/);
    expect(() => assertBalanced({ ...entry, lines: entry.lines.slice(0, 1) })).toThrow(/at least two lines/);
    expect(() =>
      assertBalanced({ ...entry, lines: [entry.lines[0]!, { ...entry.lines[1]!, amount: money('-10.00', 'USD') }] }),
    ).toThrow(UnbalancedEntryError);
  });

  it('balances for any set of lines, taxes and service periods', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('api', 'storage', 'subscription'),
            fc.integer({ min: 0, max: 10_000_000 }),
            fc.integer({ min: 0, max: 900_000 }),
            fc.boolean(),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        fc.constantFrom('INVOICE' as const, 'CREDIT_NOTE' as const, 'DEBIT_NOTE' as const),
        (lines, kind) => {
          const doc = document(
            lines.map(([p, cents, tax, advance]) => [
              p,
              fromMinorUnits(BigInt(cents), 'USD').amount,
              [['US-CA', fromMinorUnits(BigInt(tax), 'USD').amount]],
              advance ? november : october,
            ]),
            { kind },
          );
          const r = built(doc);
          if (r.entry.lines.length === 0) return;
          const { debits, credits } = totals(r.entry);
          expect(debits).toBe(credits);
          expect(debits).toBe(lines.reduce((s, [, c, t]) => s + BigInt(c) + BigInt(t), 0n));
          expect(r.entry.lines.every((l) => l.amount.amount !== '0.00')).toBe(true);
        },
      ),
    );
  });
});

describe('revenue recognition', () => {
  it('prorates a service period by day over its months, exactly', () => {
    const shares = prorateByMonth(
      money('100.00', 'USD'),
      new Date('2026-10-16T00:00:00Z'),
      new Date('2026-12-16T00:00:00Z'),
    );
    // 16 days of October, 30 of November, 15 of December: 61 days.
    expect(shares.map((s) => [s.month, s.amount.amount])).toEqual([
      ['2026-10', '26.23'],
      ['2026-11', '49.18'],
      ['2026-12', '24.59'],
    ]);
    expect(
      sumMoney(
        shares.map((s) => s.amount),
        'USD',
      ),
    ).toEqual(money('100.00', 'USD'));
    expect(servicePeriodValue(new Date('2026-10-16T00:00:00Z'), new Date('2026-12-16T00:00:00Z'))).toBe(
      '2026-10-16/2026-12-15',
    );
  });

  it('moves a month’s share from deferred revenue to revenue, at the month’s end or the deferral’s date', () => {
    const r = buildRecognitionEntry(
      {
        kind: 'REVENUE_RECOGNITION',
        portionId: 'rs_1',
        documentId: 'inv_1',
        documentNumber: 'US01-2026-000007',
        invoiceId: 'inv_1',
        legalEntityCode: 'DEFAULT',
        currency: 'USD',
        month: '2026-11',
        customer: { id: 'cus_1', externalKey: 'acme', name: 'Acme Inc' },
        documentPostingDate: '2026-11-02',
        lines: [{ invoiceLineId: 'inv_1-l2', productLine: 'subscription', kind: 'FEE', amount: money('49.00', 'USD') }],
      },
      defaults,
    );
    if (!r.ok) throw new Error('missing');
    expect(r.entry.lines.map((l) => [l.account, l.side, l.amount.amount])).toEqual([
      ['liabilities:deferred-revenue', 'DEBIT', '49.00'],
      ['revenue:fees:subscription', 'CREDIT', '49.00'],
    ]);
    expect([r.entry.documentDate, r.entry.postingDate]).toEqual(['2026-11-30', '2026-11-30']);
  });
});
