// Use cases: turn a finalized invoice or an issued note into a balanced ERP posting with the accounts finance mapped,
// and deliver it at most once. A posting whose mapping is missing is held with a business exception, and built again
// by itself once finance adds the mapping.
import { contentHash, deterministicId } from '../../lib/ids';
import { UserFacingError, notFound } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { sumMoney, type Money } from '../../lib/money';
import { querySubgraph } from '../../lib/subgraph-client';
import type { Logger } from '../../lib/logger';
import type { ErpConnector } from './connectors';
import { reverseAccrualOf } from './accruals';
import { deliverAndAwait, type DeliveryPolicy } from './deliver-posting';
import { raiseException, releaseByMapping, resolveException } from './exceptions';
import {
  buildDocumentEntry,
  buildPrepaidCreditEntry,
  buildRecognitionEntry,
  type BuildResult,
  type DocumentForPosting,
  type LineKind,
  type PrepaidCreditForPosting,
  type RecognitionForPosting,
} from './journal';
import { allMappings, describeMissing, mappingsAt, remedyFor } from './mappings';
import {
  documentNumberOf,
  type AccountMappingDoc,
  type ErpPostingDoc,
  type PostingError,
  type PostingKind,
  type PostingsStore,
} from './store';

/** The ERP's idempotency key: one per source document and version, never per attempt or period. */
export function invoicePostingKey(invoiceId: string): string {
  return `ug:${invoiceId}:v1`;
}
export const notePostingKey = (noteId: string): string => `ug:${noteId}:v1`;
export const recognitionPostingKey = (documentId: string, month: string): string => `ug:rec:${documentId}:${month}:v1`;
/** Hashed: a movement id (`wallet:<currency>:<customer>#<n>`) has characters an ERP code cannot carry. */
export const prepaidCreditPostingKey = (movementId: string): string => `ug:${deterministicId('pcm', movementId)}:v1`;
export const postingIdOf = (postingKey: string): string => deterministicId('post', postingKey);

export interface LineView {
  id: string;
  kind: LineKind;
  productLine: string;
  amount: Money;
  servicePeriodStart: string;
  servicePeriodEnd: string;
  taxes: Array<{ jurisdiction: string; amount: Money }>;
}
export const LINE_FIELDS =
  'id kind productLine amount { amount currency } servicePeriodStart servicePeriodEnd taxes { jurisdiction amount { amount currency } }';
/** What posting reads of an invoice, one document (postInvoice) or a batch (postInvoices, finalizeAndPostInvoices). */
export const INVOICE_FIELDS = `id number status currency issueDate legalEntityCode period { key } customer { id } lines { ${LINE_FIELDS} } prepaidCreditApplied { amount currency }`;

export interface InvoiceView {
  id: string;
  number: string | null;
  status: 'DRAFT' | 'FINALIZED' | 'VOIDED';
  currency: string;
  issueDate: string | null;
  legalEntityCode: string;
  period: { key: string };
  customer: { id: string };
  lines: LineView[];
  prepaidCreditApplied: Money | null;
}

/** A finalized invoice as the document its posting is built from. */
export function invoiceSource(
  invoice: InvoiceView,
  number: string,
  issueDate: string,
  customer: DocumentForPosting['customer'],
): DocumentForPosting {
  return {
    kind: 'INVOICE',
    id: invoice.id,
    number,
    issueDate,
    invoiceId: invoice.id,
    invoiceNumber: number,
    legalEntityCode: invoice.legalEntityCode,
    currency: invoice.currency,
    periodKey: invoice.period.key,
    customer,
    lines: invoice.lines.map((l) => asLine(l, l.id)),
    prepaidCreditApplied: invoice.prepaidCreditApplied,
  };
}

/** What posting reads of a credit or debit note, one document (postNote) or a batch (postNotes). */
export const NOTE_FIELDS = `id number kind invoice { id number } legalEntityCode currency issueDate period { key } customer { id } lines { ${LINE_FIELDS} invoiceLine { id } }`;

