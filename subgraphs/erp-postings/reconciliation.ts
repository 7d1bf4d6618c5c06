// Pure: a billing period reconciled from usage to the ERP's own balances, per customer and revenue line, with every
// difference between two stages named by a reason the system can tell. No I/O: reconcile-period.ts loads the inputs.
import { createHash } from 'node:crypto';
import { fromMinorUnits, isCurrency, minorDigits, toMinorUnits, type Money } from '../../lib/money';
import type { LedgerTransaction } from './connectors';
import type { PostingStatus } from './store';

export type ChargeKind = 'USAGE' | 'FEE' | 'COMMITMENT';

export interface RatedLineInput {
  id: string;
  subscriptionId: string;
  customerId: string;
  kind: ChargeKind;
  productLine: string;
  usageTypeKey: string | null;
  unit: string;
  quantity: string;
  eventCount: number;
  amount: Money;
}

export interface InvoiceInput {
  id: string;
  number: string | null;
  status: 'DRAFT' | 'FINALIZED';
  customerId: string;
  subscriptionId: string;
  legalEntityCode: string;
  lines: Array<{ kind: ChargeKind; productLine: string; amount: Money }>;
  /** Credit and debit notes issued on it (amounts positive; the kind says which way). Absent: none. */
  notes?: NoteInput[];
  /** PROGRESSIVE: billed part of the period mid-period (threshold billing); absent or FINAL: the period's invoice. */
  kind?: 'FINAL' | 'PROGRESSIVE';
}

export interface NoteInput {
  id: string;
  number: string;
  kind: 'CREDIT' | 'DEBIT';
  lines: Array<{ kind: ChargeKind; productLine: string; amount: Money }>;
}

export interface PostingInput {
  id: string;
  postingKey: string;
  invoiceId: string;
  /** The note it books, for a credit or debit note's posting; absent for the invoice's own. */
  noteId?: string | null;
  status: PostingStatus;
  lines: Array<{ account: string; side: 'DEBIT' | 'CREDIT'; amount: Money }>;
}

export interface CustomerInput {
  id: string;
  externalKey: string;
  name: string;
  legalEntityCode: string;
}

export interface HeldUsageInput {
  exceptionId: string;
  customerKey: string;
  heldEventCount: number;
  problem: string;
}

export interface LateUsageInput {
  aggregateId: string;
  subscriptionId: string;
  usageTypeKey: string;
  pendingEventCount: number;
}

export interface ReconciliationInputs {
  period: string;
  legalEntityCode: string | null;
  ratedLines: RatedLineInput[];
  invoices: InvoiceInput[];
  postings: PostingInput[];
  customers: CustomerInput[];
  heldUsage: HeldUsageInput[];
  lateUsage: LateUsageInput[];
  ledger: LedgerTransaction[];
  /** The revenue account of a product line and kind under finance's account mappings (journal.ts revenueAccountOf). */
  revenueAccount(productLine: string, kind: ChargeKind): string;
}

export type Stage = 'USAGE' | 'RATED' | 'INVOICED' | 'POSTED' | 'LEDGER';

/** The reasons a difference can have; the API's ReconciliationReason enum lists the same values. */
export const RECONCILIATION_REASONS = [
  'HELD_EVENTS',
  'UNRATED_LATE_USAGE',
  'NOT_INVOICED',
  'DRAFT_INVOICE',
  'ADJUSTMENT_WITHOUT_NOTE',
  'NOT_POSTED',
  'POSTING_IN_FLIGHT',
  'POSTING_HELD',
  'POSTING_DEAD_LETTERED',
  'MANUAL_ERP_ENTRY',
  'MISSING_IN_ERP',
  'UNEXPLAINED',
] as const;
export type ReconciliationReason = (typeof RECONCILIATION_REASONS)[number];

/** Reasons that leave a period open: the system cannot say why the numbers differ, or the ERP lost a document. */
const UNEXPLAINED_REASONS = new Set<ReconciliationReason>(['MISSING_IN_ERP', 'UNEXPLAINED']);

