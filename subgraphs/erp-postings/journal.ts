// Pure: documents → balanced journal entries, with the accounts finance mapped. An invoice debits the receivable and
// credits revenue, or deferred revenue for the lines billed in advance, and tax payable per jurisdiction; a credit
// note does the reverse on the same accounts, a debit note the same again; a recognition entry moves a month's share
// from deferred revenue to revenue. Lines are grouped by account and dimensions, zero lines dropped, and the builder
// refuses an entry that does not balance to the minor unit.
import { Dec, fromMinorUnits, toMinorUnits, type Money } from '../../lib/money';
import { parsePeriod } from '../../lib/period';

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
  /** YYYY-MM-DD of the source document. */
  documentDate: string;
  /** YYYY-MM-DD it is booked on. */
  postingDate: string;
  accountingPeriod: string;
  /** The period asked for, when finance moved the entry to the next open period. */
  requestedPeriod?: string | null;
  periodMoveReason?: string | null;
  description: string;
  currency: string;
  lines: JournalLine[];
}

export type LineKind = 'USAGE' | 'FEE' | 'COMMITMENT';

/** An invoice or note as it is booked: what the invoices subgraph says about it, kept on the posting. */
export interface DocumentForPosting {
  /** ACCRUAL books a draft's earned lines at period end; ACCRUAL_REVERSAL takes them back when the invoice posts. */
  kind: 'INVOICE' | 'CREDIT_NOTE' | 'DEBIT_NOTE' | 'ACCRUAL' | 'ACCRUAL_REVERSAL';
  id: string;
  number: string;
  issueDate: string;
  invoiceId: string;
  invoiceNumber: string;
  legalEntityCode: string;
  currency: string;
  /** The billing period of the invoice (for a note: of the invoice it corrects). */
  periodKey: string;
  customer: { id: string; externalKey: string; name: string };
  lines: Array<{
    id: string;
    invoiceLineId: string | null;
    kind: LineKind;
    productLine: string;
    /** Positive; the document's kind says which way. */
    amount: Money;
    /** ISO instants; `to` is exclusive. */
    servicePeriod: { from: string; to: string };
    taxes: Array<{ jurisdiction: string; amount: Money }>;
  }>;
  /** INVOICE: prepaid credit applied at finalization; it pays part of the total, so less is receivable. */
  prepaidCreditApplied?: Money | null;
}

/** A prepaid credit grant or expiry (a wallet movement of the invoices subgraph), as it is booked. */
export interface PrepaidCreditForPosting {
  kind: 'PREPAID_CREDIT_GRANT' | 'PREPAID_CREDIT_EXPIRY';
  movementId: string;
  /** The grant's description and id, for the memo. */
  grantId: string;
  description: string;
  /** How the credit came: purchased credit is a claim on the customer, granted credit a promotional expense. */
  grantKind: 'PURCHASED' | 'GRANTED';
  /** YYYY-MM-DD of the movement. */
  issueDate: string;
  legalEntityCode: string;
  currency: string;
  customer: { id: string; externalKey: string; name: string };
  /** Positive: the credit granted, or what was left when it expired. */
  amount: Money;
}

/** A month's share of a document's deferred lines, as it is recognized. */
export interface RecognitionForPosting {
  kind: 'REVENUE_RECOGNITION';
  portionId: string;
  documentId: string;
  documentNumber: string;
  invoiceId: string;
  legalEntityCode: string;
  currency: string;
  month: string;
  customer: { id: string; externalKey: string; name: string };
  /** The document's own posting date: recognition is never booked before its deferral. */
  documentPostingDate: string;
  /** Signed: positive moves deferred revenue to revenue, negative (a credit note's share) moves it back. */
  lines: Array<{ invoiceLineId: string | null; productLine: string; kind: string; amount: Money }>;
}

export type MappingKind =
  | 'RECEIVABLE_ACCOUNT'
  | 'DEFERRED_REVENUE_ACCOUNT'
  | 'UNBILLED_RECEIVABLE_ACCOUNT'
  | 'REVENUE_ACCOUNT'
  | 'TAX_PAYABLE_ACCOUNT'
  | 'ERP_CUSTOMER_ID'
  | 'PREPAID_CREDIT_ACCOUNT'
  | 'PROMOTIONAL_CREDIT_ACCOUNT'
  | 'EXPIRED_CREDIT_ACCOUNT';

/** The mapping in force for a kind and key (wildcards applied), as a template; null when finance has none. */
export type MappingLookup = (kind: MappingKind, key: string) => string | null;