export interface NoteView {
  id: string;
  number: string;
  kind: 'CREDIT' | 'DEBIT';
  invoice: { id: string; number: string };
  legalEntityCode: string;
  currency: string;
  issueDate: string;
  period: { key: string };
  customer: { id: string };
  lines: Array<LineView & { invoiceLine: { id: string } | null }>;
}

export const noteKindOf = (note: NoteView) => (note.kind === 'CREDIT' ? 'CREDIT_NOTE' : 'DEBIT_NOTE');

/** An issued note as the document its posting is built from. */
export function noteSource(note: NoteView, customer: DocumentForPosting['customer']): DocumentForPosting {
  return {
    kind: noteKindOf(note),
    id: note.id,
    number: note.number,
    issueDate: note.issueDate,
    invoiceId: note.invoice.id,
    invoiceNumber: note.invoice.number,
    legalEntityCode: note.legalEntityCode,
    currency: note.currency,
    periodKey: note.period.key,
    customer,
    lines: note.lines.map((l) => asLine(l, l.invoiceLine?.id ?? null)),
  };
}

async function customerOf(id: string): Promise<DocumentForPosting['customer']> {
  const { customer } = await querySubgraph<{ customer: DocumentForPosting['customer'] | null }>(
    'subscriptions',
    'query($id: ID!) { customer(id: $id) { id externalKey name } }',
    { id },
  );
  if (!customer) throw notFound('customer', 'customer', id);
  return customer;
}

export const asLine = (l: LineView, invoiceLineId: string | null): DocumentForPosting['lines'][number] => ({
  id: l.id,
  invoiceLineId,
  kind: l.kind,
  productLine: l.productLine,
  amount: l.amount,
  servicePeriod: { from: l.servicePeriodStart, to: l.servicePeriodEnd },
  taxes: l.taxes.map((t) => ({ jurisdiction: t.jurisdiction, amount: t.amount })),
});

/** The entry of a source at the mappings in force on its posting date, or what is missing. */
export async function build(
  store: PostingsStore,
  source: DocumentForPosting | RecognitionForPosting | PrepaidCreditForPosting,
  postingDate?: string,
  mappingRows?: readonly AccountMappingDoc[],
): Promise<{ result: BuildResult; mappingVersion: string }> {
  const rows = mappingRows ?? (await allMappings(store));
  const day = postingDate ?? (source.kind === 'REVENUE_RECOGNITION' ? source.documentPostingDate : source.issueDate);
  const { lookup, version } = mappingsAt(rows, day);
  const result =
    source.kind === 'REVENUE_RECOGNITION'
      ? buildRecognitionEntry(source, lookup)
      : isDocument(source)
        ? buildDocumentEntry(source, lookup)
        : buildPrepaidCreditEntry(source, lookup);
  return { result, mappingVersion: version() };
}

export const mappingHold = (missing: Array<{ kind: string; key: string }>): PostingError => ({
  code: 'MAPPING_MISSING',
  kind: 'BUSINESS',
  message: describeMissing(missing as never),
  remedy: remedyFor(missing as never),
});

/** Inserts a posting built from its source (held when a mapping is missing), then delivers it. */
export async function createPosting(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  log: Logger,
  p: {
    postingKey: string;
    kind: PostingKind;
    invoiceId: string;
    noteId: string | null;
    documentNumber: string;
    legalEntityCode: string;
    customerId: string;
    source: DocumentForPosting | RecognitionForPosting | PrepaidCreditForPosting;
    correlationId: string;
  },
): Promise<ErpPostingDoc> {
  const id = postingIdOf(p.postingKey);
  const { result, mappingVersion } = await build(store, p.source);
  const now = new Date();
  let doc: ErpPostingDoc = {
    _id: id,
    postingKey: p.postingKey,
    kind: p.kind,
    invoiceId: p.invoiceId,
    noteId: p.noteId,
    invoiceNumber: p.documentNumber,
    documentNumber: p.documentNumber,
    legalEntityCode: p.legalEntityCode,
    customerId: p.customerId,
    source: p.source,
    entry: result.ok ? result.entry : null,
    mappingVersion: result.ok ? mappingVersion : null,
    erpCustomerAccount: result.ok ? result.erpCustomerAccount : null,
    openException: null,
    status: !result.ok ? 'HELD' : result.entry.lines.length === 0 ? 'NOTHING_TO_POST' : 'PENDING',
    attempts: 0,
    nextAttemptAt: result.ok ? now : null,
    lockedUntil: null,
    lastError: null,
    history: [],
    erpDocument: null,
    createdAt: now,
    postedAt: null,
    correlationId: p.correlationId,
  };
  if (!result.ok) {
    const error = mappingHold(result.missing);
    doc = {
      ...doc,
      lastError: error,
      openException: await raiseException(store, doc, error, { missing: result.missing }),
      history: [{ at: now, outcome: 'HELD', code: error.code, message: error.message }],
    };
    log.warn({ postingId: id, missing: result.missing }, 'posting held: an account mapping is missing');
  } else if (isDocument(p.source)) {
    await schedulePortions(store, doc, p.source, result);
  }
  try {
    await store.postings.insertOne(doc);
  } catch (error) {
    // A concurrent request built the same posting first; deliver that one.
    if (!isDuplicateKeyError(error)) throw error;
  }
  return (await deliverAndAwait(store, connector, policy, id, log)) ?? doc;
}