export interface Difference {
  from: Stage;
  to: Stage;
  reason: ReconciliationReason;
  explained: boolean;
  /** The amount it accounts for (from − to); null when it is not money yet (held or late events). */
  amount: Money | null;
  /** How many records it concerns (events, invoices, postings, ledger transactions). */
  count: number;
  detail: string;
  /** Ids of the records (exception, invoice, posting, aggregate ids, ledger transaction codes), up to 20. */
  recordIds: string[];
}

export interface UsageQuantity {
  usageTypeKey: string;
  unit: string;
  quantity: string;
  eventCount: number;
}

export interface ReconciliationLine {
  account: string;
  productLine: string;
  kind: ChargeKind;
  currency: string;
  usage: UsageQuantity[];
  rated: Money;
  invoiced: Money;
  posted: Money;
  ledger: Money;
  differences: Difference[];
  reconciled: boolean;
  invoiceIds: string[];
}

export interface CustomerReconciliation {
  customerId: string;
  customerKey: string;
  customerName: string;
  legalEntityCode: string;
  lines: ReconciliationLine[];
  /** Differences of the customer not tied to one revenue line (held events). */
  differences: Difference[];
  reconciled: boolean;
}

export interface StageTotals {
  currency: string;
  rated: Money;
  invoiced: Money;
  posted: Money;
  ledger: Money;
}

export interface PeriodReconciliation {
  period: string;
  legalEntityCode: string | null;
  customers: CustomerReconciliation[];
  /** Differences not tied to a known customer (events of unknown customers, untagged manual ERP entries). */
  differences: Difference[];
  totals: StageTotals[];
  reconciled: boolean;
  unexplainedCount: number;
  /** A digest of the report's figures: a sign-off is current while the figures still digest to it. */
  digest: string;
  csv: string;
}

const IN_FLIGHT: PostingStatus[] = ['PENDING', 'SENDING', 'RETRY_SCHEDULED'];

interface Acc {
  customerId: string;
  account: string;
  productLine: string;
  kind: ChargeKind;
  currency: string;
  usage: Map<string, { unit: string; quantity: bigint; scale: number; eventCount: number }>;
  rated: bigint;
  invoiced: bigint;
  posted: bigint;
  ledger: bigint;
  differences: Difference[];
  invoiceIds: Set<string>;
}

const money = (minor: bigint, currency: string): Money => fromMinorUnits(minor, currency);

/** Adds a decimal string to a scaled integer sum exactly (quantities may have any number of decimals). */
function addDecimal(sum: { quantity: bigint; scale: number }, value: string): void {
  const [whole = '0', frac = ''] = value.replace(/^-/, '').split('.');
  const negative = value.startsWith('-');
  const scale = Math.max(sum.scale, frac.length);
  const current = sum.quantity * 10n ** BigInt(scale - sum.scale);
  const add = BigInt(whole + frac.padEnd(scale, '0')) * (negative ? -1n : 1n);
  sum.quantity = current + add;
  sum.scale = scale;
}