/** One month's share of deferred lines, prorated by day; the shares of a line add up to it exactly. */
export interface SchedulePortion {
  month: string;
  lines: Array<{ invoiceLineId: string | null; productLine: string; kind: string; amount: Money }>;
}

export type BuildResult =
  | { ok: true; entry: JournalEntry; erpCustomerAccount: string | null; portions: SchedulePortion[] }
  | { ok: false; missing: Array<{ kind: MappingKind; key: string }> };

export class UnbalancedEntryError extends Error {}

const DAY_MS = 86_400_000;
const day = (d: Date) => d.toISOString().slice(0, 10);
const monthKey = (d: Date) => d.toISOString().slice(0, 7);
const lastDayOf = (month: string) => day(new Date(parsePeriod(month).end.getTime() - 1));
const KIND_WORD: Record<string, string> = { USAGE: 'usage', FEE: 'fees', COMMITMENT: 'commitment' };

/** A service period as a dimension: the month when it is one whole month, else first/last day. */
export function servicePeriodValue(from: Date, to: Date): string {
  const whole =
    from.getUTCDate() === 1 &&
    from.getUTCHours() === 0 &&
    from.getTime() % DAY_MS === 0 &&
    parsePeriod(monthKey(from)).end.getTime() === to.getTime();
  return whole ? monthKey(from) : `${day(from)}/${day(new Date(to.getTime() - 1))}`;
}

/** Whether a line pays for time after its invoice's billing period: then it is deferred, not revenue yet. */
export const isBilledInAdvance = (periodKey: string, to: Date): boolean => to > parsePeriod(periodKey).end;

const render = (template: string, vars: Record<string, string>) =>
  template.replace(/\{(\w+)\}/g, (whole, name: string) => vars[name] ?? whole);

/** Splits an amount over the calendar months of [from, to) by days, exactly (largest remainder, earliest first). */
export function prorateByMonth(amount: Money, from: Date, to: Date): Array<{ month: string; amount: Money }> {
  const total = toMinorUnits(amount);
  const sign = total < 0n ? -1n : 1n;
  const units = total * sign;
  const parts: Array<{ month: string; ms: number }> = [];
  for (let start = parsePeriod(monthKey(from)).start; start < to; start = parsePeriod(monthKey(start)).end) {
    const end = parsePeriod(monthKey(start)).end;
    const ms = Math.min(end.getTime(), to.getTime()) - Math.max(start.getTime(), from.getTime());
    if (ms > 0) parts.push({ month: monthKey(start), ms });
  }
  const span = parts.reduce((s, p) => s + p.ms, 0);
  const exact = parts.map((p) => new Dec(units.toString()).times(p.ms).dividedBy(span));
  const shares = exact.map((e) => BigInt(e.floor().toFixed(0)));
  let left = units - shares.reduce((s, x) => s + x, 0n);
  const order = exact
    .map((e, i) => ({ i, rest: e.minus(e.floor()) }))
    .sort((a, b) => b.rest.comparedTo(a.rest) || a.i - b.i);
  for (const { i } of order) {
    if (left === 0n) break;
    shares[i]! += 1n;
    left -= 1n;
  }
  return parts.map((p, i) => ({ month: p.month, amount: fromMinorUnits(shares[i]! * sign, amount.currency) }));
}

interface Accumulated {
  account: string;
  memo: string;
  dimensions: Array<{ name: string; value: string }>;
  /** Signed: debit positive. */
  minor: bigint;
  invoiceLineIds: string[];
}

class EntryLines {
  private readonly byKey = new Map<string, Accumulated>();

  add(account: string, memo: string, dimensions: Accumulated['dimensions'], debitMinor: bigint, lineId: string | null) {
    const key = `${account}\u001f${JSON.stringify(dimensions)}`;
    const line = this.byKey.get(key) ?? { account, memo, dimensions, minor: 0n, invoiceLineIds: [] };
    line.minor += debitMinor;
    if (lineId && !line.invoiceLineIds.includes(lineId)) line.invoiceLineIds.push(lineId);
    this.byKey.set(key, line);
  }

