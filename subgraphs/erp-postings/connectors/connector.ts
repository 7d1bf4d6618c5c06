// The boundary to an ERP. hledger-web is the local one; NetSuite, SAP or Business Central would sit behind the same shape.
import type { JournalEntry } from '../journal';
import { ledgerTurnWait } from '../../../lib/metrics';

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

/**
 * Runs `work` while this process alone, of all processes writing to the ledger, has the turn (lib/record-locks.ts:
 * a claim inserted against a unique id). Rejects when the turn cannot be had.
 */
export type TakeTurn = <T>(work: () => Promise<T>) => Promise<T>;

/** How long one process keeps the ledger while it has writes queued, before it lets another process have a turn. */
const MAX_TURN_MS = 5_000;
/** The pause after a turn given up with writes still queued: a process waiting for the ledger takes it meanwhile. */
const YIELD_MS = 60;

/**
 * Runs writes one after another: ledgers with a single-writer file (hledger) must not see two at once. With `turn`,
 * writes are also one at a time across processes: two erp-postings processes writing to one hledger-web left the
 * later of two nearly simultaneous entries on file but missing from what the server answers (its reload check reads
 * the coarse file clock; connectors/hledger-web.ts), until some later write — in a quiet system, never; and a
 * journal file appended to by two processes could take the same posting twice. A turn is taken when the queue starts
 * and kept while writes keep coming (two database calls per turn, not per write), for at most MAX_TURN_MS.
 */
export class SingleWriter {
  private readonly queue: Array<{ write: () => Promise<void>; fail: (error: unknown) => void }> = [];
  private draining = false;

  constructor(private readonly turn?: TakeTurn) {}

  run<T>(write: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write: () => write().then(resolve, reject), fail: reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const started = Date.now();
        const writeQueued = async () => {
          while (this.queue.length > 0 && Date.now() - started < MAX_TURN_MS) await this.queue.shift()!.write();
        };
        if (!this.turn) {
          await writeQueued();
          continue;
        }
        let taken = false;
        const waiting = ledgerTurnWait.startTimer();
        try {
          await this.turn(() => {
            taken = true;
            waiting({ outcome: 'taken' });
            return writeQueued();
          });
        } catch (error) {
          if (!taken) waiting({ outcome: 'refused' });
          // No turn (another process kept the ledger past the wait, or the database is down): what waits fails as a
          // technical error, which every caller retries.
          const busy = new ErpError(
            'TECHNICAL',
            'ERP_BUSY',
            `no turn at the ledger: ${(error as Error).message}`,
            'retries by itself',
          );
          for (const queued of this.queue.splice(0)) queued.fail(busy);
        }
        if (this.queue.length > 0) await new Promise((resolve) => setTimeout(resolve, YIELD_MS));
      }
    } finally {
      this.draining = false;
    }
  }
}