function decimalText(quantity: bigint, scale: number): string {
  if (scale === 0) return quantity.toString();
  const negative = quantity < 0n;
  const digits = (negative ? -quantity : quantity).toString().padStart(scale + 1, '0');
  const text = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`.replace(/\.?0+$/, '');
  return `${negative ? '-' : ''}${text}`;
}

const tagOf = (tags: Array<[string, string]>, name: string): string | undefined => tags.find(([n]) => n === name)?.[1];

/** A ledger amount in minor units of its commodity (hledger keeps the mantissa and the decimal places). */
function ledgerMinor(quantity: { decimalMantissa: number; decimalPlaces: number }, currency: string): bigint {
  const digits = minorDigits(currency);
  const mantissa = BigInt(quantity.decimalMantissa);
  const shift = digits - quantity.decimalPlaces;
  return shift >= 0 ? mantissa * 10n ** BigInt(shift) : mantissa / 10n ** BigInt(-shift);
}

/** hledger writes a zero amount without a commodity ("0"): only amounts in a currency count (a zero adds nothing). */
const moneyAmounts = (amounts: LedgerTransaction['tpostings'][number]['pamount']) =>
  amounts.filter((a) => isCurrency(a.acommodity));

const sample = (ids: Iterable<string>): string[] => [...ids].slice(0, 20);

/** An invoice and its notes, each with the sign its lines carry (a credit note takes back what the invoice billed). */
function documentsOf(inv: InvoiceInput) {
  return [
    { id: inv.id, name: `invoice ${inv.number ?? inv.id}`, sign: 1n, lines: inv.lines },
    ...(inv.notes ?? []).map((n) => ({
      id: n.id,
      name: `${n.kind === 'CREDIT' ? 'credit' : 'debit'} note ${n.number}`,
      sign: n.kind === 'CREDIT' ? -1n : 1n,
      lines: n.lines,
    })),
  ];
}

/** A posting's revenue per account, signed as revenue: credits add, debits (a credit note's) take back. */
function revenueOf(posting: PostingInput | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const l of posting?.lines ?? []) {
    const minor = toMinorUnits(l.amount) * (l.side === 'CREDIT' ? 1n : -1n);
    out.set(l.account, (out.get(l.account) ?? 0n) + minor);
  }
  return out;
}

/** Why a document's revenue is not (all) posted, by its posting's state. */
function postingGap(
  posting: PostingInput | undefined,
  doc: { id: string; name: string },
  account: string,
  gap: Money,
): Difference {
  const document = doc.name;
  const status = posting?.status;
  const [reason, detail]: [ReconciliationReason, string] = !posting
    ? ['NOT_POSTED', `${document} is issued but not posted yet`]
    : status && IN_FLIGHT.includes(status)
      ? ['POSTING_IN_FLIGHT', `posting ${posting.id} of ${document} is on its way to the ERP (${status})`]
      : status === 'HELD'
        ? ['POSTING_HELD', `posting ${posting.id} of ${document} is held (e.g. a closed period): see the work queue`]
        : status === 'DEAD_LETTER'
          ? ['POSTING_DEAD_LETTERED', `posting ${posting.id} of ${document} ran out of retries: replay it`]
          : ['UNEXPLAINED', `posting ${posting.id} books ${account} differently from ${document}`];
  return {
    from: 'INVOICED',
    to: 'POSTED',
    reason,
    explained: !UNEXPLAINED_REASONS.has(reason),
    amount: gap,
    count: 1,
    detail,
    recordIds: [posting?.id ?? doc.id],
  };
}

/** Reconciles one period from its inputs; the same inputs always give the same report and digest. */
export function reconcilePeriod(inputs: ReconciliationInputs): PeriodReconciliation {
  const customers = new Map(inputs.customers.map((c) => [c.id, c]));
  const inScope = (customerId: string) =>
    !inputs.legalEntityCode || customers.get(customerId)?.legalEntityCode === inputs.legalEntityCode;
  const lines = new Map<string, Acc>();
  const lineOf = (customerId: string, kind: ChargeKind, productLine: string, currency: string): Acc => {
    const account = inputs.revenueAccount(productLine, kind);
    const key = `${customerId}\u0000${account}\u0000${currency}`;
    let acc = lines.get(key);
    if (!acc) {
      acc = {
        customerId,
        account,
        productLine,
        kind,
        currency,
        usage: new Map(),
        rated: 0n,
        invoiced: 0n,
        posted: 0n,
        ledger: 0n,
        differences: [],
        invoiceIds: new Set(),
      };
      lines.set(key, acc);
    }
    return acc;
  };
  const lineByAccount = (customerId: string, account: string, currency: string) =>
    lines.get(`${customerId}\u0000${account}\u0000${currency}`);

  // Rated: the current charges, per subscription too (to tell which subscription's invoice explains a gap).
  const ratedBySubscription = new Map<string, Map<Acc, bigint>>();
  for (const r of inputs.ratedLines) {
    if (!inScope(r.customerId)) continue;
    const acc = lineOf(r.customerId, r.kind, r.productLine, r.amount.currency);
    const minor = toMinorUnits(r.amount);
    acc.rated += minor;
    const perSub = ratedBySubscription.get(r.subscriptionId) ?? new Map<Acc, bigint>();
    perSub.set(acc, (perSub.get(acc) ?? 0n) + minor);
    ratedBySubscription.set(r.subscriptionId, perSub);
    if (r.kind === 'USAGE' && r.usageTypeKey) {
      const u = acc.usage.get(r.usageTypeKey) ?? { unit: r.unit, quantity: 0n, scale: 0, eventCount: 0 };
      addDecimal(u, r.quantity);
      u.eventCount += r.eventCount;
      acc.usage.set(r.usageTypeKey, u);
    }
  }

  // Invoiced (finalized invoices only), and the rated → invoiced gap explained per subscription.
  const invoiceOfSubscription = new Map<string, InvoiceInput>();
  const invoiceById = new Map<string, InvoiceInput>();
  // Progressive invoices (threshold billing) billed part of the period already: their lines count as invoiced too.
  const progressiveOfSubscription = new Map<string, InvoiceInput[]>();
  for (const inv of inputs.invoices) {
    if (!inScope(inv.customerId)) continue;
    if (inv.kind === 'PROGRESSIVE') {
      if (inv.status === 'FINALIZED')
        progressiveOfSubscription.set(inv.subscriptionId, [
          ...(progressiveOfSubscription.get(inv.subscriptionId) ?? []),
          inv,
        ]);
    } else invoiceOfSubscription.set(inv.subscriptionId, inv);
    invoiceById.set(inv.id, inv);
  }
  for (const [subscriptionId, perLine] of ratedBySubscription) {
    const inv = invoiceOfSubscription.get(subscriptionId);
    const invoicedHere = new Map<Acc, bigint>();
    const progressiveHere = new Map<Acc, bigint>();
    const add = (into: Map<Acc, bigint>, from: InvoiceInput) => {
      for (const doc of documentsOf(from)) {
        for (const l of doc.lines) {
          const acc = lineOf(from.customerId, l.kind, l.productLine, l.amount.currency);
          acc.invoiceIds.add(from.id);
          into.set(acc, (into.get(acc) ?? 0n) + doc.sign * toMinorUnits(l.amount));
        }
      }
    };
    if (inv) add(invoicedHere, inv);
    for (const p of progressiveOfSubscription.get(subscriptionId) ?? []) add(progressiveHere, p);
    for (const acc of new Set([...perLine.keys(), ...invoicedHere.keys(), ...progressiveHere.keys()])) {
      const progressive = progressiveHere.get(acc) ?? 0n;
      const rated = (perLine.get(acc) ?? 0n) - progressive;
      const invoiced = invoicedHere.get(acc) ?? 0n;
      acc.invoiced += progressive;
      if (inv?.status === 'FINALIZED') acc.invoiced += invoiced;
      const gap = inv?.status === 'FINALIZED' ? rated - invoiced : rated;
      if (gap === 0n) continue;
      const [reason, detail]: [ReconciliationReason, string] = !inv
        ? ['NOT_INVOICED', `subscription ${subscriptionId} is rated but has no invoice for ${inputs.period} yet`]
        : inv.status === 'DRAFT'
          ? ['DRAFT_INVOICE', `invoice ${inv.id} is still a draft: finalize it to invoice this amount`]
          : [
              'ADJUSTMENT_WITHOUT_NOTE',
              `the charges were re-rated after invoice ${inv.number ?? inv.id} was finalized and no note carries the difference yet${inv.notes?.length ? ` (beyond ${inv.notes.map((n) => n.number).join(', ')})` : ''}: issue the credit or debit note`,
            ];
      acc.differences.push({
        from: 'RATED',
        to: 'INVOICED',
        reason,
        explained: true,
        amount: money(gap, acc.currency),
        count: 1,
        detail,
        recordIds: [inv?.id ?? subscriptionId],
      });
    }
  }

  // Posted: the revenue lines of the postings the ERP booked, the invoice's and its notes' (a credit note's debit
  // takes revenue back); the invoiced → posted gap is explained per document by its posting's state.
  const postingOfDocument = new Map(inputs.postings.map((p) => [p.noteId ?? p.invoiceId, p]));
  const postingByKey = new Map<string, PostingInput>();
  for (const inv of invoiceById.values()) {
    if (inv.status !== 'FINALIZED') continue;
    for (const doc of documentsOf(inv)) {
      if (doc.lines.length === 0) continue;
      const posting = postingOfDocument.get(doc.id);
      if (posting) postingByKey.set(posting.postingKey, posting);
      const invoicedByAccount = new Map<string, bigint>();
      for (const l of doc.lines) {
        const account = inputs.revenueAccount(l.productLine, l.kind);
        invoicedByAccount.set(account, (invoicedByAccount.get(account) ?? 0n) + doc.sign * toMinorUnits(l.amount));
      }
      const postedByAccount = revenueOf(posting);
      for (const [account, invoiced] of invoicedByAccount) {
        const acc = lineByAccount(inv.customerId, account, doc.lines[0]!.amount.currency)!;
        const posted = posting?.status === 'POSTED' ? (postedByAccount.get(account) ?? 0n) : 0n;
        acc.posted += posted;
        const gap = invoiced - posted;
        if (gap === 0n) continue;
        acc.differences.push(postingGap(posting, doc, account, money(gap, acc.currency)));
      }
    }
  }

  // The ledger's own balances: revenue postings of our transactions (by code) and manual entries for the period.
  const periodDifferences: Difference[] = [];
  const ledgerByPosting = new Map<string, Map<string, bigint>>();
  const manual = new Map<Acc | null, { minor: Map<string, bigint>; codes: string[] }>();
  const customerByKey = new Map(inputs.customers.map((c) => [c.externalKey, c]));
  for (const t of inputs.ledger) {
    const revenue = t.tpostings.filter((p) => p.paccount.startsWith('revenue:'));
    if (revenue.length === 0) continue;
    const ours = postingByKey.get(t.tcode);
    if (ours) {
      const byAccount = ledgerByPosting.get(ours.id) ?? new Map<string, bigint>();
      for (const p of revenue)
        for (const a of moneyAmounts(p.pamount))
          byAccount.set(p.paccount, (byAccount.get(p.paccount) ?? 0n) - ledgerMinor(a.aquantity, a.acommodity));
      ledgerByPosting.set(ours.id, byAccount);
      continue;
    }
    if (tagOf(t.ttags, 'idem') || t.tcode.startsWith('ug:')) continue; // ours, but of another period or entity
    for (const p of revenue) {
      const servicePeriod = tagOf(p.ptags, 'servicePeriod') ?? tagOf(t.ttags, 'servicePeriod');
      if (servicePeriod ? servicePeriod !== inputs.period : !t.tdate.startsWith(inputs.period)) continue;
      const customer = customerByKey.get(tagOf(p.ptags, 'customer') ?? tagOf(t.ttags, 'customer') ?? '');
      if (customer && !inScope(customer.id)) continue;
      for (const a of moneyAmounts(p.pamount)) {
        const acc = customer ? lineByAccount(customer.id, p.paccount, a.acommodity) : undefined;
        const bucket = manual.get(acc ?? null) ?? { minor: new Map<string, bigint>(), codes: [] };
        const minor = -ledgerMinor(a.aquantity, a.acommodity);
        bucket.minor.set(a.acommodity, (bucket.minor.get(a.acommodity) ?? 0n) + minor);
        bucket.codes.push(t.tcode || `${t.tdate} ${t.tdescription}`);
        manual.set(acc ?? null, bucket);
        if (acc) acc.ledger += minor;
      }
    }
  }
  for (const posting of postingByKey.values()) {
    if (posting.status !== 'POSTED') continue;
    const inv = invoiceById.get(posting.invoiceId)!;
    const inLedger = ledgerByPosting.get(posting.id);
    const currency = posting.lines[0]?.amount.currency ?? '';
    for (const [account, postedMinor] of revenueOf(posting)) {
      const acc = lineByAccount(inv.customerId, account, currency);
      if (!acc) continue;
      const ledger = inLedger?.get(account) ?? 0n;
      acc.ledger += ledger;
      const gap = postedMinor - ledger;
      if (gap === 0n) continue;
      acc.differences.push({
        from: 'POSTED',
        to: 'LEDGER',
        reason: inLedger ? 'UNEXPLAINED' : 'MISSING_IN_ERP',
        explained: false,
        amount: money(gap, acc.currency),
        count: 1,
        detail: inLedger
          ? `the ERP books ${account} of ${posting.postingKey} differently from the posting`
          : `posting ${posting.postingKey} is POSTED in our records but the ERP has no such transaction`,
        recordIds: [posting.id],
      });
    }
  }
  for (const [acc, bucket] of manual) {
    for (const [currency, minor] of bucket.minor) {
      const difference: Difference = {
        from: 'POSTED',
        to: 'LEDGER',
        reason: 'MANUAL_ERP_ENTRY',
        explained: true,
        amount: money(-minor, currency),
        count: bucket.codes.length,
        detail: `${bucket.codes.length} revenue entr${bucket.codes.length === 1 ? 'y' : 'ies'} made in the ERP by hand, not by UsageGraph`,
        recordIds: sample(bucket.codes),
      };
      (acc ? acc.differences : periodDifferences).push(difference);
    }
  }

  // Usage not yet in money: held events (per customer key) and late events (per subscription's customer).
  const customerDifferences = new Map<string, Difference[]>();
  const pushCustomer = (customerId: string, d: Difference) =>
    customerDifferences.set(customerId, [...(customerDifferences.get(customerId) ?? []), d]);
  for (const h of inputs.heldUsage) {
    const customer = customerByKey.get(h.customerKey);
    if (customer && !inScope(customer.id)) continue;
    const d: Difference = {
      from: 'USAGE',
      to: 'RATED',
      reason: 'HELD_EVENTS',
      explained: true,
      amount: null,
      count: h.heldEventCount,
      detail: `${h.heldEventCount} event(s) for "${h.customerKey}" are held: ${h.problem}`,
      recordIds: [h.exceptionId],
    };
    if (customer) pushCustomer(customer.id, d);
    else periodDifferences.push(d);
  }
  const customerOfSubscription = new Map(inputs.ratedLines.map((r) => [r.subscriptionId, r.customerId]));
  for (const l of inputs.lateUsage) {
    const customerId = customerOfSubscription.get(l.subscriptionId);
    if (!customerId || !inScope(customerId)) continue;
    pushCustomer(customerId, {
      from: 'USAGE',
      to: 'RATED',
      reason: 'UNRATED_LATE_USAGE',
      explained: true,
      amount: null,
      count: l.pendingEventCount,
      detail: `${l.pendingEventCount} ${l.usageTypeKey} event(s) arrived after rating; re-rating the period adds them`,
      recordIds: [l.aggregateId],
    });
  }

  const byCustomer = new Map<string, ReconciliationLine[]>();
  for (const acc of [...lines.values()].sort((a, b) => a.account.localeCompare(b.account))) {
    const line: ReconciliationLine = {
      account: acc.account,
      productLine: acc.productLine,
      kind: acc.kind,
      currency: acc.currency,
      usage: [...acc.usage.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([usageTypeKey, u]) => ({
          usageTypeKey,
          unit: u.unit,
          quantity: decimalText(u.quantity, u.scale),
          eventCount: u.eventCount,
        })),
      rated: money(acc.rated, acc.currency),
      invoiced: money(acc.invoiced, acc.currency),
      posted: money(acc.posted, acc.currency),
      ledger: money(acc.ledger, acc.currency),
      differences: acc.differences,
      reconciled: acc.differences.every((d) => d.explained),
      invoiceIds: [...acc.invoiceIds].sort(),
    };
    byCustomer.set(acc.customerId, [...(byCustomer.get(acc.customerId) ?? []), line]);
  }
  for (const customerId of customerDifferences.keys()) if (!byCustomer.has(customerId)) byCustomer.set(customerId, []);
  const customerRows: CustomerReconciliation[] = [...byCustomer.entries()]
    .map(([customerId, customerLines]) => {
      const c = customers.get(customerId);
      const differences = customerDifferences.get(customerId) ?? [];
      return {
        customerId,
        customerKey: c?.externalKey ?? customerId,
        customerName: c?.name ?? customerId,
        legalEntityCode: c?.legalEntityCode ?? '',
        lines: customerLines,
        differences,
        reconciled: customerLines.every((l) => l.reconciled) && differences.every((d) => d.explained),
      };
    })
    .sort((a, b) => a.customerKey.localeCompare(b.customerKey) || a.customerId.localeCompare(b.customerId));

  const totals = new Map<string, { rated: bigint; invoiced: bigint; posted: bigint; ledger: bigint }>();
  for (const acc of lines.values()) {
    const t = totals.get(acc.currency) ?? { rated: 0n, invoiced: 0n, posted: 0n, ledger: 0n };
    t.rated += acc.rated;
    t.invoiced += acc.invoiced;
    t.posted += acc.posted;
    t.ledger += acc.ledger;
    totals.set(acc.currency, t);
  }
  for (const d of periodDifferences) {
    if (d.reason !== 'MANUAL_ERP_ENTRY' || !d.amount) continue;
    const t = totals.get(d.amount.currency) ?? { rated: 0n, invoiced: 0n, posted: 0n, ledger: 0n };
    t.ledger -= toMinorUnits(d.amount);
    totals.set(d.amount.currency, t);
  }
  const unexplainedCount =
    customerRows.reduce(
      (n, c) =>
        n +
        c.differences.filter((d) => !d.explained).length +
        c.lines.reduce((m, l) => m + l.differences.filter((d) => !d.explained).length, 0),
      0,
    ) + periodDifferences.filter((d) => !d.explained).length;
  const report = {
    period: inputs.period,
    legalEntityCode: inputs.legalEntityCode,
    customers: customerRows,
    differences: periodDifferences,
    totals: [...totals.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([currency, t]) => ({
        currency,
        rated: money(t.rated, currency),
        invoiced: money(t.invoiced, currency),
        posted: money(t.posted, currency),
        ledger: money(t.ledger, currency),
      })),
    reconciled: unexplainedCount === 0,
    unexplainedCount,
  };
  const csv = reconciliationCsv(report);
  return { ...report, csv, digest: createHash('sha256').update(csv).digest('hex') };
}

const CSV_HEADER = [
  'period',
  'legal_entity',
  'customer_key',
  'customer_name',
  'account',
  'product_line',
  'currency',
  'usage',
  'events',
  'rated',
  'invoiced',
  'posted',
  'ledger',
  'differences',
  'reconciled',
];

function csvCell(value: string | number | boolean): string {
  const text = String(value);
  // A leading =, +, - or @ would be a formula in a spreadsheet; quote and prefix it (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(text) && !/^-?\d/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) || safe !== text ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const describeDifferences = (ds: Difference[]) =>
  ds
    .map(
      (d) => `${d.from}->${d.to} ${d.reason}${d.amount ? ` ${d.amount.amount} ${d.amount.currency}` : ''} (${d.count})`,
    )
    .join('; ');

/** The report as CSV: one row per customer and revenue line, then rows for differences of a customer or the period. */
export function reconciliationCsv(report: Omit<PeriodReconciliation, 'csv' | 'digest'>): string {
  const rows: Array<Array<string | number | boolean>> = [CSV_HEADER];
  const entity = report.legalEntityCode ?? '';
  for (const c of report.customers) {
    for (const l of c.lines) {
      rows.push([
        report.period,
        c.legalEntityCode || entity,
        c.customerKey,
        c.customerName,
        l.account,
        l.productLine,
        l.currency,
        l.usage.map((u) => `${u.quantity} ${u.unit}`).join('; '),
        l.usage.reduce((n, u) => n + u.eventCount, 0),
        l.rated.amount,
        l.invoiced.amount,
        l.posted.amount,
        l.ledger.amount,
        describeDifferences(l.differences),
        l.reconciled,
      ]);
    }
    if (c.differences.length)
      rows.push([
        report.period,
        c.legalEntityCode || entity,
        c.customerKey,
        c.customerName,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        describeDifferences(c.differences),
        c.differences.every((d) => d.explained),
      ]);
  }
  if (report.differences.length)
    rows.push([
      report.period,
      entity,
      '',
      '(not tied to a customer)',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      describeDifferences(report.differences),
      report.differences.every((d) => d.explained),
    ]);
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