/** An invoice or note (or accrual): the sources with lines whose deferred part is scheduled for recognition. */
const isDocument = (
  source: DocumentForPosting | RecognitionForPosting | PrepaidCreditForPosting,
): source is DocumentForPosting =>
  source.kind !== 'REVENUE_RECOGNITION' &&
  source.kind !== 'PREPAID_CREDIT_GRANT' &&
  source.kind !== 'PREPAID_CREDIT_EXPIRY';

/** The months a document's deferred lines are recognized in: inserted once (deterministic ids). */
async function schedulePortions(
  store: PostingsStore,
  posting: ErpPostingDoc,
  doc: DocumentForPosting,
  result: Extract<BuildResult, { ok: true }>,
): Promise<void> {
  if (result.portions.length === 0) return;
  const docs = result.portions.map((portion) => ({
    _id: deterministicId('rs', doc.id, portion.month),
    documentId: doc.id,
    documentNumber: doc.number,
    documentPostingId: posting._id,
    invoiceId: doc.invoiceId,
    legalEntityCode: doc.legalEntityCode,
    customer: doc.customer,
    currency: doc.currency,
    month: portion.month,
    documentPostingDate: result.entry.postingDate,
    lines: portion.lines,
    amount: sumMoney(
      portion.lines.map((l) => l.amount),
      doc.currency,
    ),
    status: 'SCHEDULED' as const,
    recognitionPostingId: null,
    createdAt: new Date(),
  }));
  await store.schedule.insertMany(docs, { ordered: false }).catch((error) => {
    if (!isDuplicateKeyError(error)) throw error;
  });
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
  const id = postingIdOf(postingKey);
  const existing = await store.postings.findOne({ _id: id });
  if (existing?.status === 'WITHDRAWN') {
    throw new UserFacingError('INVOICE_VOIDED', `invoice ${invoiceId} was voided; its posting is withdrawn`, {
      field: 'invoiceId',
      expected: 'the replacement invoice (Invoice.replacedBy)',
    });
  }
  if (existing) return (await deliverAndAwait(store, connector, policy, id, log)) ?? existing;

  const { invoice } = await querySubgraph<{ invoice: InvoiceView | null }>(
    'invoices',
    `query($id: ID!) { invoice(id: $id) { ${INVOICE_FIELDS} } }`,
    { id: invoiceId },
  );
  if (!invoice) throw notFound('invoice', 'invoiceId', invoiceId);
  if (invoice.status === 'VOIDED') {
    throw new UserFacingError('INVOICE_VOIDED', `invoice ${invoice.number} is voided; post its replacement`, {
      field: 'invoiceId',
      expected: 'a finalized invoice that is not voided',
    });
  }
  if (invoice.status !== 'FINALIZED' || !invoice.number || !invoice.issueDate) {
    throw new UserFacingError(
      'INVOICE_NOT_FINALIZED',
      `invoice ${invoiceId} is a draft; only finalized invoices are posted`,
      { field: 'invoiceId', expected: 'a finalized invoice (finalizeInvoice first)' },
    );
  }
  const customer = await customerOf(invoice.customer.id);
  const posting = await createPosting(store, connector, policy, log, {
    postingKey,
    kind: 'INVOICE',
    invoiceId,
    noteId: null,
    documentNumber: invoice.number,
    legalEntityCode: invoice.legalEntityCode,
    customerId: customer.id,
    correlationId,
    source: invoiceSource(invoice, invoice.number, invoice.issueDate, customer),
  });
  await reverseAccrualOf(
    store,
    connector,
    policy,
    { id: invoiceId, number: invoice.number, issueDate: invoice.issueDate },
    correlationId,
    log,
  );
  return posting;
}