  /** Debits first, then credits, each by account and dimensions; zero lines dropped. */
  lines(currency: string): JournalLine[] {
    const kept = [...this.byKey.values()].filter((l) => l.minor !== 0n);
    const sorted = [...kept.filter((l) => l.minor > 0n), ...kept.filter((l) => l.minor < 0n)].sort(
      (a, b) =>
        Number(b.minor > 0n) - Number(a.minor > 0n) ||
        a.account.localeCompare(b.account) ||
        JSON.stringify(a.dimensions).localeCompare(JSON.stringify(b.dimensions)),
    );
    return sorted.map((l, i) => ({
      lineNo: i + 1,
      account: l.account,
      side: l.minor > 0n ? 'DEBIT' : 'CREDIT',
      amount: fromMinorUnits(l.minor > 0n ? l.minor : -l.minor, currency),
      memo: l.memo,
      dimensions: l.dimensions,
      invoiceLineIds: l.invoiceLineIds,
    }));
  }
}

/** The revenue account a line books to under a mapping table (as buildDocumentEntry picks it), for reconciliation. */
export function revenueAccountOf(lookup: MappingLookup, productLine: string, kind: LineKind): string {
  const found = lookup('REVENUE_ACCOUNT', productLine);
  return found === null ? `?REVENUE_ACCOUNT:${productLine}` : render(found, { productLine, kind: KIND_WORD[kind]! });
}

/** The accounts an entry needs; what is missing is reported all at once, so finance adds every mapping in one go. */
class Accounts {
  readonly missing: Array<{ kind: MappingKind; key: string }> = [];
  constructor(private readonly lookup: MappingLookup) {}

  get(kind: MappingKind, key: string, vars: Record<string, string> = {}): string {
    const found = this.lookup(kind, key);
    if (found === null) {
      if (!this.missing.some((m) => m.kind === kind && m.key === key)) this.missing.push({ kind, key });
      return `?${kind}:${key}`;
    }
    return render(found, vars);
  }

  optional(kind: MappingKind, key: string): string | null {
    return this.lookup(kind, key);
  }
}

