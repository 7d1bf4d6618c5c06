// Business exceptions of postings, raised into finance's one work queue (owned by the events subgraph): a posting held
// for a business reason (a missing mapping, an ERP customer the ERP does not know, a closed period) raises
// `exception.raised` through the outbox with a deterministic id, in business words, with the amount it holds back;
// releasing it by any route raises `exception.resolved` saying who, how and what runs afterwards. The fields raised
// before the queue existed (code, message, owner, record, postingKey, …) are still sent for existing consumers.
import { deterministicId } from '../../lib/ids';
import { raiseException as raiseIntoQueue, resolveException as resolveInQueue } from '../../lib/exceptions';
import { fromMinorUnits, sumMoney, type Money } from '../../lib/money';
import { totals } from './journal';
import { describeMissing } from './mappings';
import {
  documentNumberOf,
  kindOf,
  type AccountMappingDoc,
  type ErpPostingDoc,
  type MissingMapping,
  type PostingError,
  type PostingsStore,
} from './store';

export interface OpenException {
  id: string;
  code: string;
  raisedAt: Date;
  /** The mappings that were missing when it was held (MAPPING_MISSING): who added them resolves it. */
  missing?: MissingMapping[];
}

/** The queue's kind of a hold: the posting's error code, named as the queue names it. */
export const queueKindOf = (code: string): string => (code === 'MAPPING_MISSING' ? 'ACCOUNT_MAPPING_MISSING' : code);

const DOCUMENT_NAMES: Record<string, string> = {
  INVOICE: 'invoice',
  CREDIT_NOTE: 'credit note',
  DEBIT_NOTE: 'debit note',
  REVENUE_RECOGNITION: 'revenue recognition for',
  ACCRUAL: 'accrual of',
  ACCRUAL_REVERSAL: 'accrual reversal for',
};