export async function postNote(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  noteId: string,
  correlationId: string,
  log: Logger,
): Promise<ErpPostingDoc> {
  const postingKey = notePostingKey(noteId);
  const id = postingIdOf(postingKey);
  const existing = await store.postings.findOne({ _id: id });
  if (existing) return (await deliverAndAwait(store, connector, policy, id, log)) ?? existing;
  const { note } = await querySubgraph<{ note: NoteView | null }>(
    'invoices',
    `query($id: ID!) { note(id: $id) { ${NOTE_FIELDS} } }`,
    { id: noteId },
  );
  if (!note) throw notFound('note', 'noteId', noteId);
  const customer = await customerOf(note.customer.id);
  return createPosting(store, connector, policy, log, {
    postingKey,
    kind: noteKindOf(note),
    invoiceId: note.invoice.id,
    noteId: note.id,
    documentNumber: note.number,
    legalEntityCode: note.legalEntityCode,
    customerId: customer.id,
    correlationId,
    source: noteSource(note, customer),
  });
}

/**
 * Books a prepaid credit grant or expiry of the invoices subgraph (a consumption is booked with its invoice). Idempotent
 * by movement: posted at most once, whatever the number of calls.
 */
export async function postPrepaidCreditMovement(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  movementId: string,
  correlationId: string,
  log: Logger,
): Promise<ErpPostingDoc> {
  const postingKey = prepaidCreditPostingKey(movementId);
  const id = postingIdOf(postingKey);
  const existing = await store.postings.findOne({ _id: id });
  if (existing) return (await deliverAndAwait(store, connector, policy, id, log)) ?? existing;
  const { prepaidCreditMovement: m } = await querySubgraph<{
    prepaidCreditMovement: {
      id: string;
      kind: 'GRANT' | 'CONSUMPTION' | 'EXPIRY' | 'RESTORE';
      amount: Money;
      at: string;
      customer: { id: string };
      grant: { id: string; kind: 'PURCHASED' | 'GRANTED'; description: string } | null;
    } | null;
  }>(
    'invoices',
    'query($id: ID!) { prepaidCreditMovement(id: $id) { id kind amount { amount currency } at customer { id } grant { id kind description } } }',
    { id: movementId },
  );
  if (!m) throw notFound('prepaid credit movement', 'movementId', movementId);
  if (m.kind === 'CONSUMPTION' || m.kind === 'RESTORE' || !m.grant)
    throw new UserFacingError(
      'VALIDATION_FAILED',
      `movement ${movementId} is a ${m.kind.toLowerCase()}: it is booked with (or withdrawn with) its invoice`,
      {
        field: 'movementId',
        expected: 'a GRANT or EXPIRY movement (postInvoice books a consumption)',
      },
    );
  const customer = await customerOf(m.customer.id);
  const { customer: billed } = await querySubgraph<{ customer: { legalEntity: { code: string } } | null }>(
    'subscriptions',
    'query($id: ID!) { customer(id: $id) { legalEntity { code } } }',
    { id: customer.id },
  );
  const legalEntityCode = billed?.legalEntity.code ?? 'DEFAULT';
  const kind = m.kind === 'GRANT' ? 'PREPAID_CREDIT_GRANT' : 'PREPAID_CREDIT_EXPIRY';
  const amount = m.amount.amount.startsWith('-') ? { ...m.amount, amount: m.amount.amount.slice(1) } : m.amount;
  return createPosting(store, connector, policy, log, {
    postingKey,
    kind,
    invoiceId: '',
    noteId: null,
    documentNumber: m.id,
    legalEntityCode,
    customerId: customer.id,
    correlationId,
    source: {
      kind,
      movementId: m.id,
      grantId: m.grant.id,
      description: m.grant.description,
      grantKind: m.grant.kind,
      issueDate: m.at.slice(0, 10),
      legalEntityCode,
      currency: m.amount.currency,
      customer,
      amount,
    },
  });
}

