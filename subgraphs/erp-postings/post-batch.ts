// Use case: post many documents in one call — the batch path beside postInvoice/postNote. One mapping read, one period
// read and one ERP look-up per batch instead of per document; postings, schedules and claims are bulk inserts against
// unique ids (so exactly-once holds across processes and retries); the ledger writes stay one at a time. Anything out
// of the ordinary (a missing mapping, a closed period, an unknown ERP customer, a failed write, a posting another
// process holds) goes down the single-document path, which holds and raises it exactly as today.
import { GraphQLError } from 'graphql';
import { config } from '../../lib/config';
import { pipelineChunks } from '../../lib/concurrency';
import { deterministicId } from '../../lib/ids';
import { insertManyNew } from '../../lib/mongo';
import { UserFacingError, notFound } from '../../lib/errors';
import { sumMoney } from '../../lib/money';
import { querySubgraph } from '../../lib/subgraph-client';
import type { Logger } from '../../lib/logger';
import type { ErpConnector, PostingForErp } from './connectors';
import { accrualPostingKey, reverseAccrualOf } from './accruals';
import { deliverAndAwait, deliverPosting, deliveryEvents, type DeliveryPolicy } from './deliver-posting';
import { resolveException } from './exceptions';
import type { BuildResult, DocumentForPosting, RecognitionForPosting } from './journal';
import { allMappings } from './mappings';
import {
  INVOICE_FIELDS,
  build,
  createPosting,
  invoicePostingKey,
  invoiceSource,
  noteKindOf,
  noteSource,
  NOTE_FIELDS,
  type NoteView,
  notePostingKey,
  postingIdOf,
  type InvoiceView,
} from './post-document';
import { kindOf, type DeliveryClaimDoc, type ErpPostingDoc, type PostingsStore } from './store';

/** Whether each batch logs how long its steps took (warn level, so a benchmark at LOG_LEVEL=warn sees it). */
export const batchTimingsLogged = (): boolean => config().ERP_BATCH_TIMINGS;

/** Milliseconds per step of one batch, for the log line batchTimingsLogged asks for. */
class StepTimer {
  private last = performance.now();
  readonly steps: Record<string, number> = {};
  lap(step: string): void {
    const now = performance.now();
    this.steps[step] = Math.round((this.steps[step] ?? 0) + now - this.last);
    this.last = now;
  }
}

/** The most documents one call takes: a billing run sends several batches. */
export const MAX_BATCH = 500;

/** One document's outcome: its posting, or why it has none. */
export interface BatchPostingResult {
  documentId: string;
  posting: ErpPostingDoc | null;
  code: string | null;
  message: string | null;
  expected: string | null;
}

/** A document (or a month's revenue recognition of one) ready to post, in the shape createPosting takes. */
export type PreparedDocument = {
  postingKey: string;
  invoiceId: string;
  noteId: string | null;
  documentNumber: string;
  legalEntityCode: string;
  customerId: string;
} & (
  | { kind: 'INVOICE' | 'CREDIT_NOTE' | 'DEBIT_NOTE'; source: DocumentForPosting }
  | { kind: 'REVENUE_RECOGNITION'; source: RecognitionForPosting }
);

export type Prepared =
  { documentId: string; doc: PreparedDocument } | { documentId: string; error: BatchPostingResult };

const failure = (documentId: string, code: string, message: string, expected: string | null): BatchPostingResult => ({
  documentId,
  posting: null,
  code,
  message,
  expected,
});

/** A user-facing error of the single path as one item's result; anything else is not the caller's to read. */
function failureOf(documentId: string, error: unknown, log: Logger): BatchPostingResult {
  if (
    error instanceof GraphQLError &&
    typeof error.extensions.code === 'string' &&
    error.extensions.code !== 'INTERNAL_SERVER_ERROR'
  )
    return failure(documentId, error.extensions.code, error.message, (error.extensions.expected as string) ?? null);
  log.error({ err: error, documentId }, 'batch posting: a document failed unexpectedly');
  return failure(documentId, 'POSTING_FAILED', 'the document could not be posted now; post it again', 'a retry');
}

