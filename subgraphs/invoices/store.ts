// The invoices subgraph's collections. Drafts change; an invoice, once finalized, is a separate document that is only
// ever inserted (never updated), so no concurrent draft refresh can touch it (see lib/keyed-mutex.ts for why).
// Lines are embedded, so every write of an invoice or draft is one document.
import { MAX_KEYS_PER_QUERY, queryableKeys } from '../../lib/loaders';
import DataLoader from 'dataloader';
import type { Collection, Db, Filter } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { RecordLocks, type RecordLockDoc } from '../../lib/record-locks';
import { Outbox } from '../../lib/outbox';
import { afterPosition, BY_ID, pageSize, sortFor, toPage, type Page, type SortOrder } from '../../lib/pagination';
import { zero, type Money, type RoundingMode } from '../../lib/money';
import type { TaxRoundingLevel } from './tax/compute';
import type { CreditWalletDoc } from './credit-wallets';
import type { CreditMovementDoc } from './prepaid-credits';
import { TaxTableEngine, type TaxAddress, type TaxEngine, type TaxExemption, type TaxRateDoc } from './tax/engine';

export type InvoiceLineKind = 'USAGE' | 'FEE' | 'COMMITMENT';

/** One tax on one line (or note line). */
export interface LineTaxDoc {
  jurisdiction: string;
  name: string;
  ratePercent: string;
  amount: Money;
}

/** A document's tax for one jurisdiction and rate. */
export interface TaxLineDoc {
  jurisdiction: string;
  name: string;
  ratePercent: string;
  taxable: Money;
  amount: Money;
}

/** How a document was taxed: kept on it, so a note corrects at the invoice's rates and context. */
export interface TaxContextDoc {
  engine: string;
  jurisdiction: string | null;
  /** YYYY-MM-DD the tax was calculated for. */
  taxDate: string;
  exemption: TaxExemption | null;
  address: TaxAddress | null;
  customerTaxId: string | null;
  rounding: { mode: RoundingMode; level: TaxRoundingLevel };
}

export interface InvoiceLineDoc {
  id: string;
  lineNo: number;
  /** Absent on lines written before fees and commitments existed: those are usage. */
  kind?: InvoiceLineKind;
  description: string;
  productLine: string;
  usageTypeKey: string | null;
  quantity: string;
  unit: string;
  unitPrice: string;
  amount: Money;
  ratedChargeId: string;
  /** Absent on lines written before notes existed: looked up from the rated charge. */
  lineKey?: string;
  /** The time the line pays for; absent on old lines (then the billing period). */
  servicePeriod?: { from: Date; to: Date };
  /** Absent on lines written before tax existed: none. */
  taxes?: LineTaxDoc[];
  /** A line deducting what this progressive invoice already billed (negative amount and taxes); absent otherwise. */
  alreadyBilledInvoiceId?: string;
}

export type InvoiceStatus = 'DRAFT' | 'FINALIZED' | 'VOIDED';

/** FINAL bills a whole period (absent on invoices written before progressive billing); PROGRESSIVE, a threshold crossed. */
export type InvoiceKind = 'FINAL' | 'PROGRESSIVE';

export interface InvoiceDoc {
  _id: string;
  status: InvoiceStatus;
  number: string | null;
  customerId: string;
  subscriptionId: string;
  legalEntityCode: string;
  periodKey: string;
  currency: string;
  lines: InvoiceLineDoc[];
  /** Absent on invoices written before tax existed: the total (they had no tax). */
  subtotal?: Money;
  taxLines?: TaxLineDoc[];
  taxTotal?: Money;
  /** Subtotal plus tax. */
  total: Money;
  tax?: TaxContextDoc;
  issueDate: string | null;
  finalizedAt: Date | null;
  /** 0 for the first invoice of a subscription period, +1 for each replacement of a voided one. */
  replacement?: number;
  replacesInvoiceId?: string | null;
  replacedByInvoiceId?: string | null;
  voidedAt?: Date | null;
  voidReason?: string | null;
  kind?: InvoiceKind;
  /** The pre-tax amount earlier progressive invoices of the period billed, deducted here; absent: zero. */
  alreadyBilled?: Money;
  /** The progressive invoice whose gross lines are deducted (the period's latest when drafted); absent: none. */
  alreadyBilledBasisId?: string | null;
  /** PROGRESSIVE: the crossing that issued it. */
  usageThreshold?: { crossingId: string; index: number; amount: string; accrued: string } | null;
  createdAt: Date;
  updatedAt: Date;
  correlationId: string;
}

