// Read-modify-write sequences on one record, exclusive across every process of a subgraph.
//
// Why: the embedded FerretDB 1.24 applies an update by reading the document, changing it in Go and writing the whole
// document back, with no isolation (measured: 200 concurrent `$inc`s on one document left it at 4; 10 concurrent
// `findOneAndUpdate({status: 'A'} → 'B')` had up to 10 winners). Only an insert against a unique index is atomic. So
// the right to change a record is itself an insert: whoever inserts `<key>#<next sequence>` holds the key until it
// marks that claim released or its lease runs out (renewed while the work runs). Sequences only grow and claims are
// never deleted while they could be the latest, so two processes that read the same latest claim race for the same
// next `_id`, and exactly one insert wins — on MongoDB as on the embedded database.
// Within a process, callers of one key queue in a KeyedMutex first, so each process sends one claimant per key.
import type { Collection } from 'mongodb';
import { KeyedMutex } from './keyed-mutex';
import { duplicateKeyWriteErrors, isDuplicateKeyError, type IndexDeclaration } from './mongo';
import { UserFacingError } from './errors';
import { config } from './config';
import type { Logger } from './logger';

export interface RecordLockDoc {
  /** `<key>#<sequence>`, the sequence zero-padded so that _id order is sequence order within a key. */
  _id: string;
  key: string;
  sequence: number;
  /** Which process holds it (service and pid), for whoever reads the collection during an incident. */
  holder: string;
  claimedAt: Date;
  expiresAt: Date;
  releasedAt: Date | null;
}

/** The index runAll reads every key's claims through at once (ensured for each subgraph's record_locks). */
export const recordLockIndexes: IndexDeclaration[] = [{ collection: 'record_locks', keys: { key: 1 } }];

export interface RecordLockOptions {
  /** How long a claim lasts without renewal; renewed every third of it while the work runs. */
  leaseMs?: number;
  /** How long a caller waits for a key before it gets a retryable RECORD_BUSY. */
  waitMs?: number;
  holder?: string;
}

const SEQUENCE_DIGITS = 12;
const claimId = (key: string, sequence: number) => `${key}#${String(sequence).padStart(SEQUENCE_DIGITS, '0')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RecordLocks {
  private readonly local = new KeyedMutex();
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly holder: string;

  constructor(
    private readonly claims: Collection<RecordLockDoc>,
    options: RecordLockOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.waitMs = options.waitMs ?? 60_000;
    this.holder = options.holder ?? `pid:${process.pid}`;
  }

  /** Runs `work` while this process alone (of all processes sharing the collection) holds `key`. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(key, async () => {
      const claim = await this.acquire(key);
      const renewal = setInterval(() => void this.renew(claim), Math.max(50, Math.floor(this.leaseMs / 3)));
      renewal.unref();
      try {
        return await work();
      } finally {
        clearInterval(renewal);
        await this.claims.updateOne({ _id: claim._id }, { $set: { releasedAt: new Date() } }).catch(() => undefined);
      }
    });
  }

  /**
   * Runs `work` while this process holds every one of `keys`. The keys are taken in sorted order within the process;
   * across processes all claims are tried at once and, if any key is busy, given back and taken one by one in sorted
   * order — so a caller waiting for a key never holds keys another waiter needs first (no deadlock between batches).
   */
  runAll<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const inOrder = (i: number): Promise<T> =>
      i === sorted.length ? this.holdingAll(sorted, work) : this.local.run(sorted[i]!, () => inOrder(i + 1));
    return inOrder(0);
  }

  private async holdingAll<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    let held = await this.tryAcquireAll(keys);
    if (held.length < keys.length) {
      await this.releaseAll(held);
      held = [];
      try {
        for (const key of keys) held.push(await this.acquire(key));
      } catch (error) {
        await this.releaseAll(held);
        throw error;
      }
    }
    const renewal = setInterval(
      () => held.forEach((claim) => void this.renew(claim)),
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    renewal.unref();
    try {
      return await work();
    } finally {
      clearInterval(renewal);
      await this.releaseAll(held);
    }
  }

  private async releaseAll(claims: readonly RecordLockDoc[]): Promise<void> {
    if (claims.length > 0)
      await this.claims
        .updateMany({ _id: { $in: claims.map((c) => c._id) } }, { $set: { releasedAt: new Date() } })
        .catch(() => undefined);
  }

  /**
   * One attempt at every key: the claims of all keys in ONE read (index {key: 1}; a key's claims since the last sweep,
   * so runAll is for records locked a few times an hour, like documents, not for hot keys), then every next claim in
   * ONE insert (each insert a database transaction: 600 one by one took 21 s under load). Returns the claims won;
   * fewer than asked if any is busy.
   */
  private async tryAcquireAll(keys: readonly string[]): Promise<RecordLockDoc[]> {
    const readAt = Date.now();
    const latest = new Map<string, RecordLockDoc>();
    for (const claim of await this.claims.find({ key: { $in: [...keys] } }).toArray())
      if ((latest.get(claim.key)?.sequence ?? 0) < claim.sequence) latest.set(claim.key, claim);
    const now = new Date();
    // A read older than a lease could predate claims made and released since: every key counts as busy.
    if (now.getTime() - readAt >= this.leaseMs / 2) return [];
    const wanted: RecordLockDoc[] = [];
    for (const key of keys) {
      const last = latest.get(key);
      if (last && !last.releasedAt && last.expiresAt > now) continue;
      wanted.push(this.nextClaim(key, last, now));
    }
    if (wanted.length === 0) return [];
    try {
      await this.claims.insertMany(wanted, { ordered: false });
      return wanted;
    } catch (error) {
      const list = duplicateKeyWriteErrors(error);
      if (!list) throw error;
      // Another process inserted the same next claim first: it holds that key now.
      const taken = new Set(list.map((w) => w.index));
      return wanted.filter((_, i) => !taken.has(i));
    }
  }

  /** The latest claim on the key: one index seek (an _id range in descending order, limit 1). */
  private latestClaim(key: string): Promise<RecordLockDoc[]> {
    return this.claims
      .find({ _id: { $gt: `${key}#`, $lt: `${key}#~` }, key })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
  }

  private nextClaim(key: string, latest: RecordLockDoc | undefined, now: Date): RecordLockDoc {
    const sequence = (latest?.sequence ?? 0) + 1;
    return {
      _id: claimId(key, sequence),
      key,
      sequence,
      holder: this.holder,
      claimedAt: now,
      expiresAt: new Date(now.getTime() + this.leaseMs),
      releasedAt: null,
    };
  }

  /** One attempt: the key's next claim if the latest is released or expired and our insert wins, else null. */
  private async tryAcquire(key: string): Promise<RecordLockDoc | null> {
    const readAt = Date.now();
    const [latest] = await this.latestClaim(key);
    const now = new Date();
    // A read older than a lease could predate claims made and released since: read again rather than act on it.
    const fresh = now.getTime() - readAt < this.leaseMs / 2;
    if (!fresh || (latest && !latest.releasedAt && latest.expiresAt > now)) return null;
    const claim = this.nextClaim(key, latest, now);
    try {
      await this.claims.insertOne(claim);
      return claim;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      // Another process inserted the same next claim first: it holds the key now.
      return null;
    }
  }

  private async acquire(key: string): Promise<RecordLockDoc> {
    const deadline = Date.now() + this.waitMs;
    let pause = 2;
    for (;;) {
      const claim = await this.tryAcquire(key);
      if (claim) return claim;
      if (Date.now() > deadline) {
        throw new UserFacingError(
          'RECORD_BUSY',
          `another process has been changing this record for over ${Math.round(this.waitMs / 1000)} s; retry shortly`,
          { retryable: true },
        );
      }
      await sleep(pause + Math.random() * pause);
      pause = Math.min(pause * 2, 50);
    }
  }

  /** Only the holder writes its own claim, so this update races with nobody. */
  private async renew(claim: RecordLockDoc): Promise<void> {
    const expiresAt = new Date(Date.now() + this.leaseMs);
    await this.claims
      .updateOne({ _id: claim._id, releasedAt: null }, { $set: { expiresAt } })
      .then(() => {
        claim.expiresAt = expiresAt;
      })
      .catch(() => undefined);
  }
}

