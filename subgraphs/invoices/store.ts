// The invoices subgraph's collections. Drafts change; an invoice, once finalized, is a separate document that is only
// ever inserted (never updated), so no concurrent draft refresh can touch it (see lib/keyed-mutex.ts for why).
// Lines are embedded, so every write of an invoice or draft is one document.
import { MAX_KEYS_PER_QUERY, queryableKeys } from '../../lib/loaders';
import DataLoader from 'dataloader';
import type { Collection, Db, Filter } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { KeyedMutex } from '../../lib/keyed-mutex';
import { Outbox } from '../../lib/outbox';
import { afterPosition, BY_ID, pageSize, sortFor, toPage, type Page, type SortOrder } from '../../lib/pagination';
import type { Money } from '../../lib/money';

export type InvoiceLineKind = 'USAGE' | 'FEE' | 'COMMITMENT';

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
}

export interface InvoiceDoc {
  _id: string;
  status: 'DRAFT' | 'FINALIZED';
  number: string | null;
  customerId: string;
  subscriptionId: string;
  legalEntityCode: string;
  periodKey: string;
  currency: string;
  lines: InvoiceLineDoc[];
  total: Money;
  issueDate: string | null;
  finalizedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  correlationId: string;
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
  ]),
  { collection: 'invoices', keys: { number: 1 }, options: { unique: true } },
  { collection: 'invoice_numbers', keys: { invoiceId: 1 }, options: { unique: true } },
  { collection: 'invoice_numbers', keys: { series: 1, sequence: -1 } },
];

export interface InvoicesStore {
  locks: KeyedMutex;
  /** Business events raised by this subgraph, forwarded to the events subgraph (lib/outbox.ts). */
  outbox: Outbox;
  /** Finalized invoices: inserted once, never updated. */
  invoices: Collection<InvoiceDoc>;
  drafts: Collection<InvoiceDoc>;
  numbers: Collection<InvoiceNumberDoc>;
}

export function invoicesStore(db: Db): InvoicesStore {
  return {
    locks: new KeyedMutex(),
    outbox: new Outbox(db, 'invoices'),
    invoices: db.collection<InvoiceDoc>('invoices'),
    drafts: db.collection<InvoiceDoc>('invoice_drafts'),
    numbers: db.collection<InvoiceNumberDoc>('invoice_numbers'),
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
  field: 'customerId' | 'lines.ratedChargeId',
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
