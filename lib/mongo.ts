// The MongoDB connection. One database per subgraph (`<prefix>_<subgraph>`), so ownership is visible in the server.
import { MongoClient, MongoServerError, type CreateIndexesOptions, type Db, type IndexSpecification } from 'mongodb';

export interface IndexDeclaration {
  collection: string;
  keys: IndexSpecification;
  options?: CreateIndexesOptions;
}

export function mongoUri(): string {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: start through `npm start`, or point it at a MongoDB server');
  return uri;
}

export function databaseName(subgraph: string): string {
  const prefix = process.env.USAGEGRAPH_DB_PREFIX ?? 'usagegraph';
  return `${prefix}_${subgraph.replace(/-/g, '_')}`;
}

export async function connectMongo(uri = mongoUri()): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, appName: 'usagegraph' });
  await client.connect();
  return client;
}

/** FerretDB answers buildInfo with its own version beside the MongoDB one it emulates. */
export async function isFerretDb(db: Db): Promise<boolean> {
  const info = await db.admin().command({ buildInfo: 1 });
  return typeof info.ferretdbVersion === 'string';
}

/** Indexes are declared in code beside the store that needs them, and created at start-up. */
export async function ensureIndexes(db: Db, declarations: readonly IndexDeclaration[]): Promise<void> {
  for (const { collection, keys, options } of declarations) {
    await db.collection(collection).createIndex(keys, options ?? {});
  }
}

export function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

/** Base64url cursor over a sort key, for connection-style pagination. */
export function encodeCursor(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}
export function decodeCursor(cursor: string | null | undefined): string | undefined {
  return cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : undefined;
}
