// The boundary to an ERP. hledger-web is the local one; NetSuite, SAP or Business Central would sit behind the same shape.
import type { JournalEntry } from '../journal';

export interface ErpDocument {
  system: string;
  documentId: string;
  location: string;
  postedAt: Date;
}

/** What the connector sends: the entry plus the identity the ERP deduplicates on. */
export interface PostingForErp {
  postingKey: string;
  correlationId: string;
  entry: JournalEntry;
  /** The company the entry is booked in (NetSuite subsidiary, SAP company code, BC company). */
  legalEntityCode?: string;
  /** What it books: picks the ERP's endpoint (journal entry, credit memo) where the ERP has several. */
  kind?: string;
  /**
   * Never sent before: its record was created by this very call, under the first claim on it (an insert against a
   * unique id), so no earlier write's outcome is unknown and the ERP cannot hold it yet. postMany looks up only the
   * others; a retry, a resend after a lost claim or a crash never carries it.
   */
  firstAttempt?: boolean;
}

/** What became of one posting of postMany. */
export type PostManyResult = { document: ErpDocument; alreadyInErp: boolean } | { error: ErpError };

/** TECHNICAL failures retry with backoff; BUSINESS ones are held for a person. */
export class ErpError extends Error {
  constructor(
    readonly kind: 'TECHNICAL' | 'BUSINESS',
    readonly code: string,
    message: string,
    readonly remedy?: string,
  ) {
    super(message);
  }
}

/** The error a failed write of postMany stands for: an ErpError as is, anything else an unexpected technical one. */
export const asErpError = (caught: unknown): ErpError =>
  caught instanceof ErpError
    ? caught
    : new ErpError('TECHNICAL', 'ERP_UNEXPECTED', (caught as Error).message, 'retries by itself');

export interface ErpConnector {
  readonly system: string;
  readonly location: string;
  /** The document already posted under this key, if any: checked before every write, so a retry never posts twice. */
  findDocument(postingKey: string): Promise<ErpDocument | null>;
  /** Looks the key up, then writes only when it is not there yet: one step, so a retry never posts twice. */
  post(posting: PostingForErp): Promise<{ document: ErpDocument; alreadyInErp: boolean }>;
  /**
   * Posts several at once: the keys the ERP already has are looked up ONCE (none when every posting is a first
   * attempt), then the rest are written one at a time. One result per posting, in order; a failed write is that
   * posting's error and never stops the others.
   */
  postMany(postings: readonly PostingForErp[]): Promise<PostManyResult[]>;
  /** Whether the ERP knows a customer (here: its receivable sub-account); an unknown one is a business exception. */
  customerExists(receivableAccount: string): Promise<boolean>;
  /** Which of these customers' receivable accounts the ERP knows, in one look-up. */
  knownCustomers(receivableAccounts: readonly string[]): Promise<Set<string>>;
  /** Every transaction as the ERP itself holds it (hledger's JSON), for reconciliation against its own balances. */
  readTransactions(): Promise<LedgerTransaction[]>;
}

/** A transaction as hledger returns it (GET /transactions, or `hledger print -O json`); only what reconciliation reads. */
export interface LedgerTransaction {
  tcode: string;
  tdate: string;
  tdescription: string;
  ttags: Array<[string, string]>;
  tpostings: Array<{
    paccount: string;
    pamount: Array<{ acommodity: string; aquantity: { decimalMantissa: number; decimalPlaces: number } }>;
    ptags: Array<[string, string]>;
  }>;
}

/** Runs writes one after another: ledgers with a single-writer file lock (hledger) must not see two at once. */
export class SingleWriter {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(write: () => Promise<T>): Promise<T> {
    const result = this.tail.then(write);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
