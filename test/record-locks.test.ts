// RecordLocks make a read-modify-write exclusive across processes on the real database: two processes, each adding 1
// to one document many times at once, lose nothing under the lock — and lose updates without it, which is why every
// store's `locks` are RecordLocks and not an in-process mutex.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { unique } from './support';
import { RecordLocks, sweepRecordLocks, type RecordLockDoc } from '../lib/record-locks';

const ROOT = join(__dirname, '..');
const DB = 'usagegraph_record_locks_test';

function counterProcess(counterId: string, times: number, mode: 'locked' | 'unlocked'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, 'workers', 'record-lock-counter.ts'),
        process.env.MONGODB_URI!,
        DB,
        counterId,
        String(times),
        mode,
      ],
      { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`counter process exited ${code}`))));
  });
}

let client: MongoClient;
beforeAll(async () => {
  client = await MongoClient.connect(process.env.MONGODB_URI!);
});
afterAll(async () => {
  await client.close();
});

/** A new counter at 0, created before the processes start so that neither has to insert it. */
async function newCounter(prefix: string): Promise<string> {
  const id = unique(prefix);
  await client.db(DB).collection<{ _id: string; value: number }>('counters').insertOne({ _id: id, value: 0 });
  return id;
}

const counterValue = async (id: string) =>
  (await client.db(DB).collection<{ _id: string; value: number }>('counters').findOne({ _id: id }))?.value;

it('two processes incrementing one document under RecordLocks lose no update', async () => {
  const id = await newCounter('locked');
  await Promise.all([counterProcess(id, 60, 'locked'), counterProcess(id, 60, 'locked')]);
  expect(await counterValue(id)).toBe(120);
  // Every claim was released, and sequences never repeat: one claim per increment.
  const claims = await client.db(DB).collection('record_locks').find({ key: id }).toArray();
  expect(claims).toHaveLength(120);
  expect(claims.every((c) => c.releasedAt instanceof Date)).toBe(true);
}, 180_000);

it('without the lock the same two processes lose updates (the hazard the lock removes)', async () => {
  const id = await newCounter('unlocked');
  await Promise.all([counterProcess(id, 60, 'unlocked'), counterProcess(id, 60, 'unlocked')]);
  expect(await counterValue(id)).toBeLessThan(120);
}, 180_000);

it('sweeps old claims but keeps the latest of every key, so the next claim still collides with a stale reader', async () => {
  const claims = client.db(DB).collection<RecordLockDoc>(unique('sweep_locks'));
  const locks = new RecordLocks(claims);
  const [a, b] = [unique('key-a'), unique('key-b')];
  for (let i = 0; i < 3; i++) await locks.run(a, async () => undefined);
  await locks.run(b, async () => undefined);
  // A claim still held (not released, not expired) is never swept, nor is anything newer than the age given.
  const held = locks.run(a, () => new Promise((resolve) => setTimeout(resolve, 300)));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const later = new Date(Date.now() + 10);
  expect(await sweepRecordLocks(claims, 3_600_000, later)).toBe(0); // everything is younger than an hour
  expect(await sweepRecordLocks(claims, 0, later)).toBe(3); // a#1, a#2, a#3 are followed by a later claim; b#1 is not
  await held;
  const left = (await claims.find({}).sort({ _id: 1 }).toArray()).map((c) => [c.key, c.sequence]);
  expect(left).toEqual([
    [a, 4],
    [b, 1],
  ]);
  // The kept latest claim carries the sequence on: the next claim on `a` is #5, not #1.
  await locks.run(a, async () => undefined);
  expect((await claims.find({ key: a }).sort({ _id: -1 }).limit(1).toArray())[0]?.sequence).toBe(5);
  // The sweep pages through the collection: more claims than one page, all but each key's latest deleted.
  const many = unique('key-many');
  const now = new Date(Date.now() - 7_200_000);
  await claims.insertMany(
    Array.from({ length: 2_500 }, (_, i) => ({
      _id: `${many}#${String(i + 1).padStart(12, '0')}`,
      key: many,
      sequence: i + 1,
      holder: 'test',
      claimedAt: now,
      expiresAt: now,
      releasedAt: i % 2 === 0 ? now : null, // released, or its holder gone and the lease long expired
    })),
  );
  expect(await sweepRecordLocks(claims, 3_600_000)).toBe(2_499);
  expect((await claims.find({ key: many }).toArray()).map((c) => c.sequence)).toEqual([2_500]);
});

it('runAll holds every key at once: two holders taking overlapping keys in opposite orders lose no update and never deadlock', async () => {
  const claims = client.db(DB).collection<RecordLockDoc>(unique('run_all_locks'));
  const counters = client.db(DB).collection<{ _id: string; value: number }>(unique('run_all_counters'));
  const keys = [unique('k1'), unique('k2'), unique('k3'), unique('k4')];
  await counters.insertMany(keys.map((k) => ({ _id: k, value: 0 })));
  // Two holders with their own in-process queues stand for two processes sharing the collection.
  const [one, two] = [new RecordLocks(claims, { holder: 'one' }), new RecordLocks(claims, { holder: 'two' })];
  /** Adds 1 to each counter by read-modify-write: correct only while nobody else holds the key. */
  const increment = (ids: readonly string[]) => async () => {
    const before = await counters.find({ _id: { $in: [...ids] } }).toArray();
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const c of before) await counters.updateOne({ _id: c._id }, { $set: { value: c.value + 1 } });
  };
  const rounds = 8;
  await Promise.all(
    Array.from({ length: rounds }, (_, i) => [
      one.runAll(keys.slice(0, 3), increment(keys.slice(0, 3))),
      two.runAll([...keys].reverse().slice(0, 3), increment([...keys].reverse().slice(0, 3))),
      // A single-key holder beside them: runAll and run exclude each other too.
      (i % 2 ? one : two).run(keys[1]!, increment([keys[1]!])),
    ]).flat(),
  );
  const values = new Map((await counters.find({}).toArray()).map((c) => [c._id, c.value]));
  expect(keys.map((k) => values.get(k))).toEqual([rounds, rounds * 3, rounds * 2, rounds]);
  expect(await claims.countDocuments({ releasedAt: null })).toBe(0);
}, 120_000);
