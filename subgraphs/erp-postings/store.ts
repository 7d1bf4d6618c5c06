// The erp-postings subgraph's collections: postings (a state machine each), accounting periods, account mappings and
// the revenue schedule of deferred lines.
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { RecordLocks, type RecordLockDoc } from '../../lib/record-locks';
import { Outbox } from '../../lib/outbox';
import type { Money } from '../../lib/money';
import type { ErpDocument } from './connectors';
import type { DocumentForPosting, JournalEntry, PrepaidCreditForPosting, RecognitionForPosting } from './journal';

export type PostingStatus =
  'PENDING' | 'SENDING' | 'POSTED' | 'RETRY_SCHEDULED' | 'DEAD_LETTER' | 'HELD' | 'WITHDRAWN' | 'NOTHING_TO_POST';

export type PostingKind =
  | 'INVOICE'
  | 'CREDIT_NOTE'
  | 'DEBIT_NOTE'
  | 'REVENUE_RECOGNITION'
  | 'ACCRUAL'
  | 'ACCRUAL_REVERSAL'
  | 'PREPAID_CREDIT_GRANT'
  | 'PREPAID_CREDIT_EXPIRY';

/** Postings that book no invoice (prepaid credit movements): listed only when asked for by kind. */
export const INVOICE_LESS_KINDS: readonly PostingKind[] = ['PREPAID_CREDIT_GRANT', 'PREPAID_CREDIT_EXPIRY'];

/** Who must act on an error; the API's PostingErrorKind enum lists the same values. */
export const POSTING_ERROR_KINDS = ['TECHNICAL', 'BUSINESS'] as const;

/** What a delivery step came to; the API's PostingOutcome enum lists the same values. */
export const POSTING_OUTCOMES = [
  'POSTED',
  'ALREADY_IN_ERP',
  'RETRY_SCHEDULED',
  'DEAD_LETTER',
  'HELD',
  'REPLAY_REQUESTED',
  'RELEASED',
  'WITHDRAWN',
] as const;

export interface PostingError {
  code: string;
  message: string;
  kind: (typeof POSTING_ERROR_KINDS)[number];
  remedy: string | null;
}

export interface PostingAttempt {
  at: Date;
  outcome: (typeof POSTING_OUTCOMES)[number];
  code: string | null;
  message: string | null;
}

/** A mapping the entry needs and finance has not set. */
export interface MissingMapping {
  kind: MappingKind;
  key: string;
}

export interface ErpPostingDoc {
  _id: string;
  postingKey: string;
  /** Absent on postings written before notes existed: INVOICE. */
  kind?: PostingKind;
  invoiceId: string;
  /** The note posted, for CREDIT_NOTE and DEBIT_NOTE. */
  noteId?: string | null;
  /** The number of the document it books; postings written before notes existed call it invoiceNumber. */
  invoiceNumber: string;
  documentNumber?: string;
  legalEntityCode?: string;
  customerId: string;
  /** What the entry is built from, kept so it can be built again once a missing mapping is added. */
  source?: DocumentForPosting | RecognitionForPosting | PrepaidCreditForPosting | null;
  entry: JournalEntry | null;
  /** A posting withdrawn before it was built has no source: its invoice's currency, for the entry it shows. */
  currency?: string;
  /** The rows of the mapping table the entry was built with (a hash). */
  mappingVersion?: string | null;
  /** The receivable sub-account of a customer with an ERP id: the ERP must know it. */
  erpCustomerAccount?: string | null;
  /** The business exception raised while it is held (its id is in exception.raised / exception.resolved). */
  openException?: { id: string; code: string; raisedAt: Date; missing?: MissingMapping[] } | null;
  status: PostingStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lockedUntil: Date | null;
  lastError: PostingError | null;
  history: PostingAttempt[];
  erpDocument: ErpDocument | null;
  createdAt: Date;
  postedAt: Date | null;
  correlationId: string;
}

/**
 * The right to send a posting once: whoever inserts the next sequence number holds it until it is released or expires.
 * An insert, because only inserts are atomic on the embedded database (see lib/keyed-mutex.ts).
 */
export interface DeliveryClaimDoc {
  _id: string; // `${postingId}#${sequence}`
  postingId: string;
  sequence: number;
  claimedAt: Date;
  expiresAt: Date;
  releasedAt: Date | null;
}

/** A period closed or reopened: group-wide (`_id` = key) or for one legal entity (`_id` = key@entity). */
export interface AccountingPeriodDoc {
  _id: string;
  /** Absent on group periods written before entities had their own: the _id. */
  key?: string;
  legalEntityCode?: string | null;
  status: 'OPEN' | 'CLOSED';
  changedAt: Date;
}

export type MappingKind =
  | 'RECEIVABLE_ACCOUNT'
  | 'DEFERRED_REVENUE_ACCOUNT'
  | 'UNBILLED_RECEIVABLE_ACCOUNT'
  | 'REVENUE_ACCOUNT'
  | 'TAX_PAYABLE_ACCOUNT'
  | 'ERP_CUSTOMER_ID'
  | 'PREPAID_CREDIT_ACCOUNT'
  | 'PROMOTIONAL_CREDIT_ACCOUNT'
  | 'EXPIRED_CREDIT_ACCOUNT';

