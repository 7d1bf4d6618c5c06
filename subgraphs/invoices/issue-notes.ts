// Use case: issue credit and debit notes for the open adjustments of finalized invoices. Per invoice, the lines that
// decreased go on one credit note and those that increased on one debit note. Which invoice correction a note is
// (`${invoiceId}#${n}`) is an insert, so two issuers — in one process or several — never correct the same difference
// twice; the number is then claimed from the note's own gapless series, and the note inserted once.
import { mapConcurrently } from '../../lib/concurrency';
import { Dec, fromMinorUnits, sumMoney, toMinorUnits, type Money } from '../../lib/money';
import { deterministicId } from '../../lib/ids';
import { UserFacingError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { isDuplicateKeyError } from '../../lib/mongo';
import { isoDate } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { correctionsOf, openDifferences } from './open-differences';
import { settleAdjustmentException } from './work-queue-exceptions';
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
  /** Set by a batch: the batch posts the notes, in groups (postNotes calls) as they are issued. */
  postLater?: boolean;
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

/** The slot's own number if an earlier attempt claimed one, else the next in its series (credit and debit apart). */
async function claimNoteNumber(store: InvoicesStore, slot: NoteSlotDoc, now: Date): Promise<NoteNumberDoc> {
  const series = `${slot.legalEntityCode}-${slot.kind === 'CREDIT' ? 'CN' : 'DN'}-${now.getUTCFullYear()}`;
  for (;;) {
    const mine = await store.noteNumbers.findOne({ noteId: slot.noteId });
    if (mine) return mine;
    const [last] = await store.noteNumbers.find({ series }).sort({ sequence: -1 }).limit(1).toArray();
    const sequence = (last?.sequence ?? 0) + 1;
    try {
      const claim: NoteNumberDoc = {
        _id: `${series}:${sequence}`,
        series,
        sequence,
        noteId: slot.noteId,
        claimedAt: now,
      };
      await store.noteNumbers.insertOne(claim);
      return claim;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
}

/** The adjustments a note carries are ISSUED, in one update (callers hold the invoice's lock). */
async function markIssued(store: InvoicesStore, slot: NoteSlotDoc): Promise<void> {
  await store.adjustments.updateMany(
    { _id: { $in: slot.lines.map((l) => l.adjustmentId) }, status: 'OPEN' },
    { $set: { status: 'ISSUED', noteId: slot.noteId, updatedAt: new Date() } },
  );
}

/** Numbers and inserts the note a slot planned (idempotent: a slot completed twice is one note). */
async function completeSlot(store: InvoicesStore, slot: NoteSlotDoc): Promise<{ note: NoteDoc; now: boolean }> {
  const existing = await store.notes.findOne({ _id: slot.noteId });
  if (existing) {
    await markIssued(store, slot);
    return { note: existing, now: false };
  }
  const claim = await claimNoteNumber(store, slot, new Date());
  const { _id: _slot, noteId, plannedAt: _at, ...content } = slot;
  const note: NoteDoc = {
    ...content,
    _id: noteId,
    number: `${claim.series}-${String(claim.sequence).padStart(6, '0')}`,
    issueDate: isoDate(claim.claimedAt),
    issuedAt: claim.claimedAt,
  };
  try {
    await store.notes.insertOne(note);
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    return { note: (await store.notes.findOne({ _id: noteId }))!, now: false };
  }
  await markIssued(store, slot);
  await store.outbox.raise({
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
  return { note, now: true };
}

async function issueForInvoice(store: InvoicesStore, invoiceId: string, options: IssueOptions): Promise<NoteIssue> {
  const invoice = await store.invoices.findOne({ _id: invoiceId });
  if (!invoice || invoice.status !== 'FINALIZED') {
    const code = !invoice ? 'NOT_FOUND' : invoice.status === 'VOIDED' ? 'INVOICE_VOIDED' : 'INVOICE_NOT_FINALIZED';
    const message = !invoice
      ? `invoice "${invoiceId}" is not finalized or does not exist`
      : `invoice ${invoiceId} is ${invoice.status}; notes correct finalized invoices`;
    return { invoiceId, status: 'FAILED', notes: [], code, message };
  }
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
      // The difference is recomputed against every note planned so far, so a note never carries what another did.
      const corrections = correctionsOf(slots);
      const due = open.flatMap((a) => {
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
      if (due.length === 0) return out;
      const credit = due.filter((d) => toMinorUnits(d.difference) < 0n);
      const debit = due.filter((d) => toMinorUnits(d.difference) > 0n);
      let sequence = slots.length + 1;
      const planned: NoteSlotDoc[] = [];
      for (const [kind, group] of [
        ['CREDIT', credit],
        ['DEBIT', debit],
      ] as const) {
        if (group.length > 0) planned.push(await planNote(store, invoice, kind, sequence++, group, options));
      }
      try {
        for (const slot of planned) await store.noteSlots.insertOne(slot);
      } catch (error) {
        // Another issuer took this correction of the invoice: read again and go on from what it planned.
        if (!isDuplicateKeyError(error)) throw error;
        continue;
      }
      // Every difference read is on a note now; one recorded since is for the next issue (a round more would only
      // read the slots and adjustments again to find that out).
      for (const slot of planned) out.push((await completeSlot(store, slot)).note);
      return out;
    }
    throw new UserFacingError('CONFLICT', `invoice ${invoiceId} kept changing while notes were issued; try again`, {
      field: 'invoiceIds',
    });
  });
  if (!options.postLater) await requestPostings(issued, options.log);
  if (issued.length > 0) {
    const policy = options.issuedBy.startsWith('policy:');
    await settleAdjustmentException(store, invoiceId, options.log, {
      by: policy ? null : options.issuedBy,
      detail: `${issued.map((n) => n.number).join(', ')} issued for invoice ${invoice.number}${policy ? ` by the note policy (${options.issuedBy.slice(7)})` : ''}`,
    });
  }
  return { invoiceId, status: issued.length > 0 ? 'ISSUED' : 'NOTHING_OPEN', notes: issued, code: null, message: null };
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

/** Invoices whose notes are issued at the same time by one call. */
const NOTE_CONCURRENCY = 4;
/** A batch's notes go to erp-postings in groups while the rest are issued: a small first group, then groups of 10. */
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
  // A few invoices at a time: each is a score of short reads and writes under its own lock, and note numbers are
  // claimed by insert (a number taken meanwhile is retried with the next), so they stay gapless (bench:post: 50 notes
  // took 4.8 s one after another). Their postings start with the first few notes, beside the issuing of the rest.
  const posting = new NotesToPost(options.log);
  const results = await mapConcurrently(invoiceIds, NOTE_CONCURRENCY, async (invoiceId): Promise<NoteIssue> => {
    let result: NoteIssue;
    try {
      result = await issueForInvoice(store, invoiceId, { ...options, postLater: true });
    } catch (error) {
      const e = error as { message?: string; extensions?: { code?: string } };
      options.log.warn({ err: error, invoiceId }, 'issuing notes failed for an invoice; the others go on');
      return {
        invoiceId,
        status: 'FAILED',
        notes: [],
        code: e.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
        message: e.extensions?.code ? (e.message ?? String(error)) : 'issuing the notes failed; see the logs',
      };
    }
    await posting.add(result.notes);
    return result;
  });
  await posting.finish();
  return results;
}
