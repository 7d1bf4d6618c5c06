// The MongoDB connection. One database per subgraph (`<prefix>_<subgraph>`), so ownership is visible in the server.
import { config } from './config';
import {
  MongoClient,
  MongoServerError,
  type Collection,
  type CreateIndexesOptions,
  type Db,
  type Document,
  type IndexSpecification,
  type OptionalUnlessRequiredId,
} from 'mongodb';
import { currentRequestScope } from './correlation';
import { createLogger } from './logger';
import { recordQueryShapes } from './query-shapes';
import { logSlowQueries } from './slow-queries';
import { traceMongo, tracingEnabled } from './tracing';

export interface IndexDeclaration {
  collection: string;
  keys: IndexSpecification;
  options?: CreateIndexesOptions;
}

export function mongoUri(): string {
  const uri = config().MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: start through `npm start`, or point it at a MongoDB server');
  return uri;
}

export function databaseName(subgraph: string, prefix = config().USAGEGRAPH_DB_PREFIX): string {
  return `${prefix}_${subgraph.replace(/-/g, '_')}`;
}

export async function connectMongo(uri = mongoUri()): Promise<MongoClient> {
  // Command monitoring costs a little on every command: only while traces or query shapes are recorded.
  const shapesDir = config().USAGEGRAPH_QUERY_SHAPES_DIR;
  const slowMs = config().USAGEGRAPH_DB_SLOW_QUERY_MS;
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 10_000,
    appName: 'usagegraph',
    monitorCommands: tracingEnabled() || shapesDir !== undefined || slowMs !== undefined,
  });
  traceMongo(client);
  if (shapesDir) recordQueryShapes(client, shapesDir, config().USAGEGRAPH_DB_PREFIX);
  if (slowMs !== undefined) logSlowQueries(client, slowMs, createLogger('database'));
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

/**
 * The write errors of an unordered insertMany when every one of them is a duplicate key (each with the index of the
 * document refused); null when the error is anything else, which the caller rethrows.
 */
export function duplicateKeyWriteErrors(error: unknown): WriteErrorOf[] | null {
  const list = writeErrorsOf(error);
  return list.length === 0 || list.some((w) => w.code !== 11000) ? null : list;
}

/**
 * Inserts every document whose _id is not taken, in one unordered insertMany; returns the positions of those already
 * there (written before, or by another process: an insert against a unique index is the one atomic step everywhere).
 */
export async function insertManyNew<T extends Document>(
  collection: Collection<T>,
  docs: readonly T[],
): Promise<Set<number>> {
  const taken = new Set<number>();
  if (docs.length === 0) return taken;
  try {
    await collection.insertMany(docs as unknown as Array<OptionalUnlessRequiredId<T>>, { ordered: false });
  } catch (error) {
    const list = duplicateKeyWriteErrors(error);
    if (!list) throw error;
    for (const w of list) taken.add(w.index);
  }
  return taken;
}

/**
 * Inserts the documents in order, stopping at the first whose _id is taken; false when one was (those before it are in,
 * the rest not).
 */
export async function insertedAll<T extends Document>(collection: Collection<T>, docs: readonly T[]): Promise<boolean> {
  if (docs.length === 0) return true;
  try {
    await collection.insertMany(docs as unknown as Array<OptionalUnlessRequiredId<T>>, { ordered: true });
    return true;
  } catch (error) {
    if (!duplicateKeyWriteErrors(error)) throw error;
    return false;
  }
}

/** The position and code of each document an unordered insertMany refused (the driver gives one as an object). */
export interface WriteErrorOf {
  index: number;
  code: number;
}
export function writeErrorsOf(error: unknown): WriteErrorOf[] {
  const writeErrors = (error as { writeErrors?: WriteErrorOf[] | WriteErrorOf }).writeErrors;
  return Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
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

/** The longest any one read may run: a query that would scan for minutes is stopped by the database. */
export const QUERY_TIME_LIMIT_MS = (): number => config().USAGEGRAPH_DB_QUERY_TIME_LIMIT_MS;

/** Reads whose options take a time limit and an abort signal, and where those options are. */
const READS: Record<string, number> = { find: 1, findOne: 1, aggregate: 1, countDocuments: 1, distinct: 2 };

/**
 * The database as every subgraph uses it: each read is bounded by QUERY_TIME_LIMIT_MS() (maxTimeMS, which FerretDB
 * honours too) and, inside a request, cancelled when the caller goes away (the request's abort signal).
 */
export function boundedDb(db: Db): Db {
  const collections = new Map<string, Collection>();
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property !== 'collection') return Reflect.get(target, property, receiver);
      return (name: string) => {
        let collection = collections.get(name);
        if (!collection) {
          collection = boundedCollection(target.collection(name));
          collections.set(name, collection);
        }
        return collection;
      };
    },
  });
}

function boundedCollection(collection: Collection): Collection {
  return new Proxy(collection, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      const at = typeof property === 'string' ? READS[property] : undefined;
      if (at === undefined || typeof value !== 'function')
        return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        const given = (args[at] ?? {}) as Record<string, unknown>;
        const signal = currentRequestScope()?.signal;
        args[at] = { maxTimeMS: QUERY_TIME_LIMIT_MS(), ...(signal ? { signal } : {}), ...given };
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
