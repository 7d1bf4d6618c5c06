import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { money } from '../../../lib/money';
import { buildInvoiceEntry } from '../journal';
import { JournalFileConnector } from './journal-file';

const posting = (key: string, amount: string) => ({
  postingKey: key,
  correlationId: 'cor-file',
  entry: buildInvoiceEntry({
    id: key,
    number: `N-${key}`,
    issueDate: '2026-11-02',
    currency: 'USD',
    total: money(amount, 'USD'),
    periodKey: '2026-10',
    customer: { id: 'c', externalKey: 'acme', name: 'Acme' },
    lines: [{ id: 'l1', productLine: 'api', amount: money(amount, 'USD') }],
  }),
});

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
    expect(first.documentId).toBe('ug:a:v1');
    expect(again.documentId).toBe('ug:a:v1');
    expect(other.documentId).toBe('ug:b:v1');
    expect(readFileSync(file, 'utf8').match(/\(ug:a:v1\)/g)).toHaveLength(1);
    execFileSync('hledger', ['-f', file, 'check']);
    expect(execFileSync('hledger', ['-f', file, 'balance', 'assets', '-O', 'csv']).toString()).toContain(
      '"assets:receivable","12.50 USD"',
    );
  });
});
