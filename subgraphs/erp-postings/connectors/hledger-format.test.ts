import { execFileSync } from 'node:child_process';
import { money } from '../../../lib/money';
import { buildDocumentEntry, type JournalEntry } from '../journal';
import { DEFAULT_MAPPINGS, mappingsAt } from '../mappings';
import { safeText, toHledgerJson, toJournalText } from './hledger-format';
import type { PostingForErp } from './connector';

const lookup = mappingsAt(
  DEFAULT_MAPPINGS.map((m, i) => ({
    ...m,
    _id: `m${i}`,
    effectiveFrom: '1970-01-01',
    setAt: new Date(0),
    setBy: 't',
    correlationId: 't',
  })),
  '2026-11-02',
).lookup;

function entryOf(currency: string, amounts: string[], customer = 'Acme (EU); Ltd'): JournalEntry {
  const r = buildDocumentEntry(
    {
      kind: 'INVOICE',
      id: 'inv_abc',
      number: 'US01-2026-000001',
      issueDate: '2026-11-02',
      invoiceId: 'inv_abc',
      invoiceNumber: 'US01-2026-000001',
      legalEntityCode: 'DEFAULT',
      currency,
      periodKey: '2026-10',
      customer: { id: 'cus_1', externalKey: 'acme', name: customer },
      lines: amounts.map((amount, i) => ({
        id: `l${i}`,
        invoiceLineId: `l${i}`,
        kind: 'USAGE',
        productLine: i % 2 ? 'storage' : 'api',
        amount: money(amount, currency),
        servicePeriod: { from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' },
        taxes: [],
      })),
    },
    lookup,
  );
  if (!r.ok) throw new Error('a mapping is missing');
  return r.entry;
}

const posting = (currency: string, amounts: string[]): PostingForErp => ({
  postingKey: 'ug:inv_abc:v1',
  correlationId: 'cor-1',
  legalEntityCode: 'DEFAULT',
  kind: 'INVOICE',
  entry: entryOf(currency, amounts),
});

describe('writing postings for hledger', () => {
  it('sends exact decimal mantissas, signed by side', () => {
    const json = toHledgerJson(posting('USD', ['123.45', '12.35'])) as any;
    expect(json.tcode).toBe('ug:inv_abc:v1');
    expect(json.tpostings.map((p: any) => [p.paccount, p.pamount[0].aquantity])).toEqual([
      ['assets:receivable', { decimalMantissa: 13580, decimalPlaces: 2 }],
      ['revenue:usage:api', { decimalMantissa: -12345, decimalPlaces: 2 }],
      ['revenue:usage:storage', { decimalMantissa: -1235, decimalPlaces: 2 }],
    ]);
    expect(json.tcomment).toContain('correlation:cor-1');
    expect(json.tcomment).toContain('legalEntity:DEFAULT');
    expect(json.tdate2).toBeNull();
    expect(json.tpostings[1].pcomment).toBe(
      'customer:acme, legalEntity:DEFAULT, document:US01-2026-000001, servicePeriod:2026-10, productLine:api\n',
    );
  });

  it('keeps both dates of an entry moved to the next open period, and says why', () => {
    const p = posting('USD', ['10.00']);
    const moved = {
      ...p,
      entry: { ...p.entry, postingDate: '2026-12-01', accountingPeriod: '2026-12', requestedPeriod: '2026-11' },
    };
    const json = toHledgerJson(moved) as any;
    expect([json.tdate, json.tdate2]).toEqual(['2026-12-01', '2026-11-02']);
    expect(json.tcomment).toContain('requestedPeriod:2026-11');
    const text = toJournalText(moved);
    expect(text.startsWith('2026-12-01=2026-11-02 (ug:inv_abc:v1)')).toBe(true);
    execFileSync('hledger', ['-f', '-', 'check'], { input: text });
    const [read] = JSON.parse(execFileSync('hledger', ['-f', '-', 'print', '-O', 'json'], { input: text }).toString());
    expect([read.tdate, read.tdate2]).toEqual(['2026-12-01', '2026-11-02']);
  });

  it('keeps characters that would corrupt the journal out of descriptions', () => {
    expect(safeText('Acme (EU); Ltd\nnext')).toBe('Acme EU Ltd next');
    expect((toHledgerJson(posting('USD', ['1.00'])) as any).tdescription).toBe('Invoice US01-2026-000001 Acme EU Ltd');
  });

  it('refuses posting keys hledger cannot round-trip', () => {
    expect(() => toHledgerJson({ ...posting('USD', ['1.00']), postingKey: 'bad) key' })).toThrow(/cannot round-trip/);
  });

  it('writes journal text that hledger itself checks and balances', () => {
    const text =
      toJournalText(posting('USD', ['600.00', '400.00'])) +
      toJournalText({ ...posting('JPY', ['15000']), postingKey: 'ug:inv_jpy:v1' });
    // hledger is the independent oracle: it parses the text and checks every transaction balances.
    execFileSync('hledger', ['-f', '-', 'check'], { input: text });
    const balance = execFileSync('hledger', ['-f', '-', 'balance', '--flat', '-O', 'csv'], { input: text }).toString();
    expect(balance).toContain('"assets:receivable","15000 JPY, 1000.00 USD"');
    expect(balance).toContain('"revenue:usage:api","-15000 JPY, -600.00 USD"');
    expect(balance).toContain('"total","0"');
    const codes = execFileSync('hledger', ['-f', '-', 'print', '-O', 'csv'], { input: text }).toString();
    expect(codes).toContain('ug:inv_abc:v1');
  });

  it('is checked by an oracle that does catch a one-cent imbalance', () => {
    const broken = toJournalText(posting('USD', ['600.00'])).replace('-600.00 USD', '-599.99 USD');
    expect(() => execFileSync('hledger', ['-f', '-', 'check'], { input: broken, stdio: 'pipe' })).toThrow(
      /real postings' sum should be 0 but is: 0.01 USD/,
    );
  });
});
