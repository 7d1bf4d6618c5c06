// The invoices subgraph's collections: invoices (lines embedded, so an invoice is written in one step) and claimed numbers.
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import type { Money } from '../../lib/money';

export interface InvoiceLineDoc {
  id: string;
  lineNo: number;
  description: string;
  productLine: string;
  usageTypeKey: string;
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
  { collection: 'invoices', keys: { customerId: 1, periodKey: -1 } },
  { collection: 'invoices', keys: { subscriptionId: 1, periodKey: 1 } },
  { collection: 'invoices', keys: { number: 1 } },
  { collection: 'invoices', keys: { 'lines.ratedChargeId': 1 } },
  { collection: 'invoice_numbers', keys: { invoiceId: 1 }, options: { unique: true } },
  { collection: 'invoice_numbers', keys: { series: 1, sequence: -1 } },
];

export interface InvoicesStore {
  invoices: Collection<InvoiceDoc>;
  numbers: Collection<InvoiceNumberDoc>;
}

export function invoicesStore(db: Db): InvoicesStore {
  return { invoices: db.collection<InvoiceDoc>('invoices'), numbers: db.collection<InvoiceNumberDoc>('invoice_numbers') };
}

/** Line ids embed their invoice id, so a line resolves with one indexed lookup of its invoice. */
export function lineId(invoiceId: string, lineNo: number): string {
  return `${invoiceId}-l${lineNo}`;
}
export function invoiceIdOfLine(id: string): string {
  return id.replace(/-l\d+$/, '');
}