/** Where an adjustment stands; the API's RatingAdjustmentStatus enum lists the same values. */
export const ADJUSTMENT_STATUSES = ['OPEN', 'SUPERSEDED', 'ISSUED'] as const;
export type AdjustmentStatus = (typeof ADJUSTMENT_STATUSES)[number];

/** What a note line needs to say about the line as it is now. */
export interface LineNowDoc {
  kind: InvoiceLineKind;
  description: string;
  productLine: string;
  usageTypeKey: string | null;
  quantity: string;
  unit: string;
  unitPrice: string;
  servicePeriod: { from: Date; to: Date };
}

/**
 * The open difference of one invoice line: current − invoiced − corrected by notes. Recorded once per basis (the
 * line's current revision and the notes that touched it), so re-rating with nothing changed records nothing; a new
 * basis supersedes the line's open one. At most one is OPEN per invoice line.
 */
export interface AdjustmentDoc {
  _id: string;
  invoiceId: string;
  invoiceNumber: string;
  subscriptionId: string;
  customerId: string;
  legalEntityCode: string;
  periodKey: string;
  currency: string;
  lineKey: string;
  invoiceLineId: string | null;
  invoicedRatedChargeId: string | null;
  currentRatedChargeId: string | null;
  invoiced: Money;
  current: Money;
  corrected: Money;
  difference: Money;
  now: LineNowDoc;
  explanation: string;
  status: AdjustmentStatus;
  supersededBy: string | null;
  noteId: string | null;
  createdAt: Date;
  updatedAt: Date;
  correlationId: string;
}

export type NoteKind = 'CREDIT' | 'DEBIT';

export interface NoteLineDoc {
  id: string;
  lineNo: number;
  invoiceLineId: string | null;
  lineKey: string;
  adjustmentId: string;
  kind: InvoiceLineKind;
  description: string;
  productLine: string;
  quantity: string;
  unit: string;
  unitPrice: string;
  /** Positive; the note's kind says which way. */
  amount: Money;
  servicePeriod: { from: Date; to: Date };
  taxes: LineTaxDoc[];
}

/**
 * A credit or debit note. Its content is fixed when its correction slot (`${invoiceId}#${sequence}`) is inserted; it
 * is then numbered and inserted into the notes collection once, never updated.
 */
export interface NoteDoc {
  _id: string;
  number: string;
  kind: NoteKind;
  invoiceId: string;
  invoiceNumber: string;
  /** The invoice's n-th correction. */
  sequence: number;
  customerId: string;
  subscriptionId: string;
  legalEntityCode: string;
  periodKey: string;
  currency: string;
  lines: NoteLineDoc[];
  subtotal: Money;
  taxLines: TaxLineDoc[];
  taxTotal: Money;
  total: Money;
  tax: TaxContextDoc | null;
  issueDate: string;
  issuedAt: Date;
  issuedBy: string;
  correlationId: string;
}

/** A note decided but perhaps not yet numbered: the insert that makes a correction of an invoice exclusive. */
export interface NoteSlotDoc extends Omit<NoteDoc, '_id' | 'number' | 'issueDate' | 'issuedAt'> {
  _id: string; // `${invoiceId}#${sequence}`
  noteId: string;
  plannedAt: Date;
}

/** A number taken by a note, claimed before the note is written (like invoice numbers). */
export interface NoteNumberDoc {
  _id: string;
  series: string;
  sequence: number;
  noteId: string;
  claimedAt: Date;
}

/** A number taken by an invoice; claimed before it is written on the invoice, so a crash in between reuses it. */
export interface InvoiceNumberDoc {
  _id: string;
  series: string;
  sequence: number;
  invoiceId: string;
  claimedAt: Date;
}

