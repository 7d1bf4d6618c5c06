// Use case: turn a finalized invoice into a balanced ERP posting and deliver it, at most once.
import { deterministicId } from '../../lib/ids';
import { UserFacingError, notFound } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import type { Money } from '../../lib/money';
import { querySubgraph } from '../../lib/subgraph-client';
import type { Logger } from '../../lib/logger';
import type { ErpConnector } from './connectors';
import { deliverPosting, type DeliveryPolicy } from './deliver-posting';
import { buildInvoiceEntry, type InvoiceForPosting } from './journal';
import type { ErpPostingDoc, PostingsStore } from './store';

interface InvoiceView {
  id: string;
  number: string | null;
  status: 'DRAFT' | 'FINALIZED';
  currency: string;
  issueDate: string | null;
  total: Money;
  period: { key: string };
  customer: { id: string };
  lines: Array<{ id: string; kind: 'USAGE' | 'FEE' | 'COMMITMENT'; productLine: string; amount: Money }>;
}

/** The ERP's idempotency key: one per source document and version, never per attempt or period. */
export function invoicePostingKey(invoiceId: string): string {
  return `ug:${invoiceId}:v1`;
}

export async function postInvoice(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  invoiceId: string,
  correlationId: string,
  log: Logger,
): Promise<ErpPostingDoc> {
  const postingKey = invoicePostingKey(invoiceId);
  const id = deterministicId('post', postingKey);
  const existing = await store.postings.findOne({ _id: id });
  if (existing) return (await deliverPosting(store, connector, policy, id, log)) ?? existing;

  const { invoice } = await querySubgraph<{ invoice: InvoiceView | null }>(
    'invoices',
    'query($id: ID!) { invoice(id: $id) { id number status currency issueDate total { amount currency } period { key } customer { id } lines { id kind productLine amount { amount currency } } } }',
    { id: invoiceId },
  );
  if (!invoice) throw notFound('invoice', 'invoiceId', invoiceId);
  if (invoice.status !== 'FINALIZED' || !invoice.number || !invoice.issueDate) {
    throw new UserFacingError(
      'INVOICE_NOT_FINALIZED',
      `invoice ${invoiceId} is a draft; only finalized invoices are posted`,
      { field: 'invoiceId', expected: 'a finalized invoice (finalizeInvoice first)' },
    );
  }
  const { customer } = await querySubgraph<{ customer: { id: string; externalKey: string; name: string } | null }>(
    'subscriptions',
    'query($id: ID!) { customer(id: $id) { id externalKey name } }',
    { id: invoice.customer.id },
  );
  if (!customer) throw notFound('customer', 'invoice.customer', invoice.customer.id);

  const forPosting: InvoiceForPosting = {
    id: invoice.id,
    number: invoice.number,
    issueDate: invoice.issueDate,
    currency: invoice.currency,
    total: invoice.total,
    periodKey: invoice.period.key,
    customer,
    lines: invoice.lines,
  };
  const now = new Date();
  const doc: ErpPostingDoc = {
    _id: id,
    postingKey,
    invoiceId,
    invoiceNumber: invoice.number,
    customerId: customer.id,
    entry: buildInvoiceEntry(forPosting),
    status: 'PENDING',
    attempts: 0,
    nextAttemptAt: now,
    lockedUntil: null,
    lastError: null,
    history: [],
    erpDocument: null,
    createdAt: now,
    postedAt: null,
    correlationId,
  };
  try {
    await store.postings.insertOne(doc);
  } catch (error) {
    // A concurrent postInvoice built the same posting first; deliver that one.
    if (!isDuplicateKeyError(error)) throw error;
  }
  return (await deliverPosting(store, connector, policy, id, log))!;
}
