// The erp-postings subgraph's collections: postings (a state machine each) and accounting periods.
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { KeyedMutex } from '../../lib/keyed-mutex';
import { Outbox } from '../../lib/outbox';
import type { ErpDocument } from './connectors';
import type { JournalEntry } from './journal';

export type PostingStatus = 'PENDING' | 'SENDING' | 'POSTED' | 'RETRY_SCHEDULED' | 'DEAD_LETTER' | 'HELD';

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

export interface ErpPostingDoc {
  _id: string;
  postingKey: string;
  invoiceId: string;
  invoiceNumber: string;
  customerId: string;
  entry: JournalEntry;
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

export interface AccountingPeriodDoc {
  _id: string; // YYYY-MM
  status: 'OPEN' | 'CLOSED';
  changedAt: Date;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'erp_postings', keys: { invoiceId: 1 } },
  { collection: 'erp_postings', keys: { status: 1, nextAttemptAt: 1 } },
  { collection: 'erp_postings', keys: { postingKey: 1 }, options: { unique: true } },
  { collection: 'erp_delivery_claims', keys: { postingId: 1, sequence: -1 } },
  { collection: 'reconciliation_sign_offs', keys: { scope: 1, signedOffAt: -1 } },
];

export interface PostingsStore {
  locks: KeyedMutex;
  /** Business events raised by this subgraph, forwarded to the events subgraph (lib/outbox.ts). */
  outbox: Outbox;
  postings: Collection<ErpPostingDoc>;
  claims: Collection<DeliveryClaimDoc>;
  periods: Collection<AccountingPeriodDoc>;
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
    locks: new KeyedMutex(),
    outbox: new Outbox(db, 'erp-postings'),
    postings: db.collection<ErpPostingDoc>('erp_postings'),
    claims: db.collection<DeliveryClaimDoc>('erp_delivery_claims'),
    periods: db.collection<AccountingPeriodDoc>('accounting_periods'),
    signOffs: db.collection<ReconciliationSignOffDoc>('reconciliation_sign_offs'),
  };
}