/** Every customer of the batch in one entity call to the subscriptions subgraph. */
async function customersOf(ids: readonly string[]): Promise<Map<string, DocumentForPosting['customer']>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const { _entities } = await querySubgraph<{ _entities: Array<DocumentForPosting['customer'] | null> }>(
    'subscriptions',
    'query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id externalKey name } } }',
    { r: unique.map((id) => ({ __typename: 'Customer', id })) },
  );
  return new Map(_entities.filter((c): c is DocumentForPosting['customer'] => !!c).map((c) => [c.id, c]));
}

/** Finalized invoices as documents to post; drafts, voided and unknown ones as the single path's errors. */
export function preparedInvoice(
  invoiceId: string,
  invoice: InvoiceView | null,
  customers: Map<string, DocumentForPosting['customer']>,
): Prepared {
  if (!invoice) {
    const e = notFound('invoice', 'invoiceIds', invoiceId);
    return {
      documentId: invoiceId,
      error: failure(invoiceId, 'NOT_FOUND', e.message, `the id of an existing invoice`),
    };
  }
  if (invoice.status === 'VOIDED')
    return {
      documentId: invoiceId,
      error: failure(
        invoiceId,
        'INVOICE_VOIDED',
        `invoice ${invoice.number} is voided; post its replacement`,
        'a finalized invoice that is not voided',
      ),
    };
  if (invoice.status !== 'FINALIZED' || !invoice.number || !invoice.issueDate)
    return {
      documentId: invoiceId,
      error: failure(
        invoiceId,
        'INVOICE_NOT_FINALIZED',
        `invoice ${invoiceId} is a draft; only finalized invoices are posted`,
        'a finalized invoice (finalizeInvoice first)',
      ),
    };
  const customer = customers.get(invoice.customer.id);
  if (!customer) {
    const e = notFound('customer', 'customer', invoice.customer.id);
    return {
      documentId: invoiceId,
      error: failure(invoiceId, 'NOT_FOUND', e.message, 'the id of an existing customer'),
    };
  }
  return {
    documentId: invoiceId,
    doc: {
      postingKey: invoicePostingKey(invoiceId),
      kind: 'INVOICE',
      invoiceId,
      noteId: null,
      documentNumber: invoice.number,
      legalEntityCode: invoice.legalEntityCode,
      customerId: customer.id,
      source: invoiceSource(invoice, invoice.number, invoice.issueDate, customer),
    },
  };
}

function preparedNote(
  noteId: string,
  note: NoteView | null,
  customers: Map<string, DocumentForPosting['customer']>,
): Prepared {
  const customer = note && customers.get(note.customer.id);
  if (!note || !customer)
    return {
      documentId: noteId,
      error: failure(noteId, 'NOT_FOUND', notFound('note', 'noteIds', noteId).message, 'the id of an issued note'),
    };
  return {
    documentId: noteId,
    doc: {
      postingKey: notePostingKey(noteId),
      kind: noteKindOf(note),
      invoiceId: note.invoice.id,
      noteId: note.id,
      documentNumber: note.number,
      legalEntityCode: note.legalEntityCode,
      customerId: customer.id,
      source: noteSource(note, customer),
    },
  };
}

export function assertBatchSize(ids: readonly string[], field: string): void {
  if (ids.length > MAX_BATCH)
    throw new UserFacingError('LIMIT_EXCEEDED', `${ids.length} documents in one call; at most ${MAX_BATCH}`, {
      field,
      expected: `at most ${MAX_BATCH} ids per call (send several calls)`,
    });
}