/** One row of finance's mapping table: effective-dated, superseded by a later row of the same kind and key. */
export interface AccountMappingDoc {
  _id: string;
  kind: MappingKind;
  key: string;
  value: string;
  /** YYYY-MM-DD */
  effectiveFrom: string;
  setAt: Date;
  setBy: string;
  correlationId: string;
}

/** One month's share of a document's deferred lines; becomes a recognition posting once the month has ended. */
export interface RevenueSchedulePortionDoc {
  _id: string;
  /** The invoice or note whose posting deferred it. */
  documentId: string;
  documentNumber: string;
  documentPostingId: string;
  invoiceId: string;
  legalEntityCode: string;
  customer: { id: string; externalKey: string; name: string };
  currency: string;
  month: string;
  /** The document's own posting date: recognition is never booked before the deferral. */
  documentPostingDate: string;
  lines: Array<{ invoiceLineId: string | null; productLine: string; kind: string; amount: Money }>;
  /** The portion's total: negative for a credit note. */
  amount: Money;
  status: 'SCHEDULED' | 'RECOGNIZED' | 'CANCELLED';
  recognitionPostingId: string | null;
  createdAt: Date;
}

/** A legal entity's accounting policy: whether unbilled usage is accrued at period end. */
export interface AccountingPolicyDoc {
  _id: string; // legal entity code
  accrueUnbilledUsage: boolean;
  setAt: Date;
  setBy: string;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'erp_postings', keys: { invoiceId: 1 } },
  // A credit note's postings (postingsOfNote), as an invoice's are found by invoiceId.
  { collection: 'erp_postings', keys: { noteId: 1 } },
  { collection: 'erp_postings', keys: { status: 1, nextAttemptAt: 1 } },
  // erpPostings(kind:) in id order: the prepaid credit kinds are listed only this way.
  { collection: 'erp_postings', keys: { kind: 1, _id: 1 } },
  { collection: 'erp_postings', keys: { postingKey: 1 }, options: { unique: true } },
  { collection: 'erp_delivery_claims', keys: { postingId: 1, sequence: -1 } },
  { collection: 'account_mappings', keys: { kind: 1, key: 1, effectiveFrom: 1 } },
  { collection: 'revenue_schedule', keys: { month: 1, _id: 1 } },
  { collection: 'revenue_schedule', keys: { status: 1, month: 1 } },
  { collection: 'revenue_schedule', keys: { invoiceId: 1 } },
  { collection: 'reconciliation_sign_offs', keys: { scope: 1, signedOffAt: -1 } },
];

export interface PostingsStore {
  /** Read-modify-write on one record, exclusive across every process of this subgraph (lib/record-locks.ts). */
  locks: RecordLocks;
  /** Business events raised by this subgraph, forwarded to the events subgraph (lib/outbox.ts). */
  outbox: Outbox;
  postings: Collection<ErpPostingDoc>;
  claims: Collection<DeliveryClaimDoc>;
  periods: Collection<AccountingPeriodDoc>;
  mappings: Collection<AccountMappingDoc>;
  schedule: Collection<RevenueSchedulePortionDoc>;
  policies: Collection<AccountingPolicyDoc>;
  signOffs: Collection<ReconciliationSignOffDoc>;
}

/** Finance's sign-off of a reconciled period: append-only, the latest per scope counts. */
export interface ReconciliationSignOffDoc {
  _id: string; // `${scope}#${signedOffAt ms}#${random}`
  /** `${period}|${legalEntityCode ?? '*'}` */
  scope: string;
  period: string;
  legalEntityCode: string | null;
  signedOffBy: string;
  signedOffAt: Date;
  /** The digest of the figures signed off (PeriodReconciliation.digest). */
  digest: string;
  totals: Array<{ currency: string; rated: string; invoiced: string; posted: string; ledger: string }>;
  correlationId: string;
}

export function postingsStore(db: Db): PostingsStore {
  return {
    locks: new RecordLocks(db.collection<RecordLockDoc>('record_locks')),
    outbox: new Outbox(db, 'erp-postings'),
    postings: db.collection<ErpPostingDoc>('erp_postings'),
    claims: db.collection<DeliveryClaimDoc>('erp_delivery_claims'),
    periods: db.collection<AccountingPeriodDoc>('accounting_periods'),
    mappings: db.collection<AccountMappingDoc>('account_mappings'),
    schedule: db.collection<RevenueSchedulePortionDoc>('revenue_schedule'),
    policies: db.collection<AccountingPolicyDoc>('accounting_policies'),
    signOffs: db.collection<ReconciliationSignOffDoc>('reconciliation_sign_offs'),
  };
}

export const kindOf = (p: ErpPostingDoc): PostingKind => p.kind ?? 'INVOICE';
export const documentNumberOf = (p: ErpPostingDoc): string => p.documentNumber ?? p.invoiceNumber;
