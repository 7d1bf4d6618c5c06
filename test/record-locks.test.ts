// RecordLocks make a read-modify-write exclusive across processes on the real database: two processes, each adding 1
// to one document many times at once, lose nothing under the lock — and lose updates without it, which is why every
// store's `locks` are RecordLocks and not an in-process mutex.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { unique } from './support';

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