/** postInvoices: every invoice in one entity call, every customer in another, then the batch. */
export async function postInvoices(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  invoiceIds: readonly string[],
  correlationId: string,
  log: Logger,
): Promise<BatchPostingResult[]> {
  assertBatchSize(invoiceIds, 'invoiceIds');
  const unique = [...new Set(invoiceIds)];
  // Already built postings need no fetch: a retried batch costs one read and the deliveries still due.
  const existing = await existingPostings(store, unique.map(invoicePostingKey));
  const toFetch = unique.filter((id) => !existing.has(postingIdOf(invoicePostingKey(id))));
  const invoices = new Map<string, InvoiceView | null>();
  if (toFetch.length > 0) {
    const { _entities } = await querySubgraph<{ _entities: Array<InvoiceView | null> }>(
      'invoices',
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Invoice { ${INVOICE_FIELDS} } } }`,
      { r: toFetch.map((id) => ({ __typename: 'Invoice', id })) },
    );
    toFetch.forEach((id, i) => invoices.set(id, _entities[i] ?? null));
  }
  const customers = await customersOf(
    [...invoices.values()].filter((i): i is InvoiceView => i?.status === 'FINALIZED').map((i) => i.customer.id),
  );
  const prepared = unique.map((id) =>
    existing.has(postingIdOf(invoicePostingKey(id)))
      ? { documentId: id, postingKey: invoicePostingKey(id) }
      : preparedInvoice(id, invoices.get(id) ?? null, customers),
  );
  return inInputOrder(invoiceIds, await postPrepared(store, connector, policy, prepared, existing, correlationId, log));
}

/** postNotes: every note in one entity call, every customer in another, then the batch. */
export async function postNotes(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  noteIds: readonly string[],
  correlationId: string,
  log: Logger,
): Promise<BatchPostingResult[]> {
  assertBatchSize(noteIds, 'noteIds');
  const unique = [...new Set(noteIds)];
  const existing = await existingPostings(store, unique.map(notePostingKey));
  const toFetch = unique.filter((id) => !existing.has(postingIdOf(notePostingKey(id))));
  const notes = new Map<string, NoteView | null>();
  if (toFetch.length > 0) {
    const { _entities } = await querySubgraph<{ _entities: Array<NoteView | null> }>(
      'invoices',
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on InvoiceNote { ${NOTE_FIELDS} } } }`,
      { r: toFetch.map((id) => ({ __typename: 'InvoiceNote', id })) },
    );
    toFetch.forEach((id, i) => notes.set(id, _entities[i] ?? null));
  }
  const customers = await customersOf([...notes.values()].filter((n): n is NoteView => !!n).map((n) => n.customer.id));
  const prepared = unique.map((id) =>
    existing.has(postingIdOf(notePostingKey(id)))
      ? { documentId: id, postingKey: notePostingKey(id) }
      : preparedNote(id, notes.get(id) ?? null, customers),
  );
  return inInputOrder(noteIds, await postPrepared(store, connector, policy, prepared, existing, correlationId, log));
}

/** One result per id as asked, a repeated id getting the same result. */
export function inInputOrder(ids: readonly string[], results: readonly BatchPostingResult[]): BatchPostingResult[] {
  const byId = new Map(results.map((r) => [r.documentId, r]));
  return ids.map((id) => byId.get(id)!);
}

export async function existingPostings(
  store: PostingsStore,
  postingKeys: readonly string[],
): Promise<Map<string, ErpPostingDoc>> {
  if (postingKeys.length === 0) return new Map();
  const found = await store.postings.find({ _id: { $in: postingKeys.map(postingIdOf) } }).toArray();
  return new Map(found.map((p) => [p._id, p]));
}

const periodIdOf = (key: string, entity: string) => `${key}@${entity}`;

/**
 * The batch itself. `prepared` holds documents to build (or why not), and ids whose posting exists already (then in
 * `existing`). Returns one result per document.
 */