export const indexes: IndexDeclaration[] = [
  ...['invoices', 'invoice_drafts'].flatMap((collection): IndexDeclaration[] => [
    { collection, keys: { customerId: 1, periodKey: -1 } },
    { collection, keys: { subscriptionId: 1, periodKey: 1 } },
    { collection, keys: { 'lines.ratedChargeId': 1 } },
    // The finance lists by status, legal entity or period, a page in id order each (test/query-plans.test.ts found them
    // read whole).
    { collection, keys: { status: 1, _id: 1 } },
    { collection, keys: { periodKey: 1, _id: 1 } },
    { collection, keys: { legalEntityCode: 1, _id: 1 } },
  ]),
  { collection: 'invoices', keys: { number: 1 }, options: { unique: true } },
  { collection: 'invoice_numbers', keys: { invoiceId: 1 }, options: { unique: true } },
  { collection: 'invoice_numbers', keys: { series: 1, sequence: -1 } },
  { collection: 'tax_rates', keys: { jurisdiction: 1, productLine: 1, effectiveFrom: 1 } },
  { collection: 'rating_adjustments', keys: { invoiceId: 1 } },
  { collection: 'rating_adjustments', keys: { subscriptionId: 1, periodKey: 1 } },
  // Finance's list pages open adjustments, oldest first.
  { collection: 'rating_adjustments', keys: { status: 1, createdAt: 1, _id: 1 } },
  { collection: 'note_slots', keys: { invoiceId: 1, sequence: 1 } },
  { collection: 'invoice_notes', keys: { number: 1 }, options: { unique: true } },
  { collection: 'invoice_notes', keys: { invoiceId: 1 } },
  { collection: 'invoice_notes', keys: { issuedAt: -1, _id: 1 } },
  { collection: 'note_numbers', keys: { noteId: 1 }, options: { unique: true } },
  { collection: 'note_numbers', keys: { series: 1, sequence: -1 } },
  // A wallet's movements in order; the unique key is what makes a consumption, expiry or grant happen once.
  { collection: 'prepaid_credit_movements', keys: { walletId: 1, sequence: 1 } },
  { collection: 'prepaid_credit_movements', keys: { key: 1 }, options: { unique: true } },
  { collection: 'prepaid_credit_movements', keys: { invoiceId: 1 } },
  // The background expiry pass pages grants by expiry.
  { collection: 'prepaid_credit_movements', keys: { kind: 1, 'grant.expiresAt': 1, _id: 1 } },
];

export interface InvoicesStore {
  /** Read-modify-write on one record, exclusive across every process of this subgraph (lib/record-locks.ts). */
  locks: RecordLocks;
  /** Business events raised by this subgraph, forwarded to the events subgraph (lib/outbox.ts). */
  outbox: Outbox;
  /** Calculates the tax of invoices: the tax table finance keeps, or an external engine behind the same interface. */
  taxEngine: TaxEngine;
  /** Finalized invoices: inserted once; only a void changes one afterwards (its status, never its content). */
  invoices: Collection<InvoiceDoc>;
  drafts: Collection<InvoiceDoc>;
  numbers: Collection<InvoiceNumberDoc>;
  taxRates: Collection<TaxRateDoc>;
  adjustments: Collection<AdjustmentDoc>;
  noteSlots: Collection<NoteSlotDoc>;
  notes: Collection<NoteDoc>;
  noteNumbers: Collection<NoteNumberDoc>;
  /** Prepaid credit: append-only movements per wallet (balances are derived from them) and each wallet's settings. */
  creditMovements: Collection<CreditMovementDoc>;
  creditWallets: Collection<CreditWalletDoc>;
  /** One per expiry movement erp-postings took (the movement's id): the background pass posts each once. */
  creditExpiryPostings: Collection<CreditExpiryPostingDoc>;
}

export interface CreditExpiryPostingDoc {
  _id: string;
  postingId: string;
  postedAt: Date;
}

export function invoicesStore(db: Db): InvoicesStore {
  return {
    locks: new RecordLocks(db.collection<RecordLockDoc>('record_locks')),
    outbox: new Outbox(db, 'invoices'),
    invoices: db.collection<InvoiceDoc>('invoices'),
    drafts: db.collection<InvoiceDoc>('invoice_drafts'),
    numbers: db.collection<InvoiceNumberDoc>('invoice_numbers'),
    taxEngine: new TaxTableEngine(db.collection<TaxRateDoc>('tax_rates')),
    taxRates: db.collection<TaxRateDoc>('tax_rates'),
    adjustments: db.collection<AdjustmentDoc>('rating_adjustments'),
    noteSlots: db.collection<NoteSlotDoc>('note_slots'),
    notes: db.collection<NoteDoc>('invoice_notes'),
    noteNumbers: db.collection<NoteNumberDoc>('note_numbers'),
    creditMovements: db.collection<CreditMovementDoc>('prepaid_credit_movements'),
    creditWallets: db.collection<CreditWalletDoc>('prepaid_credit_wallets'),
    creditExpiryPostings: db.collection<CreditExpiryPostingDoc>('prepaid_credit_expiry_postings'),
  };
}

