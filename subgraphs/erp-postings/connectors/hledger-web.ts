// hledger-web as the ERP: reads GET /transactions, writes PUT /add, one write at a time (it has a single-writer file lock).
import { config } from '../../../lib/config';
import type { ErpConnector, ErpDocument, LedgerTransaction, PostManyResult, PostingForErp } from './connector';
import { ErpError, SingleWriter, asErpError, type TakeTurn } from './connector';
import { toHledgerJson } from './hledger-format';

const TIMEOUT_MS = (): number => config().HLEDGER_TIMEOUT_MS;
/** Longer than the coarse file clock's tick: 4 ms at the usual 250 Hz, 10 ms at the coarsest common 100 Hz. */
const SETTLE_MS = 12;

interface HledgerTransaction {
  tcode: string;
  tdate: string;
}

export class HledgerWebConnector implements ErpConnector {
  readonly system = 'hledger-web';
  private readonly writer: SingleWriter;

  /** `turn`: writes take turns with the other processes writing to this ledger (connector.ts, SingleWriter). */
  constructor(
    private readonly baseUrl: string,
    turn?: TakeTurn,
  ) {
    this.writer = new SingleWriter(turn);
  }

  get location(): string {
    return this.baseUrl;
  }

  async findDocument(postingKey: string): Promise<ErpDocument | null> {
    const transactions = (await this.request('GET', '/transactions')) as HledgerTransaction[];
    // hledger-web ignores query strings on /transactions, so the code is matched here.
    const found = transactions.find((t) => t.tcode === postingKey);
    return found
      ? { system: this.system, documentId: found.tcode, location: `${this.baseUrl}/transactions`, postedAt: new Date() }
      : null;
  }

  async readTransactions(): Promise<LedgerTransaction[]> {
    return (await this.request('GET', '/transactions')) as LedgerTransaction[];
  }

  /** Serialised: a second PUT while hledger reloads answers 403/500 without writing. */
  post(posting: PostingForErp): Promise<{ document: ErpDocument; alreadyInErp: boolean }> {
    return this.writer.run(() => this.postNow(posting));
  }

  /**
   * One GET /transactions for the whole batch (skipped when every posting is a first attempt: it lists the whole
   * journal, 70 ms at 700 entries), then one PUT /add per posting the ledger does not have yet.
   */
  postMany(postings: readonly PostingForErp[]): Promise<PostManyResult[]> {
    return this.writer.run(async () => {
      const lookUp = postings.some((p) => !p.firstAttempt);
      let known = new Set<string>();
      if (lookUp)
        try {
          known = new Set(((await this.request('GET', '/transactions')) as HledgerTransaction[]).map((t) => t.tcode));
        } catch (caught) {
          return postings.map(() => ({ error: asErpError(caught) }));
        }
      const results: PostManyResult[] = [];
      const last = postings.filter((p) => !known.has(p.postingKey)).at(-1);
      let written = 0;
      for (const posting of postings) {
        const document = this.documentOf(posting.postingKey);
        if (known.has(posting.postingKey)) {
          results.push({ document, alreadyInErp: true });
          continue;
        }
        try {
          // The look-up reloaded the journal just now when it ran and nothing was written since.
          if (posting === last) await this.settleBeforeLastWrite(written > 0 || !lookUp);
          await this.request('PUT', '/add', toHledgerJson(posting));
          written++;
          known.add(posting.postingKey);
          results.push({ document, alreadyInErp: false });
        } catch (caught) {
          results.push({ error: asErpError(caught) });
        }
      }
      return results;
    });
  }

  /**
   * hledger-web reloads the journal when the file's mtime is newer than its last read. A PUT right after another
   * reloads and appends within one tick of the kernel's coarse file clock, so the append's mtime can fall before that
   * read and the server keeps serving a journal without it until the next write (measured: the last of two quick
   * PUTs missing from GET /transactions). So the last write of a batch goes after a reload (the batch's own GET
   * /transactions when it is the first write) and a pause longer than a tick; so does a single posting's write, after
   * its look-up. That holds only while no other process writes in between: writes take turns across processes (the
   * writer's `turn`), and a turn ends with such a last write. Measured on this machine (ticks of 4 ms), the last of
   * three quick PUTs: missing 21 times in 80 bursts with no reload before it, 9 in 80 with the reload and no pause
   * (short journal), never in 80 with the reload and a timer of 0, 5, 10 or 25 ms; the pause stays above a tick so
   * that it holds by construction, not by timing.
   */
  private async settleBeforeLastWrite(reload: boolean): Promise<void> {
    if (reload) await this.request('GET', '/accountnames');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  }

  /**
   * Accounts the ledger was seen to have: its journal is append-only, so one seen stays. A batch's customers are then
   * looked up only when one of them is new (an account removed from the journal by hand is not noticed).
   */
  private readonly seenAccounts = new Set<string>();

  async knownCustomers(receivableAccounts: readonly string[]): Promise<Set<string>> {
    const unseen = receivableAccounts.filter((a) => !this.seenAccounts.has(a));
    if (unseen.length > 0)
      for (const name of (await this.request('GET', '/accountnames')) as string[]) this.seenAccounts.add(name);
    return new Set(receivableAccounts.filter((a) => this.seenAccounts.has(a)));
  }

  private documentOf(postingKey: string): ErpDocument {
    return {
      system: this.system,
      documentId: postingKey,
      location: `${this.baseUrl}/transactions`,
      postedAt: new Date(),
    };
  }

  /** A customer is known to hledger when its receivable account is declared (or already used). */
  async customerExists(receivableAccount: string): Promise<boolean> {
    return (await this.knownCustomers([receivableAccount])).has(receivableAccount);
  }

  private async postNow(posting: PostingForErp): Promise<{ document: ErpDocument; alreadyInErp: boolean }> {
    const existing = await this.findDocument(posting.postingKey);
    if (existing) return { document: existing, alreadyInErp: true };
    // That look-up reloaded the journal: a write within the same tick of the file clock would be missed by the
    // server's next reload check (a revenue-recognition posting reported POSTED was absent from GET /transactions in
    // one full CI run), as the batch path's last write already guards against.
    await this.settleBeforeLastWrite(false);
    await this.request('PUT', '/add', toHledgerJson(posting));
    return {
      document: {
        system: this.system,
        documentId: posting.postingKey,
        location: `${this.baseUrl}/transactions`,
        postedAt: new Date(),
      },
      alreadyInErp: false,
    };
  }

  private async request(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(TIMEOUT_MS()),
      });
    } catch (error) {
      throw new ErpError(
        'TECHNICAL',
        'ERP_UNAVAILABLE',
        `hledger-web at ${this.baseUrl} is unreachable: ${(error as Error).message}`,
        'retries by itself; check that the ledger server is running',
      );
    }
    const text = await response.text();
    // 403 and 500 are what hledger-web answers when a write races its file reload: nothing was written, so retry.
    if (response.status >= 500 || response.status === 403 || response.status === 429) {
      throw new ErpError(
        'TECHNICAL',
        'ERP_UNAVAILABLE',
        `hledger-web answered ${response.status} to ${method} ${path}: ${text.slice(0, 200)}`,
        'retries by itself',
      );
    }
    if (!response.ok) {
      throw new ErpError(
        'BUSINESS',
        'ERP_REJECTED',
        `hledger-web rejected ${method} ${path} with ${response.status}: ${text.slice(0, 300)}`,
        'fix the posting or the ledger and replay it',
      );
    }
    return text ? JSON.parse(text) : null;
  }
}
