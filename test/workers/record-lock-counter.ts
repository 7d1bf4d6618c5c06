// A separate process that adds 1 to a counter document `times` times by reading it and writing it back whole — the
// read-modify-write the embedded database does not isolate — either under RecordLocks or with no lock at all.
import { MongoClient } from 'mongodb';
import { RecordLocks, type RecordLockDoc } from '../../lib/record-locks';

async function main(): Promise<void> {
  const [uri, dbName, counterId, times, mode] = process.argv.slice(2) as [string, string, string, string, string];
  const client = await MongoClient.connect(uri);
  const db = client.db(dbName);
  const counters = db.collection<{ _id: string; value: number }>('counters');
  const locks = new RecordLocks(db.collection<RecordLockDoc>('record_locks'), { holder: `test:${process.pid}` });
  const increment = async () => {
    // The test creates the document first: an upsert here would race the other process's insert on `_id`.
    const doc = await counters.findOne({ _id: counterId });
    if (!doc) throw new Error(`counter ${counterId} does not exist`);
    await counters.replaceOne({ _id: counterId }, { value: doc.value + 1 });
  };
  // Every increment is started at once: within this process they queue on the lock (or, unlocked, race).
  await Promise.all(
    Array.from({ length: Number(times) }, () => (mode === 'locked' ? locks.run(counterId, increment) : increment())),
  );
  await client.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