export function buildDocumentEntry(
  doc: DocumentForPosting,
  lookup: MappingLookup,
  postingDate = doc.issueDate,
): BuildResult {
  const accounts = new Accounts(lookup);
  const { currency } = doc;
  const sign = doc.kind === 'CREDIT_NOTE' || doc.kind === 'ACCRUAL_REVERSAL' ? -1n : 1n;
  const accrual = doc.kind === 'ACCRUAL' || doc.kind === 'ACCRUAL_REVERSAL';
  const common = [
    { name: 'customer', value: doc.customer.externalKey },
    { name: 'legalEntity', value: doc.legalEntityCode },
    { name: 'document', value: doc.number },
  ];
  // Accrued revenue is a contract asset, not yet a claim on the customer: it has its own account, no sub-ledger.
  const erpCustomerId = accrual ? null : accounts.optional('ERP_CUSTOMER_ID', doc.customer.id);
  const receivableControl = accounts.get(
    accrual ? 'UNBILLED_RECEIVABLE_ACCOUNT' : 'RECEIVABLE_ACCOUNT',
    doc.legalEntityCode,
  );
  const receivable = erpCustomerId ? `${receivableControl}:${erpCustomerId}` : receivableControl;
  const lines = new EntryLines();
  const portions = new Map<string, SchedulePortion['lines']>();
  let total = 0n;
  for (const line of doc.lines) {
    if (line.amount.currency !== currency)
      throw new RangeError(`line ${line.id} is in ${line.amount.currency}, the document in ${currency}`);
    const from = new Date(line.servicePeriod.from);
    const to = new Date(line.servicePeriod.to);
    const dims = [
      ...common,
      { name: 'servicePeriod', value: servicePeriodValue(from, to) },
      { name: 'productLine', value: line.productLine },
    ];
    const minor = toMinorUnits(line.amount);
    total += minor;
    const lineage = line.invoiceLineId ?? line.id;
    if (isBilledInAdvance(doc.periodKey, to)) {
      const deferred = accounts.get('DEFERRED_REVENUE_ACCOUNT', doc.legalEntityCode);
      lines.add(deferred, `deferred revenue, ${line.productLine}`, dims, -sign * minor, lineage);
      for (const share of prorateByMonth(line.amount, from, to)) {
        const signed = fromMinorUnits(sign * toMinorUnits(share.amount), currency);
        portions.set(share.month, [
          ...(portions.get(share.month) ?? []),
          { invoiceLineId: line.invoiceLineId, productLine: line.productLine, kind: line.kind, amount: signed },
        ]);
      }
      // The revenue account is needed when the portions are recognized: a missing one is reported now.
      accounts.get('REVENUE_ACCOUNT', line.productLine, { productLine: line.productLine, kind: KIND_WORD[line.kind]! });
    } else {
      const revenue = accounts.get('REVENUE_ACCOUNT', line.productLine, {
        productLine: line.productLine,
        kind: KIND_WORD[line.kind]!,
      });
      lines.add(revenue, `${KIND_WORD[line.kind]} revenue, ${line.productLine}`, dims, -sign * minor, lineage);
    }
    for (const tax of line.taxes) {
      const taxMinor = toMinorUnits(tax.amount);
      if (taxMinor === 0n) continue;
      total += taxMinor;
      const account = accounts.get('TAX_PAYABLE_ACCOUNT', tax.jurisdiction, {
        jurisdiction: tax.jurisdiction.toLowerCase(),
      });
      lines.add(
        account,
        `${tax.jurisdiction} tax payable`,
        [...common, { name: 'jurisdiction', value: tax.jurisdiction }],
        -sign * taxMinor,
        lineage,
      );
    }
  }
  // Prepaid credit paid part of an invoice: the liability taken on at the top-up is settled instead of a receivable.
  const credit = doc.kind === 'INVOICE' && doc.prepaidCreditApplied ? toMinorUnits(doc.prepaidCreditApplied) : 0n;
  if (credit > total) throw new RangeError(`prepaid credit ${credit} exceeds the invoice total ${total}`);
  if (credit > 0n)
    lines.add(
      accounts.get('PREPAID_CREDIT_ACCOUNT', doc.legalEntityCode),
      `prepaid credit applied, ${doc.customer.name}`,
      [...common, { name: 'servicePeriod', value: doc.periodKey }],
      credit,
      null,
    );
  lines.add(
    receivable,
    accrual ? `unbilled revenue of ${doc.customer.name}` : `receivable from ${doc.customer.name}`,
    [...common, { name: 'servicePeriod', value: doc.periodKey }],
    sign * total - credit,
    null,
  );
  if (accounts.missing.length > 0) return { ok: false, missing: accounts.missing };
  const description = {
    INVOICE: `Invoice ${doc.number} ${doc.customer.name}`,
    CREDIT_NOTE: `Credit note ${doc.number} for invoice ${doc.invoiceNumber} ${doc.customer.name}`,
    DEBIT_NOTE: `Debit note ${doc.number} for invoice ${doc.invoiceNumber} ${doc.customer.name}`,
    ACCRUAL: `Accrued unbilled usage ${doc.periodKey} of ${doc.customer.name}`,
    ACCRUAL_REVERSAL: `Reversal of accrued usage ${doc.periodKey} of ${doc.customer.name}, invoiced as ${doc.invoiceNumber}`,
  }[doc.kind];
  const entry: JournalEntry = {
    documentDate: doc.issueDate,
    postingDate,
    accountingPeriod: postingDate.slice(0, 7),
    requestedPeriod: null,
    periodMoveReason: null,
    description,
    currency,
    lines: lines.lines(currency),
  };
  if (entry.lines.length > 0) assertBalanced(entry);
  return {
    ok: true,
    entry,
    erpCustomerAccount: erpCustomerId ? receivable : null,
    portions: [...portions.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([month, l]) => ({ month, lines: l })),
  };
}

/** A month's recognition: booked at the month's end, or on the deferral's own date when that is later (catch-up). */
export function buildRecognitionEntry(r: RecognitionForPosting, lookup: MappingLookup): BuildResult {
  const accounts = new Accounts(lookup);
  const deferred = accounts.get('DEFERRED_REVENUE_ACCOUNT', r.legalEntityCode);
  const lines = new EntryLines();
  const common = [
    { name: 'customer', value: r.customer.externalKey },
    { name: 'legalEntity', value: r.legalEntityCode },
    { name: 'document', value: r.documentNumber },
    { name: 'servicePeriod', value: r.month },
  ];
  for (const line of r.lines) {
    const minor = toMinorUnits(line.amount);
    const dims = [...common, { name: 'productLine', value: line.productLine }];
    const revenue = accounts.get('REVENUE_ACCOUNT', line.productLine, {
      productLine: line.productLine,
      kind: KIND_WORD[line.kind] ?? 'usage',
    });
    lines.add(deferred, `deferred revenue released, ${line.productLine}`, dims, minor, line.invoiceLineId);
    lines.add(
      revenue,
      `${KIND_WORD[line.kind] ?? 'usage'} revenue recognized, ${line.productLine}`,
      dims,
      -minor,
      line.invoiceLineId,
    );
  }
  if (accounts.missing.length > 0) return { ok: false, missing: accounts.missing };
  const monthEnd = lastDayOf(r.month);
  const postingDate = monthEnd > r.documentPostingDate ? monthEnd : r.documentPostingDate;
  const entry: JournalEntry = {
    documentDate: monthEnd,
    postingDate,
    accountingPeriod: postingDate.slice(0, 7),
    requestedPeriod: null,
    periodMoveReason: null,
    description: `Revenue recognition ${r.month} of ${r.documentNumber} ${r.customer.name}`,
    currency: r.currency,
    lines: lines.lines(r.currency),
  };
  if (entry.lines.length > 0) assertBalanced(entry);
  return { ok: true, entry, erpCustomerAccount: null, portions: [] };
}

