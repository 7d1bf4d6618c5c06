// Pure: a finalized invoice → a balanced journal entry. The builder refuses to emit one that does not balance.
import { fromMinorUnits, toMinorUnits, type Money } from '../../lib/money';

export type Side = 'DEBIT' | 'CREDIT';

export interface JournalLine {
  lineNo: number;
  account: string;
  side: Side;
  amount: Money;
  memo: string;
  dimensions: Array<{ name: string; value: string }>;
  invoiceLineIds: string[];
}

export interface JournalEntry {
  documentDate: string;
  postingDate: string;
  accountingPeriod: string;
  description: string;
  currency: string;
  lines: JournalLine[];
}

export interface InvoiceForPosting {
  id: string;
  number: string;
  issueDate: string;
  currency: string;
  total: Money;
  periodKey: string;
  customer: { id: string; externalKey: string; name: string };
  lines: Array<{ id: string; productLine: string; amount: Money; kind?: 'USAGE' | 'FEE' | 'COMMITMENT' }>;
}

export const RECEIVABLE_ACCOUNT = 'assets:receivable';

/** Usage and recurring fees are booked per product line; commitment true-ups to their own account. */
export function revenueAccount(productLine: string, kind: 'USAGE' | 'FEE' | 'COMMITMENT' = 'USAGE'): string {
  if (kind === 'COMMITMENT') return 'revenue:commitment';
  return `revenue:${kind === 'FEE' ? 'fees' : 'usage'}:${productLine}`;
}

export class UnbalancedEntryError extends Error {}

/** DR receivable for the invoice total; CR usage revenue per product line. */
export function buildInvoiceEntry(invoice: InvoiceForPosting): JournalEntry {
  const { currency } = invoice;
  const byAccount = new Map<string, { productLine: string; minor: bigint; lineIds: string[] }>();
  for (const line of invoice.lines) {
    if (line.amount.currency !== currency)
      throw new RangeError(`invoice line ${line.id} is in ${line.amount.currency}, the invoice in ${currency}`);
    const account = revenueAccount(line.productLine, line.kind);
    const group = byAccount.get(account) ?? { productLine: line.productLine, minor: 0n, lineIds: [] };
    group.minor += toMinorUnits(line.amount);
    group.lineIds.push(line.id);
    byAccount.set(account, group);
  }
  const common = [
    { name: 'customer', value: invoice.customer.externalKey },
    { name: 'invoice', value: invoice.number },
    { name: 'servicePeriod', value: invoice.periodKey },
  ];
  const lines: JournalLine[] = [
    {
      lineNo: 1,
      account: RECEIVABLE_ACCOUNT,
      side: 'DEBIT',
      amount: invoice.total,
      memo: `receivable from ${invoice.customer.name}`,
      dimensions: common,
      invoiceLineIds: invoice.lines.map((l) => l.id),
    },
  ];
  for (const [account, group] of [...byAccount.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push({
      lineNo: lines.length + 1,
      account,
      side: 'CREDIT',
      amount: fromMinorUnits(group.minor, currency),
      memo: `${account.split(':')[1]} revenue, ${group.productLine}`,
      dimensions: [...common, { name: 'product', value: group.productLine }],
      invoiceLineIds: group.lineIds,
    });
  }
  const entry: JournalEntry = {
    documentDate: invoice.issueDate,
    postingDate: invoice.issueDate,
    accountingPeriod: invoice.issueDate.slice(0, 7),
    description: `Invoice ${invoice.number} ${invoice.customer.name}`,
    currency,
    lines,
  };
  assertBalanced(entry);
  return entry;
}

export function totals(entry: JournalEntry): { debits: bigint; credits: bigint } {
  let debits = 0n;
  let credits = 0n;
  for (const line of entry.lines) {
    if (line.amount.currency !== entry.currency)
      throw new UnbalancedEntryError(
        `line ${line.lineNo} is in ${line.amount.currency}, the entry in ${entry.currency}`,
      );
    const minor = toMinorUnits(line.amount);
    if (minor < 0n) throw new UnbalancedEntryError(`line ${line.lineNo} has a negative amount; use the other side`);
    if (line.side === 'DEBIT') debits += minor;
    else credits += minor;
  }
  return { debits, credits };
}

/** Σ debits = Σ credits in minor units, exactly, with at least two lines. */
export function assertBalanced(entry: JournalEntry): void {
  if (entry.lines.length < 2) throw new UnbalancedEntryError('a journal entry needs at least two lines');
  const { debits, credits } = totals(entry);
  if (debits !== credits) {
    throw new UnbalancedEntryError(
      `journal entry does not balance: debits ${fromMinorUnits(debits, entry.currency).amount} ≠ credits ${fromMinorUnits(credits, entry.currency).amount} ${entry.currency}`,
    );
  }
}