export async function postPrepared(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  prepared: ReadonlyArray<Prepared | { documentId: string; postingKey: string }>,
  existing: Map<string, ErpPostingDoc>,
  correlationId: string,
  log: Logger,
  deferred?: Array<Promise<void>>,
): Promise<BatchPostingResult[]> {
  const timer = new StepTimer();
  const results = new Map<string, BatchPostingResult>();
  const done = (documentId: string, posting: ErpPostingDoc | null) =>
    results.set(documentId, { documentId, posting, code: null, message: null, expected: null });
  /** The single-document path, for whatever the batch does not handle itself; it holds and raises as always. */
  const singly: Array<{ documentId: string; run: () => Promise<ErpPostingDoc | null> }> = [];
  const now = new Date();
  /**
   * When this call's claims run out. Postings it builds are due for the posting worker only then: a worker polling
   * meanwhile would read and try to claim each one while it waits in this call's pipeline (five database calls a
   * posting a second); after a crash the worker sends them once the claim is gone, as before.
   */
  const expiresAt = new Date(now.getTime() + policy.leaseMs);

  // Build what is new, with ONE read of the mapping table.
  const fresh: Array<{ documentId: string; doc: ErpPostingDoc; result: Extract<BuildResult, { ok: true }> }> = [];
  const due: Array<{ documentId: string; doc: ErpPostingDoc }> = [];
  const needsBuild = prepared.filter((p): p is Extract<Prepared, { doc: PreparedDocument }> => 'doc' in p);
  const mappingRows = needsBuild.length > 0 ? await allMappings(store) : [];
  for (const p of prepared) {
    if ('error' in p) {
      results.set(p.documentId, p.error);
    } else if ('doc' in p) {
      const { result, mappingVersion } = await build(store, p.doc.source, undefined, mappingRows);
      if (!result.ok || result.entry.lines.length === 0) {
        // Held for a missing mapping (raised as today) or nothing to post: the single path writes it.
        const d = p.doc;
        singly.push({
          documentId: p.documentId,
          run: () => createPosting(store, connector, policy, log, { ...d, correlationId }),
        });
        continue;
      }
      const doc: ErpPostingDoc = {
        _id: postingIdOf(p.doc.postingKey),
        postingKey: p.doc.postingKey,
        kind: p.doc.kind,
        invoiceId: p.doc.invoiceId,
        noteId: p.doc.noteId,
        invoiceNumber: p.doc.documentNumber,
        documentNumber: p.doc.documentNumber,
        legalEntityCode: p.doc.legalEntityCode,
        customerId: p.doc.customerId,
        source: p.doc.source,
        entry: result.entry,
        mappingVersion,
        erpCustomerAccount: result.erpCustomerAccount,
        openException: null,
        status: 'PENDING',
        attempts: 0,
        nextAttemptAt: expiresAt,
        lockedUntil: null,
        lastError: null,
        history: [],
        erpDocument: null,
        createdAt: now,
        postedAt: null,
        correlationId,
      };
      fresh.push({ documentId: p.documentId, doc, result });
    } else {
      const posting = existing.get(postingIdOf(p.postingKey))!;
      if (posting.status === 'WITHDRAWN' && posting.kind !== 'CREDIT_NOTE' && posting.kind !== 'DEBIT_NOTE')
        results.set(
          p.documentId,
          failure(
            p.documentId,
            'INVOICE_VOIDED',
            `invoice ${p.documentId} was voided; its posting is withdrawn`,
            'the replacement invoice (Invoice.replacedBy)',
          ),
        );
      else if (
        (posting.status === 'PENDING' || posting.status === 'RETRY_SCHEDULED') &&
        posting.entry &&
        posting.nextAttemptAt !== null &&
        posting.nextAttemptAt <= now
      )
        due.push({ documentId: p.documentId, doc: posting });
      // Posted, held, dead-lettered, not due yet or being sent by someone: as the single path answers it.
      else
        singly.push({
          documentId: p.documentId,
          run: () => deliverAndAwait(store, connector, policy, posting._id, log),
        });
    }
  }

  timer.lap('build');
  // Claim every posting to send with one bulk insert: an id another process claimed first is not ours to send.
  const candidates = [...fresh.map((f) => ({ documentId: f.documentId, doc: f.doc })), ...due];
  const latest = new Map<string, number>();
  if (due.length > 0)
    for (const c of await store.claims
      .find(
        { postingId: { $in: due.map((d) => d.doc._id) } },
        { projection: { postingId: 1, sequence: 1, releasedAt: 1, expiresAt: 1 } },
      )
      .toArray())
      if (!c.releasedAt && c.expiresAt > now) latest.set(c.postingId, Number.POSITIVE_INFINITY);
      else latest.set(c.postingId, Math.max(latest.get(c.postingId) ?? 0, c.sequence));
  const claimable = candidates.filter((c) => latest.get(c.doc._id) !== Number.POSITIVE_INFINITY);
  for (const c of candidates)
    if (latest.get(c.doc._id) === Number.POSITIVE_INFINITY)
      singly.push({ documentId: c.documentId, run: () => deliverAndAwait(store, connector, policy, c.doc._id, log) });
  const claims: DeliveryClaimDoc[] = claimable.map((c) => {
    const sequence = (latest.get(c.doc._id) ?? 0) + 1;
    return {
      _id: `${c.doc._id}#${sequence}`,
      postingId: c.doc._id,
      sequence,
      claimedAt: now,
      expiresAt,
      releasedAt: null,
    };
  });
  const lost = await insertManyNew(store.claims, claims);
  const held = new Map<string, { documentId: string; doc: ErpPostingDoc; claim: DeliveryClaimDoc }>();
  claimable.forEach((c, i) => {
    if (lost.has(i))
      singly.push({ documentId: c.documentId, run: () => deliverAndAwait(store, connector, policy, c.doc._id, log) });
    else held.set(c.doc._id, { ...c, claim: claims[i]! });
  });
  timer.lap('claim');
  const releaseClaims = async (claimIds: readonly string[]) => {
    if (claimIds.length > 0)
      await store.claims.updateMany({ _id: { $in: [...claimIds] } }, { $set: { releasedAt: new Date() } });
  };
  const release = (ids: readonly string[]) => releaseClaims(ids.map((id) => held.get(id)!.claim._id));
  /** Postings this call hands to the single path: due now (the path delivers only a due posting), then released. */
  const handBack = async (ids: readonly string[]) => {
    if (ids.length === 0) return;
    await store.postings.updateMany(
      { _id: { $in: [...ids] }, status: 'PENDING' },
      { $set: { nextAttemptAt: new Date() } },
    );
    await release(ids);
  };

  const sent = { inBatch: 0 };
  try {
    // The revenue schedules, then the postings, each one bulk insert; an id already there was built by another call.
    const claimedFresh = fresh.filter((f) => held.has(f.doc._id));
    await insertManyNew(
      store.schedule,
      claimedFresh.flatMap(({ doc, result }) =>
        result.portions.map((portion) => {
          const source = doc.source as DocumentForPosting;
          return {
            _id: deterministicId('rs', source.id, portion.month),
            documentId: source.id,
            documentNumber: source.number,
            documentPostingId: doc._id,
            invoiceId: source.invoiceId,
            legalEntityCode: source.legalEntityCode,
            customer: source.customer,
            currency: source.currency,
            month: portion.month,
            documentPostingDate: result.entry.postingDate,
            lines: portion.lines,
            amount: sumMoney(
              portion.lines.map((l) => l.amount),
              source.currency,
            ),
            status: 'SCHEDULED' as const,
            recognitionPostingId: null,
            createdAt: now,
          };
        }),
      ),
    );
    const taken = await insertManyNew(
      store.postings,
      claimedFresh.map((f) => f.doc),
    );
    // Built meanwhile by another call: ours is not the stored one, so the single path delivers what is stored.
    const raced = claimedFresh.filter((_, i) => taken.has(i));
    // Stored by this call under its first claim: never sent, so the ledger needs no look-up for them.
    const firstAttempts = new Set(claimedFresh.filter((_, i) => !taken.has(i)).map((f) => f.doc._id));
    if (raced.length > 0) {
      await release(raced.map((r) => r.doc._id));
      for (const r of raced) {
        held.delete(r.doc._id);
        singly.push({ documentId: r.documentId, run: () => deliverAndAwait(store, connector, policy, r.doc._id, log) });
      }
    }

    timer.lap('insert');
    // ONE period read and ONE customer look-up for the batch; a closed period or an unknown customer is held by the
    // single path (it raises the exception), after the claim is given back.
    const sending = [...held.values()];
    const periodIds = [
      ...new Set(
        sending.flatMap(({ doc }) => [
          doc.entry!.accountingPeriod,
          periodIdOf(doc.entry!.accountingPeriod, doc.legalEntityCode ?? 'DEFAULT'),
        ]),
      ),
    ];
    const closed = new Set(
      sending.length === 0
        ? []
        : (await store.periods.find({ _id: { $in: periodIds } }).toArray())
            .filter((p) => p.status === 'CLOSED')
            .map((p) => p._id),
    );
    const accounts = [...new Set(sending.map((s) => s.doc.erpCustomerAccount).filter((a): a is string => !!a))];
    const known = await connector.knownCustomers(accounts).catch(() => new Set<string>());
    const aside = sending.filter(
      ({ doc }) =>
        closed.has(doc.entry!.accountingPeriod) ||
        closed.has(periodIdOf(doc.entry!.accountingPeriod, doc.legalEntityCode ?? 'DEFAULT')) ||
        (doc.erpCustomerAccount && !known.has(doc.erpCustomerAccount)),
    );
    if (aside.length > 0) {
      await handBack(aside.map((a) => a.doc._id));
      for (const a of aside) {
        held.delete(a.doc._id);
        singly.push({ documentId: a.documentId, run: () => deliverPosting(store, connector, policy, a.doc._id, log) });
      }
    }

    timer.lap('periods+customers');
    // The ledger: one look-up of the codes it has (unless every posting is new), then the writes one at a time.
    const toSend = [...held.values()];
    sent.inBatch = toSend.length;
    const outcomes = toSend.length
      ? await connector.postMany(
          toSend.map(({ doc }): PostingForErp => ({
            postingKey: doc.postingKey,
            correlationId: doc.correlationId,
            entry: doc.entry!,
            legalEntityCode: doc.legalEntityCode ?? 'DEFAULT',
            kind: kindOf(doc),
            firstAttempt: firstAttempts.has(doc._id),
          })),
        )
      : [];
    timer.lap('ledger');
    const posted: ErpPostingDoc[] = [];
    const failed: typeof toSend = [];
    toSend.forEach((s, i) => {
      const outcome = outcomes[i]!;
      if ('error' in outcome) {
        failed.push(s);
        return;
      }
      const at = new Date();
      posted.push({
        ...s.doc,
        status: 'POSTED',
        attempts: s.doc.attempts + 1,
        erpDocument: outcome.document,
        postedAt: outcome.document.postedAt,
        lastError: null,
        nextAttemptAt: null,
        lockedUntil: null,
        openException: null,
        history: [
          ...s.doc.history,
          { at, outcome: outcome.alreadyInErp ? 'ALREADY_IN_ERP' : 'POSTED', code: null, message: null },
        ],
      });
    });
    // A failed write: the claim goes back and the single path tries it, scheduling a retry or holding it as always.
    if (failed.length > 0) {
      log.warn({ postings: failed.map((f) => f.doc._id) }, 'batch posting: some ledger writes failed; sent singly');
      await handBack(failed.map((f) => f.doc._id));
      for (const f of failed) {
        held.delete(f.doc._id);
        singly.push({ documentId: f.documentId, run: () => deliverPosting(store, connector, policy, f.doc._id, log) });
      }
    }

    // Told before it is written (as the single path does), then every result in one bulk write.
    for (const p of posted) {
      const before = held.get(p._id)!.doc;
      if (before.openException)
        await resolveException(store, before, {
          action: 'POSTED',
          words: 'posted',
          detail: 'the ERP took it after all',
          afterwards: `booked in the ledger as ${p.erpDocument?.documentId ?? p.postingKey}`,
        });
    }
    await store.outbox.raiseMany(posted.flatMap(deliveryEvents));
    timer.lap('events');
    // What changed, not the whole posting again (its source document and entry are most of its size).
    const writeResults = async () => {
      if (posted.length > 0)
        await store.postings.bulkWrite(
          posted.map((p) => ({
            updateOne: {
              filter: { _id: p._id },
              update: {
                $set: {
                  status: p.status,
                  attempts: p.attempts,
                  erpDocument: p.erpDocument,
                  postedAt: p.postedAt,
                  lastError: null,
                  nextAttemptAt: null,
                  lockedUntil: null,
                  openException: null,
                },
                $push: { history: p.history.at(-1)! },
              },
            },
          })),
          { ordered: false },
        );
    };
    for (const p of posted) done(held.get(p._id)!.documentId, p);
    if (deferred) {
      // The caller awaits it before answering: meanwhile the ledger takes the next chunk's writes. The claims are held
      // until it is written, and a write lost with a crash finds the entry in the ledger on retry (ALREADY_IN_ERP).
      const claimed = [...held.values()].map((h) => h.claim._id);
      held.clear();
      const started = performance.now();
      const written = writeResults()
        .finally(() => releaseClaims(claimed))
        .then(() => {
          if (batchTimingsLogged())
            log.warn(
              { documents: 0, ms: { 'results (overlapped)': Math.round(performance.now() - started) } },
              'batch posting timings',
            );
        });
      // Handled here so a failure waits, without crashing the process, for the caller's await to report it.
      written.catch(() => undefined);
      deferred.push(written);
    } else await writeResults();
    timer.lap('results');
  } catch (error) {
    // Left unsent by a failure of the batch itself: due again for the worker at once, rather than after the lease.
    await handBack([...held.keys()]).catch(() => undefined);
    held.clear();
    throw error;
  } finally {
    await release([...held.keys()]);
  }

  // What the batch set aside, one at a time (rare: holds, retries, races).
  for (const s of singly) {
    try {
      done(s.documentId, await s.run());
    } catch (error) {
      results.set(s.documentId, failureOf(s.documentId, error, log));
    }
  }
  timer.lap('singly');
  await reverseAccruals(store, connector, policy, prepared, correlationId, log);
  timer.lap('accruals');
  if (batchTimingsLogged())
    log.warn(
      { documents: prepared.length, sentInBatch: sent.inBatch, singly: singly.length, ms: timer.steps },
      'batch posting timings',
    );
  return [...results.values()];
}

