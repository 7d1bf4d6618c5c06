// The embedded database answers look-ups by _id from its index (the FerretDB build carries fixes for this).
import { MongoClient } from 'mongodb';
import { isFerretDb } from '../lib/mongo';

it('looks documents up by _id, and by _id $in, through the _id index', async () => {
  const client = await MongoClient.connect(process.env.MONGODB_URI!);
  try {
    const db = client.db(`${process.env.USAGEGRAPH_DB_PREFIX}_dbcheck`);
    await db.collection<{ _id: string; n: number }>('docs').insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `d${n}`, n })));
    const plan = async (filter: object) => JSON.stringify((await db.command({ explain: { find: 'docs', filter } })).queryPlanner);
    if (await isFerretDb(db)) {
      // FerretDB reports SQLite's plan: SEARCH … USING INDEX, not SCAN.
      expect(await plan({ _id: 'd7' })).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
      expect(await plan({ _id: { $in: ['d7', 'd9'] } })).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
    } else {
      expect(await plan({ _id: { $in: ['d7', 'd9'] } })).toMatch(/IXSCAN|IDHACK|EXPRESS_IXSCAN|CLUSTERED_IXSCAN/);
    }
    expect((await db.collection('docs').find({ _id: { $in: ['d7', 'd9', 'missing'] } }).sort({ _id: 1 }).toArray()).map((d) => d.n)).toEqual([7, 9]);
    await db.dropDatabase();
  } finally {
    await client.close();
  }
});