/** What an invoice owes, in parts; invoices written before tax existed had none. */
export function amountsOf(invoice: InvoiceDoc): {
  subtotal: Money;
  taxTotal: Money;
  total: Money;
  taxLines: TaxLineDoc[];
} {
  return {
    subtotal: invoice.subtotal ?? invoice.total,
    taxTotal: invoice.taxTotal ?? zero(invoice.currency),
    total: invoice.total,
    taxLines: invoice.taxLines ?? [],
  };
}

/** Finalized invoices and drafts matching a filter; where both exist for an id (a draft left behind), the finalized one. */
export async function findInvoices(
  store: InvoicesStore,
  filter: Filter<InvoiceDoc>,
  options: { sort?: Record<string, 1 | -1>; limit?: number } = {},
): Promise<InvoiceDoc[]> {
  const query = (c: Collection<InvoiceDoc>) => {
    const cursor = c.find(filter).sort(options.sort ?? { _id: 1 });
    return (options.limit ? cursor.limit(options.limit) : cursor).toArray();
  };
  const [finalized, drafts] = await Promise.all([query(store.invoices), query(store.drafts)]);
  const byId = new Map<string, InvoiceDoc>(drafts.map((d) => [d._id, d]));
  for (const f of finalized) byId.set(f._id, f);
  const sort = Object.entries(options.sort ?? { _id: 1 });
  const merged = [...byId.values()].sort((a, b) => {
    for (const [field, dir] of sort) {
      const x = String((a as unknown as Record<string, unknown>)[field]);
      const y = String((b as unknown as Record<string, unknown>)[field]);
      if (x !== y) return (x < y ? -1 : 1) * dir;
    }
    return 0;
  });
  return options.limit ? merged.slice(0, options.limit) : merged;
}

export function invoiceLoader(store: InvoicesStore): DataLoader<string, InvoiceDoc | null> {
  return new DataLoader(
    async (ids) => {
      const byId = new Map((await findInvoices(store, { _id: { $in: queryableKeys(ids) } })).map((d) => [d._id, d]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    { maxBatchSize: MAX_KEYS_PER_QUERY },
  );
}

export function invoicesByLoader(
  store: InvoicesStore,
  field: 'customerId' | 'lines.ratedChargeId' | 'replacesInvoiceId',
  keysOf: (doc: InvoiceDoc) => string[],
  sort: Record<string, 1 | -1>,
): DataLoader<string, InvoiceDoc[]> {
  return new DataLoader(
    async (keys) => {
      const docs = await findInvoices(store, { [field]: { $in: queryableKeys(keys) } } as Filter<InvoiceDoc>, { sort });
      return keys.map((k) => docs.filter((d) => keysOf(d).includes(k)));
    },
    { maxBatchSize: MAX_KEYS_PER_QUERY },
  );
}

/** Line ids embed their invoice id, so a line resolves with one indexed lookup of its invoice. */
export function lineId(invoiceId: string, lineNo: number): string {
  return `${invoiceId}-l${lineNo}`;
}
export function invoiceIdOfLine(id: string): string {
  return id.replace(/-l\d+$/, '');
}

/** Keyset pagination over finalized invoices and drafts together: one sorted, limited query on each collection. */
export async function pageInvoices(
  store: InvoicesStore,
  filter: Filter<InvoiceDoc>,
  first: number | null | undefined,
  after: string | null | undefined,
  order: SortOrder = BY_ID,
): Promise<Page<InvoiceDoc>> {
  const size = pageSize(first);
  const rows = await findInvoices(store, afterPosition(filter, order, after), {
    sort: sortFor(order),
    limit: size + 1,
  });
  return toPage(rows, size, order);
}