/** Claims read per page while sweeping: each page is one `_id` range with a limit, which the database pushes down. */
const SWEEP_PAGE = 1_000;

/**
 * Deletes the claims nobody can act on any more, so the collection grows with the number of keys, not with every
 * lock ever taken: a claim released (or, its holder gone, expired) before `olderThan` ago AND followed by a later
 * claim on the same key. The latest claim of a key is always kept: a process that read it as the latest is about to
 * insert the next sequence, and that insert must still collide with anyone else's (a deleted latest claim would let a
 * newcomer start again at #1 beside it). Returns how many claims were deleted.
 */
export async function sweepRecordLocks(
  claims: Collection<RecordLockDoc>,
  olderThanMs: number,
  now = new Date(),
): Promise<number> {
  const cutoff = now.getTime() - olderThanMs;
  const done = (c: Pick<RecordLockDoc, 'releasedAt' | 'expiresAt'>) =>
    (c.releasedAt !== null && c.releasedAt.getTime() < cutoff) ||
    (c.releasedAt === null && c.expiresAt.getTime() < cutoff);
  let deleted = 0;
  let after: string | null = null;
  let previous: Pick<RecordLockDoc, '_id' | 'key' | 'releasedAt' | 'expiresAt'> | null = null;
  for (;;) {
    const page: Array<Pick<RecordLockDoc, '_id' | 'key' | 'releasedAt' | 'expiresAt'>> = await claims
      .find(after === null ? {} : { _id: { $gt: after } }, {
        projection: { _id: 1, key: 1, releasedAt: 1, expiresAt: 1 },
      })
      .sort({ _id: 1 })
      .limit(SWEEP_PAGE)
      .toArray();
    if (page.length === 0) break;
    // In _id order a key's claims are consecutive and ascending: a claim followed by one of its own key is not the latest.
    const gone: string[] = [];
    for (const claim of page) {
      if (previous && previous.key === claim.key && done(previous)) gone.push(previous._id);
      previous = claim;
    }
    if (gone.length > 0) deleted += (await claims.deleteMany({ _id: { $in: gone } })).deletedCount;
    after = page[page.length - 1]!._id;
    if (page.length < SWEEP_PAGE) break;
  }
  return deleted;
}

/** Claims released this long ago are past any holder's stale read (a read older than half a lease is never acted on). */
const SWEEP_AFTER_MS = 3_600_000;

/** Sweeps the collection every USAGEGRAPH_RECORD_LOCK_SWEEP_MS in the background; returns the stop function. */
export function startSweepingRecordLocks(claims: Collection<RecordLockDoc>, log: Logger): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepRecordLocks(claims, SWEEP_AFTER_MS)
      .then((deleted) => {
        if (deleted > 0) log.info({ deleted }, 'record locks: old claims deleted');
      })
      .catch((error: unknown) => log.warn({ err: error }, 'record locks: sweep failed; next time'))
      .finally(() => {
        running = false;
      });
  }, config().USAGEGRAPH_RECORD_LOCK_SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
}