/** Invoices whose usage was accrued: the accrual is taken back now, as postInvoice does (one read for the batch). */
async function reverseAccruals(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  prepared: ReadonlyArray<Prepared | { documentId: string; postingKey: string }>,
  correlationId: string,
  log: Logger,
): Promise<void> {
  const invoices = prepared.flatMap((p) => ('doc' in p && p.doc.kind === 'INVOICE' ? [p.doc.source] : []));
  if (invoices.length === 0) return;
  const accrued = await store.postings
    .find({ _id: { $in: invoices.map((i) => postingIdOf(accrualPostingKey(i.id))) } }, { projection: { _id: 1 } })
    .toArray();
  const ids = new Set(accrued.map((a) => a._id));
  for (const invoice of invoices)
    if (ids.has(postingIdOf(accrualPostingKey(invoice.id))))
      await reverseAccrualOf(
        store,
        connector,
        policy,
        { id: invoice.id, number: invoice.number, issueDate: invoice.issueDate },
        correlationId,
        log,
      ).catch((error) => log.error({ err: error, invoiceId: invoice.id }, 'batch posting: accrual reversal failed'));
}

/**
 * The first chunk is small: nothing overlaps its finalization, so the ledger starts writing after a few invoices. The
 * rest goes in chunks of 15, each finalized (finalizeInvoices claims a series' numbers with one insert) and made ready
 * while the one before is written to the ledger, so the ledger — the one part that cannot go faster — seldom waits.
 */
