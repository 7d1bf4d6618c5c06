// What invoicing tells finance's work queue (owned by the events subgraph): a finalized invoice whose lines were
// re-rated afterwards holds adjustments no credit or debit note carries yet. One item per invoice; it resolves by
// itself once no adjustment of the invoice is open any more — a note issued (by finance or by policy), or a later
// re-rating that brought the lines back to what was billed.
import type { Logger } from '../../lib/logger';
import { contentHash, deterministicId } from '../../lib/ids';
import { raiseException, resolvedEvent } from '../../lib/exceptions';
import { fromMinorUnits, toMinorUnits } from '../../lib/money';
import { querySubgraph } from '../../lib/subgraph-client';
import type { AdjustmentDoc, InvoicesStore } from './store';

export const adjustmentExceptionId = (invoiceId: string): string =>
  deterministicId('exc', 'ADJUSTMENT_AWAITING_NOTE', invoiceId);

/** How the adjustments stopped being open, when someone acted (issued the notes); null: they went by themselves. */
export interface NoteAction {
  by: string | null;
  detail: string;
  /** The action's code when it is not issuing notes (e.g. INVOICE_VOIDED). */
  action?: string;
}

async function customerOf(id: string, log: Logger): Promise<{ externalKey: string; name: string } | null> {
  try {
    const { customer } = await querySubgraph<{ customer: { externalKey: string; name: string } | null }>(
      'subscriptions',
      'query($id: ID!) { customer(id: $id) { externalKey name } }',
      { id },
    );
    return customer;
  } catch (error) {
    log.warn({ err: error, customerId: id }, 'customer unreadable; the work item names its id');
    return null;
  }
}

const signed = (minor: bigint, currency: string) => {
  const m = fromMinorUnits(minor, currency);
  return `${minor > 0n ? '+' : ''}${m.amount} ${currency}`;
};

/**
 * Tells the queue where an invoice's adjustments stand: open ones raise (or refresh) its item with what they hold;
 * none open (but some recorded) resolves it, saying how. Idempotent: the same state is the same event.
 */
export function settleAdjustmentException(
  store: InvoicesStore,
  invoiceId: string,
  log: Logger,
  action: NoteAction | null = null,
): Promise<void> {
  return settleAdjustmentExceptions(store, [invoiceId], log, () => action);
}

/** The notes that carry these adjustments, each once. */
const issuedNoteIds = (adjustments: readonly AdjustmentDoc[]): string[] => [
  ...new Set(adjustments.flatMap((a) => (a.status === 'ISSUED' && a.noteId ? [a.noteId] : []))),
];

/** settleAdjustmentException for many invoices: two reads for all, and every resolution raised at once. */
export async function settleAdjustmentExceptions(
  store: InvoicesStore,
  invoiceIds: readonly string[],
  log: Logger,
  actionOf: (invoiceId: string) => NoteAction | null = () => null,
): Promise<void> {
  if (invoiceIds.length === 0) return;
  const byInvoice = new Map<string, AdjustmentDoc[]>();
  for (const a of await store.adjustments.find({ invoiceId: { $in: [...new Set(invoiceIds)] } }).toArray())
    byInvoice.set(a.invoiceId, [...(byInvoice.get(a.invoiceId) ?? []), a]);
  const noteIds = issuedNoteIds([...byInvoice.values()].flat());
  const notes = new Map(
    (noteIds.length ? await store.notes.find({ _id: { $in: noteIds } }).toArray() : []).map((n) => [n._id, n]),
  );
  const resolved = [];
  for (const [invoiceId, all] of byInvoice) {
    const open = all.filter((a) => a.status === 'OPEN');
    const exceptionId = adjustmentExceptionId(invoiceId);
    const first = all[0]!;
    if (open.length > 0) {
      await raiseOpen(store, exceptionId, first, open, log);
      continue;
    }
    const action = actionOf(invoiceId);
    const noteWords = issuedNoteIds(all)
      .flatMap((id) => notes.get(id) ?? [])
      .sort((a, b) => a.number.localeCompare(b.number))
      .map(
        (n) => `${n.kind === 'CREDIT' ? 'credit' : 'debit'} note ${n.number} (${n.total.amount} ${n.total.currency})`,
      );
    resolved.push(
      resolvedEvent(
        {
          exceptionId,
          kind: 'ADJUSTMENT_AWAITING_NOTE',
          resolution: action?.action ?? (noteWords.length ? 'NOTE_ISSUED' : 'NO_LONGER_DIFFERENT'),
          detail:
            action?.detail ??
            (noteWords.length
              ? `the notes were issued by policy for invoice ${first.invoiceNumber}`
              : `a later re-rating brought invoice ${first.invoiceNumber}'s lines back to what it billed`),
          afterwards: noteWords.length
            ? `${noteWords.join(', ')} issued and sent to the ledger`
            : action?.action === 'INVOICE_VOIDED'
              ? 'no note needed: the replacement invoice bills the charges as they are'
              : 'nothing to correct: no note needed',
          resolvedBy: action?.by ?? null,
        },
        contentHash(all.map((a) => `${a._id}:${a.status}`).sort()),
      ),
    );
  }
  await store.outbox.raiseMany(resolved);
}

async function raiseOpen(
  store: InvoicesStore,
  exceptionId: string,
  invoice: AdjustmentDoc,
  open: readonly AdjustmentDoc[],
  log: Logger,
): Promise<void> {
  const currency = invoice.currency;
  const minor = open.map((a) => toMinorUnits(a.difference));
  const net = minor.reduce((s, m) => s + m, 0n);
  const credit = minor.filter((m) => m < 0n).reduce((s, m) => s + m, 0n);
  const debit = minor.filter((m) => m > 0n).reduce((s, m) => s + m, 0n);
  const customer = await customerOf(invoice.customerId, log);
  const who = customer ? `${customer.name} (${customer.externalKey})` : `customer ${invoice.customerId}`;
  const parts = [
    credit < 0n ? `${signed(credit, currency)} to credit` : null,
    debit > 0n ? `${signed(debit, currency)} to debit` : null,
  ].filter(Boolean);
  const references: Record<string, string> = {
    invoiceId: invoice.invoiceId,
    invoiceNumber: invoice.invoiceNumber,
    customerId: invoice.customerId,
    period: invoice.periodKey,
    legalEntityCode: invoice.legalEntityCode,
  };
  if (customer) references.customerKey = customer.externalKey;
  await raiseException(
    store.outbox,
    {
      exceptionId,
      kind: 'ADJUSTMENT_AWAITING_NOTE',
      problem: `invoice ${invoice.invoiceNumber} of ${who} for ${invoice.periodKey} was re-rated after it was finalized: ${open.length} line${open.length === 1 ? '' : 's'} now differ${open.length === 1 ? 's' : ''} from what it billed (${parts.join(', ')}), and no note carries ${open.length === 1 ? 'it' : 'them'} yet`,
      remedy: `issue the credit or debit note for invoice ${invoice.invoiceNumber}; the note is then posted to the ledger by itself`,
      held: {
        count: open.length,
        unit: open.length === 1 ? 'adjustment' : 'adjustments',
        amounts: [fromMinorUnits(net, currency)],
      },
      references,
      sampleRecordIds: open.slice(0, 20).map((a) => a._id),
    },
    contentHash(open.map((a) => a._id).sort()),
  );
}
