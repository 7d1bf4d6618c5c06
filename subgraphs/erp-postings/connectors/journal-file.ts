// An append-only hledger journal file as the ERP, for setups without a ledger server: `hledger -f <file> balance` reads it.
import { execFile } from 'node:child_process';
import { access, appendFile, mkdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { dirname } from 'node:path';
import type { ErpConnector, ErpDocument, LedgerTransaction, PostManyResult, PostingForErp } from './connector';
import { ErpError, SingleWriter, asErpError, type TakeTurn } from './connector';
import { toJournalText } from './hledger-format';

export class JournalFileConnector implements ErpConnector {
  readonly system = 'hledger-journal-file';
  private readonly writer: SingleWriter;

  /** `turn`: writes take turns with the other processes writing to this ledger (connector.ts, SingleWriter). */
  constructor(
    private readonly path: string,
    turn?: TakeTurn,
  ) {
    this.writer = new SingleWriter(turn);
  }

  get location(): string {
    return this.path;
  }

  async findDocument(postingKey: string): Promise<ErpDocument | null> {
    const text = await readFile(this.path, 'utf8').catch((e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' ? '' : Promise.reject(e),
    );
    return text.includes(` (${postingKey}) `)
      ? { system: this.system, documentId: postingKey, location: this.path, postedAt: new Date() }
      : null;
  }

  /** Known when the journal declares its receivable account (`account …`) or has used it. */
  async customerExists(receivableAccount: string): Promise<boolean> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    return text
      .split('\n')
      .some(
        (line) => line.trim().split(/\s+/)[0] === receivableAccount || line.startsWith(`account ${receivableAccount}`),
      );
  }

  /** hledger itself reads the file, so the balances are the ledger's, not a second parser's. */
  async readTransactions(): Promise<LedgerTransaction[]> {
    if (
      !(await access(this.path).then(
        () => true,
        () => false,
      ))
    )
      return [];
    try {
      const { stdout } = await promisify(execFile)('hledger', ['-f', this.path, 'print', '-O', 'json'], {
        maxBuffer: 512 * 1024 * 1024,
      });
      return JSON.parse(stdout) as LedgerTransaction[];
    } catch (error) {
      throw new ErpError(
        'TECHNICAL',
        'ERP_UNAVAILABLE',
        `hledger cannot read ${this.path}: ${(error as Error).message}`,
      );
    }
  }

  post(posting: PostingForErp): Promise<{ document: ErpDocument; alreadyInErp: boolean }> {
    return this.writer.run(async () => {
      const existing = await this.findDocument(posting.postingKey);
      if (existing) return { document: existing, alreadyInErp: true };
      try {
        await mkdir(dirname(this.path), { recursive: true });
        await appendFile(this.path, toJournalText(posting), 'utf8');
      } catch (error) {
        throw new ErpError(
          'TECHNICAL',
          'ERP_UNAVAILABLE',
          `cannot append to ${this.path}: ${(error as Error).message}`,
          'retries by itself; check the disk and permissions',
        );
      }
      return {
        document: { system: this.system, documentId: posting.postingKey, location: this.path, postedAt: new Date() },
        alreadyInErp: false,
      };
    });
  }

  /** A local file: each posting looked up and appended in turn is as cheap as a batch would be. */
  async postMany(postings: readonly PostingForErp[]): Promise<PostManyResult[]> {
    const results: PostManyResult[] = [];
    for (const posting of postings)
      results.push(await this.post(posting).catch((caught) => ({ error: asErpError(caught) })));
    return results;
  }

  async knownCustomers(receivableAccounts: readonly string[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (const account of receivableAccounts) if (await this.customerExists(account)) known.add(account);
    return known;
  }
}
