// The embedded database answers with its indexes and SQL where it can (the FerretDB build carries fixes for this),
// and still gives MongoDB's answers.
import { MongoClient, type Db } from 'mongodb';
import { isFerretDb } from '../lib/mongo';

interface Doc {
  _id: string;
  n: number;
  f?: unknown;
}

let client: MongoClient;
let db: Db;
beforeAll(async () => {
  client = await MongoClient.connect(process.env.MONGODB_URI!);
  db = client.db(`${process.env.USAGEGRAPH_DB_PREFIX}_dbcheck`);
  await db.collection<Doc>('docs').insertMany([
    { _id: 'd1', n: 1, f: 'x' },
    { _id: 'd2', n: 2, f: 'y' },
    { _id: 'd3', n: 3, f: ['a', 'x'] },
    { _id: 'd4', n: 4, f: 5 },
    { _id: 'd5', n: 5 },
    { _id: 'd6', n: 6, f: { x: 1 } },
    { _id: 'd7', n: 7, f: 'x<&>"é' },
    { _id: 'd8', n: 8, f: '5' },
  ]);
  await db.collection('docs').createIndex({ f: 1 });
});
afterAll(async () => {
  await db.dropDatabase();
  await client.close();
});

const ids = async (filter: object) =>
  (await db.collection<Doc>('docs').find(filter).sort({ _id: 1 }).toArray()).map((d) => d._id);
const plan = async (filter: object) =>
  JSON.stringify((await db.command({ explain: { find: 'docs', filter } })).queryPlanner);

it('looks documents up by _id and by _id $in through the _id index', async () => {
  if (await isFerretDb(db)) {
    // FerretDB reports SQLite's plan: SEARCH … USING INDEX, not SCAN.
    expect(await plan({ _id: 'd7' })).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
    expect(await plan({ _id: { $in: ['d7', 'd1'] } })).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
  } else {
    expect(await plan({ _id: { $in: ['d7', 'd1'] } })).toMatch(/IXSCAN|IDHACK|EXPRESS_IXSCAN|CLUSTERED_IXSCAN/);
  }
  expect(await ids({ _id: { $in: ['d7', 'd1', 'missing'] } })).toEqual(['d1', 'd7']);
  expect(await ids({ _id: 'd2' })).toEqual(['d2']);
});

it('gives MongoDB’s answers for equality and $in on a field, arrays and odd characters included', async () => {
  expect(await ids({ f: 'x' })).toEqual(['d1', 'd3']); // the array containing "x" matches too
  expect(await ids({ f: '5' })).toEqual(['d8']); // the string, not the number
  expect(await ids({ f: 'x<&>"é' })).toEqual(['d7']);
  expect(await ids({ f: { $in: ['y', 'a'] } })).toEqual(['d2', 'd3']);
  expect(await ids({ f: 'x', n: { $gt: 1 } })).toEqual(['d3']);
  expect(await ids({ f: 'x', _id: { $in: ['d1', 'd2'] } })).toEqual(['d1']);
  expect(await ids({ f: 'nothing' })).toEqual([]);
  // FerretDB answers from the field's index in SQL, instead of decoding every document in Go.
  if (await isFerretDb(db)) {
    expect(await plan({ f: 'x' })).toMatch(/SEARCH \S+ USING INDEX \S+_f_1/);
    expect(await plan({ f: { $in: ['x', 'y'] } })).toMatch(/SEARCH \S+ USING INDEX \S+_f_1/);
  }
});