const FIRST_FINALIZE_CHUNK = 5;
const FINALIZE_CHUNK = 15;
/** Chunks under way at once in finalizeAndPostInvoices. */
const PIPELINE_DEPTH = 3;

/** The invoice ids in pipeline chunks: a short first chunk, then chunks of FINALIZE_CHUNK. */
export const finalizeChunks = (ids: readonly string[]): string[][] =>
  pipelineChunks(ids, FIRST_FINALIZE_CHUNK, FINALIZE_CHUNK);

interface Finalization {
  invoiceId: string;
  invoice: InvoiceView | null;
  code: string | null;
  message: string | null;
  expected: string | null;
}

/**
 * finalizeAndPostInvoices: finalizeInvoices in the invoices subgraph returns what the posting needs (one hop). A
 * pipeline two chunks deep: while one chunk is written to the ledger, the next is finalized (another process) and
 * built, claimed and stored here, its writes queued behind the first's; then the one after is finalized.
 */
export async function finalizeAndPostInvoices(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  invoiceIds: readonly string[],
  correlationId: string,
  log: Logger,
): Promise<BatchPostingResult[]> {
  assertBatchSize(invoiceIds, 'invoiceIds');
  const unique = [...new Set(invoiceIds)];
  const finalize = (ids: string[]) =>
    querySubgraph<{ finalizeInvoices: Finalization[] }>(
      'invoices',
      `mutation($ids: [ID!]!) { finalizeInvoices(invoiceIds: $ids) { invoiceId code message expected invoice { ${INVOICE_FIELDS} } } }`,
      { ids },
    ).then((r) => r.finalizeInvoices);
  /** Each chunk's results write, overlapping the next chunk's ledger writes; all awaited before answering. */
  const resultWrites: Array<Promise<void>> = [];
  const post = async (finalized: Finalization[]): Promise<BatchPostingResult[]> => {
    const existing = await existingPostings(
      store,
      finalized.filter((f) => f.invoice).map((f) => invoicePostingKey(f.invoiceId)),
    );
    const customers = await customersOf(
      finalized
        .filter((f) => f.invoice && !existing.has(postingIdOf(invoicePostingKey(f.invoiceId))))
        .map((f) => f.invoice!.customer.id),
    );
    const prepared = finalized.map((f) =>
      !f.invoice
        ? {
            documentId: f.invoiceId,
            error: failure(f.invoiceId, f.code ?? 'FINALIZATION_FAILED', f.message ?? '', f.expected),
          }
        : existing.has(postingIdOf(invoicePostingKey(f.invoiceId)))
          ? { documentId: f.invoiceId, postingKey: invoicePostingKey(f.invoiceId) }
          : preparedInvoice(f.invoiceId, f.invoice, customers),
    );
    return postPrepared(store, connector, policy, prepared, existing, correlationId, log, resultWrites);
  };
  const posting: Array<Promise<BatchPostingResult[]>> = [];
  const chunks = finalizeChunks(unique);
  /** Each chunk's finalization, started once the one before it is under way (see below). */
  const finalizations: Array<Promise<Finalization[]>> = [];
  const startFinalizing = (k: number) => {
    if (k < chunks.length && !finalizations[k]) {
      finalizations[k] = finalize(chunks[k]!);
      // Settled either way, so a failure is reported when it is awaited, never as unhandled.
      finalizations[k]!.catch(() => undefined);
    }
  };
  try {
    startFinalizing(0);
    for (const [k, chunk] of chunks.entries()) {
      const waited = performance.now();
      // Two finalizations at once: each is a handful of database round trips, mostly waiting, and while the journal
      // is short the ledger writes a chunk faster than one finalization after another keeps up with.
      startFinalizing(k + 1);
      const finalized = await finalizations[k]!;
      if (batchTimingsLogged())
        log.warn(
          { chunk: k, invoices: chunk.length, ms: Math.round(performance.now() - waited) },
          'batch waited for finalization',
        );
      posting.push(post(finalized));
      // Settled either way, so a failure is reported when it is awaited below, never as unhandled.
      posting.at(-1)!.catch(() => undefined);
      // At most three chunks under way: the one being written and two made ready behind it (while the journal is
      // short, the ledger writes a chunk faster than the next is finalized and made ready).
      if (posting.length >= PIPELINE_DEPTH) await posting.at(-PIPELINE_DEPTH);
    }
  } finally {
    // Every chunk's finalization, posting and results write ends before the call answers, and a failed one fails the
    // call (a chunk finalized after an earlier one failed is left finalized, for the next call or billing run to post).
    await Promise.allSettled(finalizations);
    await Promise.allSettled(posting);
    await Promise.all(resultWrites);
  }
  return inInputOrder(invoiceIds, (await Promise.all(posting)).flat());
}
