// Use case: issue credit and debit notes for the open adjustments of finalized invoices. Per invoice, the lines that
// decreased go on one credit note and those that increased on one debit note. Which invoice correction a note is
// (`${invoiceId}#${n}`) is an insert, so two issuers — in one process or several — never correct the same difference
// twice; the number is then claimed from the note's own gapless series, and the note inserted once. A call issues its
// invoices in bulk, a chunk at a time (one read, one insert per step for the chunk), and posts each chunk's notes while
// it issues the next; anything out of the ordinary goes one invoice at a time.
import { mapConcurrently, pipelineChunks } from '../../lib/concurrency';
import { Dec, fromMinorUnits, sumMoney, toMinorUnits, type Money } from '../../lib/money';
import { deterministicId } from '../../lib/ids';
import { UserFacingError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { insertedAll, insertManyNew } from '../../lib/mongo';
import { isoDate } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { correctionsOf, openDifferences } from './open-differences';
import { NumberSeries } from './number-series';
import { settleAdjustmentException, settleAdjustmentExceptions, type NoteAction } from './work-queue-exceptions';
import { computeTax, type ApplicableRate } from './tax/compute';
import type {
  AdjustmentDoc,
  InvoiceDoc,
  InvoicesStore,
  NoteDoc,
  NoteKind,
  NoteLineDoc,
  NoteNumberDoc,
  NoteSlotDoc,
} from './store';

export interface NoteIssue {
  invoiceId: string;
  status: 'ISSUED' | 'NOTHING_OPEN' | 'FAILED';
  notes: NoteDoc[];
  code: string | null;
  message: string | null;
}

export interface IssueOptions {
  /** The authenticated subject, or policy:<trigger>. */
  issuedBy: string;
  /** Differences smaller than this (either sign) wait; none when omitted. */
  minimumDifference?: string;
  correlationId: string;
  log: Logger;
}

const abs = (m: Money): Money => fromMinorUnits(toMinorUnits(m) < 0n ? -toMinorUnits(m) : toMinorUnits(m), m.currency);

/** The rates a note line is taxed at: the invoice line's; for a line re-rating added, what the invoice's context gives. */
async function ratesForNoteLines(
  store: InvoicesStore,
  invoice: InvoiceDoc,
  lines: readonly NoteLineDoc[],
): Promise<Map<string, ApplicableRate[]>> {
  const out = new Map<string, ApplicableRate[]>();
  const added: NoteLineDoc[] = [];
  for (const l of lines) {
    const original = invoice.lines.find((x) => x.id === l.invoiceLineId);
    if (original)
      out.set(
        l.id,
        (original.taxes ?? []).map(({ jurisdiction, name, ratePercent }) => ({ jurisdiction, name, ratePercent })),
      );
    else added.push(l);
  }
  if (added.length > 0 && invoice.tax) {
    const t = invoice.tax;
    const r = await store.taxEngine.calculate({
      taxDate: t.taxDate,
      currency: invoice.currency,
      customer: {
        id: invoice.customerId,
        jurisdiction: t.jurisdiction,
        address: t.address,
        exemption: t.exemption,
        taxId: t.customerTaxId,
      },
      lines: added.map((l) => ({ lineId: l.id, productLine: l.productLine, amount: l.amount })),
      rounding: t.rounding,
    });
    for (const l of r.lines)
      out.set(
        l.lineId,
        l.taxes.map(({ jurisdiction, name, ratePercent }) => ({ jurisdiction, name, ratePercent })),
      );
  }
  for (const l of added) if (!out.has(l.id)) out.set(l.id, []);
  return out;
}

/** A note's content for one kind of difference: its lines, taxed at the invoice's rates with its rounding. */
async function planNote(
  store: InvoicesStore,
  invoice: InvoiceDoc,
  kind: NoteKind,
  sequence: number,
  adjustments: ReadonlyArray<{ adjustment: AdjustmentDoc; difference: Money }>,
  options: IssueOptions,
): Promise<NoteSlotDoc> {
  const noteId = deterministicId('note', invoice._id, sequence);
  const lines: NoteLineDoc[] = adjustments.map(({ adjustment: a, difference }, i) => ({
    id: `${noteId}-l${i + 1}`,
    lineNo: i + 1,
    invoiceLineId: a.invoiceLineId,
    lineKey: a.lineKey,
    adjustmentId: a._id,
    kind: a.now.kind,
    description: a.now.description,
    productLine: a.now.productLine,
    quantity: a.now.quantity,
    unit: a.now.unit,
    unitPrice: a.now.unitPrice,
    amount: abs(difference),
    servicePeriod: a.now.servicePeriod,
    taxes: [],
  }));
  const rates = await ratesForNoteLines(store, invoice, lines);
  const taxed = computeTax(
    lines.map((l) => ({ lineId: l.id, amount: l.amount, rates: rates.get(l.id) ?? [] })),
    invoice.currency,
    invoice.tax?.rounding ?? { mode: 'HALF_UP', level: 'PER_LINE' },
  );
  for (const l of lines) l.taxes = taxed.lines.find((x) => x.lineId === l.id)?.taxes ?? [];
  const subtotal = sumMoney(
    lines.map((l) => l.amount),
    invoice.currency,
  );
  return {
    _id: `${invoice._id}#${sequence}`,
    noteId,
    kind,
    invoiceId: invoice._id,
    invoiceNumber: invoice.number!,
    sequence,
    customerId: invoice.customerId,
    subscriptionId: invoice.subscriptionId,
    legalEntityCode: invoice.legalEntityCode,
    periodKey: invoice.periodKey,
    currency: invoice.currency,
    lines,
    subtotal,
    taxLines: taxed.taxLines.map(({ lineIds: _ids, ...t }) => t),
    taxTotal: taxed.total,
    total: sumMoney([subtotal, taxed.total], invoice.currency),
    tax: invoice.tax ?? null,
    issuedBy: options.issuedBy,
    correlationId: options.correlationId,
    plannedAt: new Date(),
  };
}

/** A note's number series: per legal entity, credit and debit apart, per year of issue. */
const seriesOf = (slot: NoteSlotDoc, now: Date) =>
  `${slot.legalEntityCode}-${slot.kind === 'CREDIT' ? 'CN' : 'DN'}-${now.getUTCFullYear()}`;

/** The notes' gapless numbers, claimed by insert (number-series.ts). */
const noteNumbers = (store: InvoicesStore) => new NumberSeries(store.noteNumbers, 'noteId');

/** The adjustments each note carries are ISSUED, in one write (callers hold the invoices' locks). */
async function markIssued(store: InvoicesStore, slots: readonly NoteSlotDoc[]): Promise<void> {
  if (slots.length === 0) return;
  const updatedAt = new Date();
  await store.adjustments.bulkWrite(
    slots.map((slot) => ({
      updateMany: {
        filter: { _id: { $in: slot.lines.map((l) => l.adjustmentId) }, status: 'OPEN' as const },
        update: { $set: { status: 'ISSUED' as const, noteId: slot.noteId, updatedAt } },
      },
    })),
    { ordered: false },
  );
}

/** The note a slot planned, under the number claimed for it. */
function noteOf(slot: NoteSlotDoc, claim: NoteNumberDoc): NoteDoc {
  const { _id: _slot, noteId, plannedAt: _at, ...content } = slot;
  return {
    ...content,
    _id: noteId,
    number: `${claim.series}-${String(claim.sequence).padStart(6, '0')}`,
    issueDate: isoDate(claim.claimedAt),
    issuedAt: claim.claimedAt,
  };
}

/** `note.issued`, once per note (the event id is the note's). */
const issuedEvent = (note: NoteDoc) => ({
  id: `note.issued:${note._id}`,
  type: 'note.issued',
  subject: note._id,
  occurredAt: note.issuedAt,
  data: {
    noteId: note._id,
    number: note.number,
    kind: note.kind,
    invoiceId: note.invoiceId,
    invoiceNumber: note.invoiceNumber,
    customerId: note.customerId,
    legalEntityCode: note.legalEntityCode,
    issueDate: note.issueDate,
    subtotal: note.subtotal,
    taxTotal: note.taxTotal,
    total: note.total,
    issuedBy: note.issuedBy,
  },
});

/**
 * Numbers and inserts the note a slot planned, raises its event and marks its adjustments ISSUED — in that order, so
 * a note whose adjustments are still open is one an attempt left unfinished (a crash, a failed bulk pass): it is
 * finished here (its event raised again: the event id makes that one event) and counts as issued now. A slot completed
 * twice is one note.
 */
async function completeSlot(store: InvoicesStore, slot: NoteSlotDoc): Promise<{ note: NoteDoc; now: boolean }> {
  const stored = await store.notes.findOne({ _id: slot.noteId });
  let note: NoteDoc;
  if (stored) {
    const unfinished = await store.adjustments.countDocuments(
      { _id: { $in: slot.lines.map((l) => l.adjustmentId) }, status: 'OPEN' },
      { limit: 1 },
    );
    if (unfinished === 0) return { note: stored, now: false };
    note = stored;
  } else {
    const issuedAt = new Date();
    note = noteOf(slot, await noteNumbers(store).claimOne(seriesOf(slot, issuedAt), slot.noteId, issuedAt));
    // Only under an expired lock could another issuer have written it meanwhile: then it finishes it.
    if ((await insertManyNew(store.notes, [note])).size > 0)
      return { note: (await store.notes.findOne({ _id: slot.noteId }))!, now: false };
  }
  await store.outbox.raise(issuedEvent(note));
  await markIssued(store, [slot]);
  return { note, now: true };
}

/**
 * The differences of an invoice's open adjustments that no note planned so far carries (current − invoiced − corrected,
 * recomputed against every slot, so a note never carries what another did), those under `minimum` either way left to
 * wait.
 */
function dueDifferences(
  invoice: InvoiceDoc,
  open: readonly AdjustmentDoc[],
  slots: readonly NoteSlotDoc[],
  minimum: Dec,
): Array<{ adjustment: AdjustmentDoc; difference: Money }> {
  const corrections = correctionsOf(slots);
  return open.flatMap((a) => {
    const [d] = openDifferences(
      a.invoiceLineId
        ? [
            {
              lineKey: a.lineKey,
              invoiceLineId: a.invoiceLineId,
              ratedChargeId: a.invoicedRatedChargeId ?? '',
              amount: a.invoiced,
            },
          ]
        : [],
      [{ lineKey: a.lineKey, ratedChargeId: a.currentRatedChargeId ?? 'void', voided: false, amount: a.current }],
      corrections,
      invoice.currency,
    );
    const difference = d!.difference;
    return toMinorUnits(difference) !== 0n && new Dec(abs(difference).amount).gte(minimum)
      ? [{ adjustment: a, difference }]
      : [];
  });
}

/** The slots of an invoice's next notes: the lines that decreased on a credit note, those that increased on a debit. */
async function planNotes(
  store: InvoicesStore,
  invoice: InvoiceDoc,
  due: ReadonlyArray<{ adjustment: AdjustmentDoc; difference: Money }>,
  nextSequence: number,
  options: IssueOptions,
): Promise<NoteSlotDoc[]> {
  const planned: NoteSlotDoc[] = [];
  for (const [kind, group] of [
    ['CREDIT', due.filter((d) => toMinorUnits(d.difference) < 0n)],
    ['DEBIT', due.filter((d) => toMinorUnits(d.difference) > 0n)],
  ] as const) {
    if (group.length > 0) planned.push(await planNote(store, invoice, kind, nextSequence++, group, options));
  }
  return planned;
}

/** Why notes cannot be issued for this invoice, as its result; null when it is finalized. */
function refusal(invoiceId: string, invoice: InvoiceDoc | null): NoteIssue | null {
  if (invoice?.status === 'FINALIZED') return null;
  const code = !invoice ? 'NOT_FOUND' : invoice.status === 'VOIDED' ? 'INVOICE_VOIDED' : 'INVOICE_NOT_FINALIZED';
  const message = !invoice
    ? `invoice "${invoiceId}" is not finalized or does not exist`
    : `invoice ${invoiceId} is ${invoice.status}; notes correct finalized invoices`;
  return { invoiceId, status: 'FAILED', notes: [], code, message };
}

const issuedResult = (invoiceId: string, notes: NoteDoc[]): NoteIssue => ({
  invoiceId,
  status: notes.length > 0 ? 'ISSUED' : 'NOTHING_OPEN',
  notes,
  code: null,
  message: null,
});

/** What the work queue says resolved an invoice's item once its notes are issued. */
function issuedAction(invoice: InvoiceDoc, notes: readonly NoteDoc[], options: IssueOptions): NoteAction {
  const policy = options.issuedBy.startsWith('policy:');
  return {
    by: policy ? null : options.issuedBy,
    detail: `${notes.map((n) => n.number).join(', ')} issued for invoice ${invoice.number}${policy ? ` by the note policy (${options.issuedBy.slice(7)})` : ''}`,
  };
}

/** One invoice's notes, one step at a time under its lock: the path for whatever the bulk pass leaves out. */
async function issueForInvoice(store: InvoicesStore, invoiceId: string, options: IssueOptions): Promise<NoteIssue> {
  const invoice = await store.invoices.findOne({ _id: invoiceId });
  const refused = refusal(invoiceId, invoice);
  if (refused || !invoice) return refused!;
  const minimum = new Dec(options.minimumDifference ?? '0');
  const issued = await store.locks.run(invoiceId, async () => {
    const out: NoteDoc[] = [];
    for (let round = 0; round < 10; round++) {
      const slots = await store.noteSlots.find({ invoiceId }).sort({ sequence: 1 }).toArray();
      // A slot planned but not finished (a crash, or another process right now) is finished first: its number is taken.
      for (const slot of slots) {
        const done = await completeSlot(store, slot);
        if (done.now) out.push(done.note);
      }
      const open = await store.adjustments.find({ invoiceId, status: 'OPEN' }).toArray();
      const due = dueDifferences(invoice, open, slots, minimum);
      if (due.length === 0) return out;
      const planned = await planNotes(store, invoice, due, slots.length + 1, options);
      // Another issuer took this correction of the invoice: read again and go on from what it planned.
      if (!(await insertedAll(store.noteSlots, planned))) continue;
      // Every difference read is on a note now; one recorded since is for the next issue (a round more would only
      // read the slots and adjustments again to find that out).
      for (const slot of planned) out.push((await completeSlot(store, slot)).note);
      return out;
    }
    throw new UserFacingError('CONFLICT', `invoice ${invoiceId} kept changing while notes were issued; try again`, {
      field: 'invoiceIds',
    });
  });
  if (issued.length > 0)
    await settleAdjustmentException(store, invoiceId, options.log, issuedAction(invoice, issued, options));
  return issuedResult(invoiceId, issued);
}

/**
 * The ordinary case of a chunk of invoices, in bulk under all their locks: the invoices, slots and open adjustments
 * read with `$in`, every correction claimed by one insert of its slots, each series' numbers by one ordered insert
 * (number-series.ts), the notes written with one insert, their adjustments marked with one bulk write, the events raised
 * together. Returns the results of the invoices it settled, and the notes it wrote for any it did not (an invoice
 * whose correction or number another issuer took first). Whatever it leaves out — unknown or unfinalized ids too — is
 * for issueForInvoice, which finishes any slot left planned.
 */
async function issueInBulk(
  store: InvoicesStore,
  ids: readonly string[],
  options: IssueOptions,
): Promise<{ results: NoteIssue[]; writtenFor: Map<string, NoteDoc[]> }> {
  const results: NoteIssue[] = [];
  const writtenFor = new Map<string, NoteDoc[]>();
  const finalized = (
    await store.invoices.find({ _id: { $in: [...ids] }, status: 'FINALIZED' }, { projection: { _id: 1 } }).toArray()
  ).map((i) => i._id);
  if (finalized.length === 0) return { results, writtenFor };
  const minimum = new Dec(options.minimumDifference ?? '0');
  const kept = await store.locks.runAll(finalized, async () => {
    // Read again under the locks: only now is what they say the state to act on.
    const [invoices, slots, open] = await Promise.all([
      store.invoices.find({ _id: { $in: finalized }, status: 'FINALIZED' }).toArray(),
      store.noteSlots.find({ invoiceId: { $in: finalized } }).toArray(),
      store.adjustments.find({ invoiceId: { $in: finalized }, status: 'OPEN' }).toArray(),
    ]);
    const stored = slots.length
      ? new Set(
          (
            await store.notes.find({ _id: { $in: slots.map((s) => s.noteId) } }, { projection: { _id: 1 } }).toArray()
          ).map((n) => n._id),
        )
      : new Set<string>();
    // An invoice with a slot planned but not finished (a crash, another issuer) is the single path's: it finishes it.
    // So is one with a note stored whose adjustments are still open (its completion was cut short).
    const carried = new Set(slots.flatMap((s) => s.lines.map((l) => l.adjustmentId)));
    const left = new Set([
      ...slots.filter((s) => !stored.has(s.noteId)).map((s) => s.invoiceId),
      ...open.filter((a) => carried.has(a._id)).map((a) => a.invoiceId),
    ]);
    const planned: NoteSlotDoc[] = [];
    for (const invoice of invoices) {
      if (left.has(invoice._id)) continue;
      const own = slots.filter((s) => s.invoiceId === invoice._id);
      const due = dueDifferences(
        invoice,
        open.filter((a) => a.invoiceId === invoice._id),
        own,
        minimum,
      );
      if (due.length === 0) results.push(issuedResult(invoice._id, []));
      else planned.push(...(await planNotes(store, invoice, due, own.length + 1, options)));
    }
    // Each correction is claimed by inserting its slot, in order as the single path does. Another issuer's slot in the
    // way (only under a lock that ran out) leaves every planned invoice to the single path, which finishes what went in.
    if (!(await insertedAll(store.noteSlots, planned))) planned.forEach((s) => left.add(s.invoiceId));
    const issuedAt = new Date();
    const claims = await noteNumbers(store).claimMany(
      planned.filter((s) => !left.has(s.invoiceId)).map((s) => ({ owner: s.noteId, series: seriesOf(s, issuedAt) })),
      issuedAt,
    );
    planned.forEach((s) => claims.has(s.noteId) || left.add(s.invoiceId));
    // Every slot that has a number becomes its note now, even of an invoice left to the single path (which would find
    // the note stored and not report it): what this pass wrote, it reports.
    const numbered = planned.filter((s) => claims.has(s.noteId));
    const notes = numbered.map((s) => noteOf(s, claims.get(s.noteId)!));
    const notesTaken = await insertManyNew(store.notes, notes);
    const written = notes.filter((_, i) => !notesTaken.has(i));
    notes.forEach((n, i) => notesTaken.has(i) && left.add(n.invoiceId));
    // The events before the marks, as completeSlot does: a note whose adjustments are open is one to finish.
    await store.outbox.raiseMany(written.map(issuedEvent));
    await markIssued(
      store,
      numbered.filter((_, i) => !notesTaken.has(i)),
    );
    for (const note of written) writtenFor.set(note.invoiceId, [...(writtenFor.get(note.invoiceId) ?? []), note]);
    return invoices.filter((i) => !left.has(i._id));
  });
  const actions = new Map<string, NoteAction>();
  for (const invoice of kept) {
    const notes = writtenFor.get(invoice._id);
    if (!notes) continue;
    results.push(issuedResult(invoice._id, notes));
    actions.set(invoice._id, issuedAction(invoice, notes, options));
    writtenFor.delete(invoice._id);
  }
  // The notes are issued whatever the queue hears: a failure here must not make the caller issue them again.
  await settleAdjustmentExceptions(store, [...actions.keys()], options.log, (id) => actions.get(id)!).catch((error) =>
    options.log.warn({ err: error }, 'notes issued; telling the work queue failed'),
  );
  return { results, writtenFor };
}

/** Asks erp-postings to book the notes in one batch; a failure leaves them issued, and postNote books them later. */
async function requestPostings(notes: readonly NoteDoc[], log: Logger): Promise<void> {
  if (notes.length === 0) return;
  try {
    await querySubgraph('erp-postings', 'mutation($ids: [ID!]!) { postNotes(noteIds: $ids) { documentId } }', {
      ids: notes.map((n) => n._id),
    });
  } catch (error) {
    log.warn(
      { err: error, noteIds: notes.map((n) => n._id) },
      'notes issued; posting them failed and is left to postNote',
    );
  }
}

/** Invoices the single path issues notes for at the same time (what the bulk pass left out). */
const NOTE_CONCURRENCY = 4;
/**
 * A call's invoices are issued in bulk in chunks: a small first one, so the ledger starts writing after a few notes, then
 * chunks of 10, each issued while the notes of the one before are posted. Their notes go to erp-postings in the same
 * groups.
 */
const FIRST_NOTE_GROUP = 4;
const NOTE_GROUP = 10;

/**
 * The notes of one issueNotes call, posted in groups as they are issued: the ledger writes the first notes while the
 * others are still being issued, at most two postNotes calls in flight (the second built while the first is written).
 */
class NotesToPost {
  private waiting: NoteDoc[] = [];
  private readonly inFlight: Array<Promise<void>> = [];
  private groups = 0;

  constructor(private readonly log: Logger) {}

  async add(notes: readonly NoteDoc[]): Promise<void> {
    this.waiting.push(...notes);
    if (this.waiting.length >= (this.groups === 0 ? FIRST_NOTE_GROUP : NOTE_GROUP)) await this.send();
  }

  /** Sends what waits, and returns once every group is posted (or left to postNote). */
  async finish(): Promise<void> {
    await this.send();
    await Promise.all(this.inFlight);
  }

  private async send(): Promise<void> {
    if (this.waiting.length === 0) return;
    const group = this.waiting;
    this.waiting = [];
    this.groups++;
    while (this.inFlight.length >= 2) await this.inFlight.shift();
    this.inFlight.push(requestPostings(group, this.log));
  }
}

/** One result per invoice, in input order; one that fails never stops the others. */
export async function issueNotesForInvoices(
  store: InvoicesStore,
  invoiceIds: readonly string[],
  options: IssueOptions,
): Promise<NoteIssue[]> {
  const outcomes = new Map<string, NoteIssue>();
  const writtenFor = new Map<string, NoteDoc[]>();
  const posting = new NotesToPost(options.log);
  for (const chunk of pipelineChunks([...new Set(invoiceIds)], FIRST_NOTE_GROUP, NOTE_GROUP)) {
    try {
      const bulk = await issueInBulk(store, chunk, options);
      for (const r of bulk.results) outcomes.set(r.invoiceId, r);
      for (const [id, notes] of bulk.writtenFor) writtenFor.set(id, notes);
      await posting.add([...bulk.results.flatMap((r) => r.notes), ...[...bulk.writtenFor.values()].flat()]);
    } catch (error) {
      // Nothing the bulk pass did is lost: the single path finishes each slot it planned and finds each note it wrote.
      options.log.warn({ err: error }, 'issuing notes in bulk failed for a chunk; issuing them one invoice at a time');
    }
  }
  // A few invoices at a time: each is a score of short reads and writes under its own lock, and note numbers are
  // claimed by insert (a number taken meanwhile is retried with the next), so they stay gapless.
  const rest = [...new Set(invoiceIds)].filter((id) => !outcomes.has(id));
  await mapConcurrently(rest, NOTE_CONCURRENCY, async (invoiceId) => {
    const result = await issueForInvoice(store, invoiceId, options).catch(
      (error: { message?: string; extensions?: { code?: string } }): NoteIssue => {
        options.log.warn({ err: error, invoiceId }, 'issuing notes failed for an invoice; the others go on');
        return {
          invoiceId,
          status: 'FAILED',
          notes: [],
          code: error.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
          message: error.extensions?.code ? (error.message ?? String(error)) : 'issuing the notes failed; see the logs',
        };
      },
    );
    await posting.add(result.notes);
    const earlier = writtenFor.get(invoiceId) ?? [];
    outcomes.set(invoiceId, earlier.length > 0 ? issuedResult(invoiceId, [...earlier, ...result.notes]) : result);
  });
  await posting.finish();
  return invoiceIds.map((id) => outcomes.get(id)!);
}