/** "Invoice INV-7 of Acme": the document a posting books, as finance calls it. */
export function documentOf(posting: ErpPostingDoc): string {
  const name = DOCUMENT_NAMES[kindOf(posting)] ?? 'document';
  const customer = posting.source?.customer.name;
  const text = `${name} ${documentNumberOf(posting)}${customer ? ` of ${customer}` : ''}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What the posting holds back: the entry's debits, or (no entry built yet) its document's lines and taxes. */
export function amountAtStake(posting: ErpPostingDoc): Money | null {
  if (posting.entry) return fromMinorUnits(totals(posting.entry).debits, posting.entry.currency);
  const source = posting.source;
  if (!source) return null;
  if ('movementId' in source) return source.amount; // a prepaid credit grant or expiry
  const amounts =
    source.kind === 'REVENUE_RECOGNITION'
      ? source.lines.map((l) => l.amount)
      : source.lines.flatMap((l) => [l.amount, ...l.taxes.map((t) => t.amount)]);
  return sumMoney(amounts, source.currency);
}

/** The accounting period it books into (what a closed period holds), else its document's month. */
function periodOf(posting: ErpPostingDoc): string | null {
  if (posting.entry) return posting.entry.accountingPeriod;
  const source = posting.source;
  if (!source) return null;
  return source.kind === 'REVENUE_RECOGNITION' ? source.month : source.issueDate.slice(0, 7);
}

function wordsFor(posting: ErpPostingDoc, error: PostingError, missing: readonly MissingMapping[]) {
  const doc = documentOf(posting);
  const amount = amountAtStake(posting);
  const held = `${doc}${amount ? ` (${amount.amount} ${amount.currency})` : ''}`;
  const period = periodOf(posting);
  const entity = posting.legalEntityCode ?? 'DEFAULT';
  switch (error.code) {
    case 'MAPPING_MISSING':
      return {
        problem: `${held} cannot be booked in the ledger: ${missing.length ? describeMissing(missing) : error.message}`,
        remedy:
          'add the missing account mapping (the ledger account it books to); the posting is then built and sent to the ledger by itself',
      };
    case 'ERP_CUSTOMER_UNKNOWN':
      return {
        problem: `${held} is held: ${error.message}`,
        remedy:
          "set the customer's ERP id to one the ERP knows, or create the customer in the ERP; the posting is then sent by itself",
      };
    case 'PERIOD_CLOSED':
      return {
        problem: `${held} is dated in accounting period ${period} of ${entity}, which is closed: it is held`,
        remedy: `post it in the next open period (it keeps its document date), or reopen ${period}; it is then sent by itself`,
      };
    default:
      return { problem: `${held} is held: ${error.message}`, remedy: error.remedy ?? 'see the posting' };
  }
}

/**
 * Raises the work-queue item of a posting being held. Called before the hold is written: should the write be cut
 * short, the same hold raises the same id again (one item per hold: the posting, the cause and its step so far).
 */
export async function raiseException(
  store: PostingsStore,
  posting: ErpPostingDoc,
  error: PostingError,
  details: { missing?: MissingMapping[] } = {},
): Promise<OpenException> {
  const id = deterministicId('exc', posting._id, error.code, posting.history.length);
  const raisedAt = new Date();
  const missing = details.missing ?? [];
  const amount = amountAtStake(posting);
  const period = periodOf(posting);
  const references: Record<string, string> = {
    postingId: posting._id,
    invoiceId: posting.invoiceId,
    documentNumber: documentNumberOf(posting),
    customerId: posting.customerId,
    legalEntityCode: posting.legalEntityCode ?? 'DEFAULT',
  };
  if (posting.source?.customer.externalKey) references.customerKey = posting.source.customer.externalKey;
  if (period) references.period = period;
  if (posting.noteId) references.noteId = posting.noteId;
  if (missing.length) references.missingMappings = missing.map((m) => `${m.kind}:${m.key}`).join(', ');
  await raiseIntoQueue(
    store.outbox,
    {
      exceptionId: id,
      kind: queueKindOf(error.code),
      ...wordsFor(posting, error, missing),
      held: { count: 1, unit: 'posting', amounts: amount ? [amount] : [] },
      references,
      sampleRecordIds: [posting._id],
    },
    'held',
    {
      occurredAt: raisedAt,
      legacy: {
        code: error.code,
        message: error.message,
        apiRemedy: error.remedy,
        owner: 'finance',
        record: { type: 'ErpPosting', id: posting._id },
        postingKey: posting.postingKey,
        postingKind: kindOf(posting),
        documentNumber: documentNumberOf(posting),
        invoiceId: posting.invoiceId,
        legalEntityCode: posting.legalEntityCode ?? null,
        ...details,
      },
    },
  );
  return { id, code: error.code, raisedAt, ...(missing.length ? { missing } : {}) };
}

/** How a held posting was released: the action, by whom (null when by itself), and what runs afterwards. */
export interface PostingRelease {
  /** MAPPING_ADDED, ERP_CUSTOMER_MAPPED, PERIOD_REOPENED, POSTED_IN_NEXT_OPEN_PERIOD, REPLAYED, INVOICE_VOIDED, POSTED. */
  action: string;
  /** The words sent as `resolution` before the queue existed; existing consumers read them. */
  words: string;
  detail: string;
  afterwards?: string;
  by?: string | null;
}

const SENT_BY_ITSELF = 'the posting is pending again: the posting worker sends it to the ledger within seconds';

/** Resolves the posting's open work-queue item, if it has one. */
export async function resolveException(
  store: PostingsStore,
  posting: ErpPostingDoc,
  release: PostingRelease,
): Promise<void> {
  const open = posting.openException;
  if (!open) return;
  await resolveInQueue(
    store.outbox,
    {
      exceptionId: open.id,
      kind: queueKindOf(open.code),
      action: release.action,
      resolution: release.words,
      detail: `${documentOf(posting)}: ${release.detail}`,
      afterwards: release.afterwards ?? SENT_BY_ITSELF,
      resolvedBy: release.by ?? null,
    },
    'released',
    {
      legacy: {
        code: open.code,
        record: { type: 'ErpPosting', id: posting._id },
        postingKey: posting.postingKey,
        documentNumber: documentNumberOf(posting),
      },
    },
  );
}

/** A posting built again after a mapping changed: which row released it, and who set it (null: set by the system). */
export function releaseByMapping(
  rows: readonly AccountMappingDoc[],
  posting: ErpPostingDoc,
  code: 'MAPPING_MISSING' | 'ERP_CUSTOMER_UNKNOWN',
  mappingVersion: string,
): PostingRelease {
  const since = posting.openException?.raisedAt ? new Date(posting.openException.raisedAt).getTime() : 0;
  const wanted: MissingMapping[] =
    code === 'ERP_CUSTOMER_UNKNOWN'
      ? [{ kind: 'ERP_CUSTOMER_ID', key: posting.customerId }]
      : (posting.openException?.missing ?? []);
  const added = rows
    .filter((r) => wanted.some((m) => m.kind === r.kind && (m.key === r.key || r.key === '*')))
    .filter((r) => new Date(r.setAt).getTime() >= since - 60_000)
    .sort((a, b) => new Date(b.setAt).getTime() - new Date(a.setAt).getTime());
  const by = added[0] && added[0].setBy !== 'system' ? added[0].setBy : null;
  const what = added.length
    ? added.map((r) => `${r.kind} "${r.key}" → ${r.value} from ${r.effectiveFrom}`).join(', ')
    : null;
  return code === 'MAPPING_MISSING'
    ? {
        action: 'MAPPING_ADDED',
        words: 'mapping added',
        detail: what ? `account mapping added: ${what}` : 'the missing account mapping now exists',
        afterwards: `built again with mapping version ${mappingVersion}; ${SENT_BY_ITSELF}`,
        by,
      }
    : {
        action: 'ERP_CUSTOMER_MAPPED',
        words: 'ERP customer id mapped',
        detail: what ? `ERP customer id set: ${what}` : 'the ERP now knows the customer',
        afterwards: `built again with mapping version ${mappingVersion}; ${SENT_BY_ITSELF}`,
        by,
      };
}
