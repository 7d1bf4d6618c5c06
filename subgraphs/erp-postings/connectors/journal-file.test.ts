import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { money } from '../../../lib/money';
import { buildDocumentEntry } from '../journal';
import { DEFAULT_MAPPINGS, mappingsAt } from '../mappings';
import { JournalFileConnector } from './journal-file';

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

const posting = (key: string, amount: string) => {
  const r = buildDocumentEntry(
    {
      kind: 'INVOICE',
      id: key,
      number: `N-${key}`,
      issueDate: '2026-11-02',
      invoiceId: key,
      invoiceNumber: `N-${key}`,
      legalEntityCode: 'DEFAULT',
      currency: 'USD',
      periodKey: '2026-10',
      customer: { id: 'c', externalKey: 'acme', name: 'Acme' },
      lines: [
        {
          id: 'l1',
          invoiceLineId: 'l1',
          kind: 'USAGE',
          productLine: 'api',
          amount: money(amount, 'USD'),
          servicePeriod: { from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' },
          taxes: [],
        },
      ],
    },
    lookup,
  );
  if (!r.ok) throw new Error('a mapping is missing');
  return { postingKey: key, correlationId: 'cor-file', entry: r.entry };
};

describe('the journal file connector', () => {
  it('appends each posting once, in a file hledger reads and balances', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ug-journal-')), 'ledger', 'postings.journal');
    const erp = new JournalFileConnector(file);
    expect(await erp.findDocument('ug:a:v1')).toBeNull();
    const [first, again, other] = await Promise.all([
      erp.post(posting('ug:a:v1', '10.00')),
      erp.post(posting('ug:a:v1', '10.00')),
      erp.post(posting('ug:b:v1', '2.50')),
    ]);
    expect([first.document.documentId, first.alreadyInErp]).toEqual(['ug:a:v1', false]);
    expect([again.document.documentId, again.alreadyInErp]).toEqual(['ug:a:v1', true]);
    expect(other.document.documentId).toBe('ug:b:v1');
    expect(readFileSync(file, 'utf8').match(/\(ug:a:v1\)/g)).toHaveLength(1);
    execFileSync('hledger', ['-f', file, 'check']);
    expect(execFileSync('hledger', ['-f', file, 'balance', 'assets', '-O', 'csv']).toString()).toContain(
      '"assets:receivable","12.50 USD"',
    );
  });

  it('posts a batch once per key, a key repeated or already there included, and knows the accounts it has used', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ug-journal-')), 'postings.journal');
    const erp = new JournalFileConnector(file);
    await erp.post(posting('ug:c:v1', '1.00'));
    const results = await erp.postMany([
      posting('ug:c:v1', '1.00'),
      posting('ug:d:v1', '2.00'),
      posting('ug:d:v1', '2.00'),
    ]);
    expect(results.map((r) => ('error' in r ? r.error.code : [r.document.documentId, r.alreadyInErp]))).toEqual([
      ['ug:c:v1', true],
      ['ug:d:v1', false],
      ['ug:d:v1', true],
    ]);
    expect(readFileSync(file, 'utf8').match(/\(ug:d:v1\)/g)).toHaveLength(1);
    execFileSync('hledger', ['-f', file, 'check']);
    expect(await erp.knownCustomers(['assets:receivable', 'assets:receivable:nobody'])).toEqual(
      new Set(['assets:receivable']),
    );
  });
});
