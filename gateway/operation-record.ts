// The record of what clients really send: each distinct operation (a normalized signature), the schema coordinates it
// uses, the client and the contract path, counted per day. Counted in memory and written every few seconds by this
// gateway instance to its own records in the access subgraph, so schema checks can say which clients a change breaks.
import { config } from '../lib/config';
import { createHash, randomUUID } from 'node:crypto';
import type { DocumentNode } from 'graphql';
import { usageReportingSignature } from '@apollo/utils.usagereporting';
import type { Logger } from '../lib/logger';
import { querySubgraph } from '../lib/subgraph-client';

/** Distinct operations counted per day by one instance; beyond it, new ones are counted under one overflow entry. */
export const MAX_OPERATIONS_PER_DAY = 5_000;

interface Entry {
  day: string;
  signature: string;
  operationName: string | null;
  document: string;
  coordinates: string[];
  client: string;
  contract: string;
  count: number;
  dirty: boolean;
}

export class OperationRecord {
  readonly instance = `gw-${randomUUID().slice(0, 8)}`;
  private readonly entries = new Map<string, Entry>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: Logger,
    private readonly flushMs = config().USAGEGRAPH_OPERATION_FLUSH_MS,
  ) {}

  /** Apollo Server reuses one DocumentNode per query text: its signature is worked out once. */
  private readonly signatures = new WeakMap<DocumentNode, Map<string, { normalized: string; signature: string }>>();

  private signatureOf(document: DocumentNode, operationName: string): { normalized: string; signature: string } {
    let byName = this.signatures.get(document);
    if (!byName) this.signatures.set(document, (byName = new Map()));
    let known = byName.get(operationName);
    if (!known) {
      const normalized = usageReportingSignature(document, operationName);
      known = { normalized, signature: createHash('sha256').update(normalized).digest('hex').slice(0, 32) };
      byName.set(operationName, known);
    }
    return known;
  }

  count(input: {
    document: DocumentNode;
    operationName: string | null;
    coordinates: Iterable<string>;
    client: string;
    contract: string;
  }): void {
    const day = new Date().toISOString().slice(0, 10);
    const { normalized, signature } = this.signatureOf(input.document, input.operationName ?? '');
    const key = `${day}\u001f${signature}\u001f${input.client}\u001f${input.contract}`;
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= MAX_OPERATIONS_PER_DAY) return this.overflow(day, input.client, input.contract);
      entry = {
        day,
        signature,
        operationName: input.operationName,
        document: normalized,
        coordinates: [...input.coordinates].sort(),
        client: input.client,
        contract: input.contract,
        count: 0,
        dirty: true,
      };
      this.entries.set(key, entry);
    }
    entry.count++;
    entry.dirty = true;
  }

  private overflow(day: string, client: string, contract: string): void {
    const key = `${day}\u001foverflow`;
    const entry = this.entries.get(key) ?? {
      day,
      signature: 'overflow',
      operationName: null,
      document: `# more than ${MAX_OPERATIONS_PER_DAY} distinct operations on ${day}`,
      coordinates: [],
      client,
      contract,
      count: 0,
      dirty: true,
    };
    entry.count++;
    entry.dirty = true;
    this.entries.set(key, entry);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Writes what changed since the last flush; a failed write is tried again next time (counts are running totals). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const dirty = [...this.entries.values()].filter((e) => e.dirty);
      if (dirty.length === 0) return;
      for (const e of dirty) e.dirty = false;
      try {
        for (let i = 0; i < dirty.length; i += 500) {
          await querySubgraph('access', 'mutation($r: [OperationUsageInput!]!) { recordOperationUsage(records: $r) }', {
            r: dirty.slice(i, i + 500).map(({ dirty: _d, ...e }) => ({ ...e, instance: this.instance })),
          });
        }
      } catch (error) {
        for (const e of dirty) e.dirty = true;
        this.log.warn({ err: error }, 'could not write the operation record; will try again');
      }
      // Yesterday's entries are final once written.
      const today = new Date().toISOString().slice(0, 10);
      for (const [key, e] of this.entries) if (e.day < today && !e.dirty) this.entries.delete(key);
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