/**
 * A prepaid credit movement's entry. Purchased: receivable → prepaid credit (a liability until used). Granted:
 * promotional expense → prepaid credit. Expiry releases what was left: purchased credit to expired-credit income
 * (breakage), granted credit back against the promotional expense it came from.
 */
export function buildPrepaidCreditEntry(m: PrepaidCreditForPosting, lookup: MappingLookup): BuildResult {
  const accounts = new Accounts(lookup);
  const dims = [
    { name: 'customer', value: m.customer.externalKey },
    { name: 'legalEntity', value: m.legalEntityCode },
    { name: 'document', value: m.movementId },
  ];
  const erpCustomerId = accounts.optional('ERP_CUSTOMER_ID', m.customer.id);
  const liability = accounts.get('PREPAID_CREDIT_ACCOUNT', m.legalEntityCode);
  const promotional = () => accounts.get('PROMOTIONAL_CREDIT_ACCOUNT', m.legalEntityCode);
  const minor = toMinorUnits(m.amount);
  const lines = new EntryLines();
  let receivable: string | null = null;
  if (m.kind === 'PREPAID_CREDIT_GRANT') {
    if (m.grantKind === 'PURCHASED') {
      const control = accounts.get('RECEIVABLE_ACCOUNT', m.legalEntityCode);
      receivable = erpCustomerId ? `${control}:${erpCustomerId}` : control;
      lines.add(receivable, `prepaid credit bought by ${m.customer.name}`, dims, minor, null);
    } else {
      lines.add(promotional(), `prepaid credit granted to ${m.customer.name}`, dims, minor, null);
    }
    lines.add(liability, `prepaid credit, ${m.description}`, dims, -minor, null);
  } else {
    lines.add(liability, `prepaid credit expired, ${m.description}`, dims, minor, null);
    const release =
      m.grantKind === 'PURCHASED' ? accounts.get('EXPIRED_CREDIT_ACCOUNT', m.legalEntityCode) : promotional();
    lines.add(release, `prepaid credit expired, ${m.customer.name}`, dims, -minor, null);
  }
  if (accounts.missing.length > 0) return { ok: false, missing: accounts.missing };
  const entry: JournalEntry = {
    documentDate: m.issueDate,
    postingDate: m.issueDate,
    accountingPeriod: m.issueDate.slice(0, 7),
    requestedPeriod: null,
    periodMoveReason: null,
    description: `${m.kind === 'PREPAID_CREDIT_GRANT' ? 'Prepaid credit' : 'Expired prepaid credit'} ${m.description} ${m.customer.name}`,
    currency: m.currency,
    lines: lines.lines(m.currency),
  };
  if (entry.lines.length > 0) assertBalanced(entry);
  return { ok: true, entry, erpCustomerAccount: receivable && erpCustomerId ? receivable : null, portions: [] };
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
    if (minor === 0n) throw new UnbalancedEntryError(`line ${line.lineNo} is zero; an entry has no zero lines`);
    if (line.side === 'DEBIT') debits += minor;
    else credits += minor;
  }
  return { debits, credits };
}

/** Σ debits = Σ credits in minor units, exactly, with at least two lines and none of them zero. */
export function assertBalanced(entry: JournalEntry): void {
  if (entry.lines.length < 2) throw new UnbalancedEntryError('a journal entry needs at least two lines');
  const { debits, credits } = totals(entry);
  if (debits !== credits) {
    throw new UnbalancedEntryError(
      `journal entry does not balance: debits ${fromMinorUnits(debits, entry.currency).amount} ≠ credits ${fromMinorUnits(credits, entry.currency).amount} ${entry.currency}`,
    );
  }
}
