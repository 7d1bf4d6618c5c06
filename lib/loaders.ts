// Per-request DataLoaders: every entity reference becomes one `$in` query per batch, never one query per entity.
import DataLoader from 'dataloader';
import type { Collection, Document, Filter } from 'mongodb';

/**
 * Keys per `$in` query. A list argument of 200,000 keys becomes 200 queries instead of one over the 16 MB command
 * limit, which failed every entry at once (and logged each).
 */
export const MAX_KEYS_PER_QUERY = 1_000;

/** No stored key is longer; a longer one matches nothing and is not sent to the database. */
export const MAX_KEY_LENGTH = 1_024;

/** Keys that can match a stored string key: anything else (an object, a huge string) finds nothing. */
export const queryableKeys = (keys: readonly unknown[]): string[] =>
  keys.filter((k): k is string => typeof k === 'string' && k.length <= MAX_KEY_LENGTH);

/** Loads documents by a unique field; missing keys resolve to null, in input order. */
export function loaderByField<T extends Document>(
  collection: Collection<T>,
  field = '_id',
): DataLoader<string, T | null> {
  return new DataLoader<string, T | null>(
    async (keys) => {
      const queryable = queryableKeys(keys);
      // An empty $in matches nothing, but the embedded database reads the whole table to find that out.
      const docs = queryable.length
        ? await collection.find({ [field]: { $in: queryable } } as Filter<T>).toArray()
        : [];
      const byKey = new Map(docs.map((d) => [String((d as Document)[field]), d as T]));
      return keys.map((k) => byKey.get(k) ?? null);
    },
    { maxBatchSize: MAX_KEYS_PER_QUERY },
  );
}

/** Loads every document whose `field` equals (or, for an array field, contains) the key: a one-to-many reference. */
export function loaderOfMany<T extends Document>(
  collection: Collection<T>,
  field: string,
  sort: Document = { _id: 1 },
  keysOf: (doc: T) => unknown = (doc) => (doc as Document)[field],
): DataLoader<string, T[]> {
  return new DataLoader<string, T[]>(
    async (keys) => {
      const queryable = queryableKeys(keys);
      const docs = queryable.length
        ? await collection
            .find({ [field]: { $in: queryable } } as Filter<T>)
            .sort(sort)
            .toArray()
        : [];
      const groups = new Map<string, T[]>(keys.map((k) => [k, []]));
      for (const d of docs) {
        const value = keysOf(d as T);
        for (const k of Array.isArray(value) ? value.map(String) : [String(value)]) groups.get(k)?.push(d as T);
      }
      return keys.map((k) => groups.get(k) ?? []);
    },
    { maxBatchSize: MAX_KEYS_PER_QUERY },
  );
}

/**
 * Loads a record another one refers to, for a non-null field: a dangling reference is a broken invariant, so it is an
 * internal error that names what is missing, instead of GraphQL's bare "cannot return null".
 */
export async function loadReferenced<T>(loader: DataLoader<string, T | null>, key: string, what: string): Promise<T> {
  const found = await loader.load(key);
  if (found === null) throw new Error(`${what} "${key}" is referenced but does not exist`);
  return found;
}