/**
 * Builds again every posting held for a missing mapping or an ERP customer the ERP did not know, after a mapping
 * changed: those that are complete now are released and sent by the posting worker.
 */
/** The mapping table each store's last pass saw: a posting held for a missing mapping waits until it changes. */
const mappingsSeen = new WeakMap<PostingsStore, string>();

export async function rebuildHeldPostings(store: PostingsStore, connector: ErpConnector, log: Logger): Promise<number> {
  const held = await store.postings
    .find(
      { status: 'HELD', 'lastError.code': { $in: ['MAPPING_MISSING', 'ERP_CUSTOMER_UNKNOWN'] } },
      { projection: { _id: 1, 'lastError.code': 1, 'openException.raisedAt': 1 } },
    )
    .toArray();
  if (held.length === 0) return 0;
  // One read of the table per pass, not one per posting: the periodic pass must stay cheap with many held postings.
  const rows = await allMappings(store);
  const table = contentHash(rows.map((r) => `${r._id}=${r.value}`).sort());
  const mappingsChanged = mappingsSeen.get(store) !== table;
  mappingsSeen.set(store, table);
  let released = 0;
  const settled = Date.now() - 60_000;
  for (const { _id, lastError, openException } of held) {
    // A hold raised just now may have been built from the table before a mapping added meanwhile: look at it anyway.
    const raisedAt = openException?.raisedAt ? new Date(openException.raisedAt).getTime() : 0;
    if (lastError?.code === 'MAPPING_MISSING' && !mappingsChanged && raisedAt < settled) continue;
    released += await store.locks.run(_id, async () => {
      const posting = await store.postings.findOne({ _id });
      if (posting?.status !== 'HELD' || !posting.source) return 0;
      const code = posting.lastError?.code;
      const { result, mappingVersion } = await build(store, posting.source, posting.entry?.postingDate, rows);
      if (!result.ok) return 0;
      if (code === 'ERP_CUSTOMER_UNKNOWN' && result.erpCustomerAccount) {
        // The same unknown id, and the ERP still does not know it: nothing changed for this posting.
        const known = await connector.customerExists(result.erpCustomerAccount).catch(() => false);
        if (!known) return 0;
      }
      if (code !== 'MAPPING_MISSING' && code !== 'ERP_CUSTOMER_UNKNOWN') return 0;
      const now = new Date();
      const entry = posting.entry
        ? {
            ...result.entry,
            postingDate: posting.entry.postingDate,
            accountingPeriod: posting.entry.accountingPeriod,
            requestedPeriod: posting.entry.requestedPeriod ?? null,
            periodMoveReason: posting.entry.periodMoveReason ?? null,
          }
        : result.entry;
      if (isDocument(posting.source)) await schedulePortions(store, posting, posting.source, result);
      await resolveException(store, posting, releaseByMapping(rows, posting, code, mappingVersion));
      await store.postings.replaceOne(
        { _id },
        {
          ...posting,
          entry,
          mappingVersion,
          erpCustomerAccount: result.erpCustomerAccount,
          status: entry.lines.length === 0 ? 'NOTHING_TO_POST' : 'PENDING',
          attempts: 0,
          nextAttemptAt: now,
          openException: null,
          history: [
            ...posting.history,
            {
              at: now,
              outcome: 'RELEASED',
              code: code === 'MAPPING_MISSING' ? 'MAPPING_ADDED' : 'ERP_CUSTOMER_KNOWN',
              message: `built again with mapping version ${mappingVersion}`,
            },
          ],
        },
      );
      log.info({ postingId: _id, from: code }, 'held posting built again and released');
      return 1;
    });
  }
  return released;
}

export { documentNumberOf };
