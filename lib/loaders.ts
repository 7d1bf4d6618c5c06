// Per-request DataLoaders: every entity reference becomes one `$in` query per batch, never one query per entity.
import DataLoader from 'dataloader';
import type { Collection, Document, Filter } from 'mongodb';

/** Loads documents by a unique field; missing keys resolve to null, in input order. */
export function loaderByField<T extends Document>(
  collection: Collection<T>,
  field = '_id',
): DataLoader<string, T | null> {
  return new DataLoader<string, T | null>(async (keys) => {
    const docs = await collection.find({ [field]: { $in: [...keys] } } as Filter<T>).toArray();
    const byKey = new Map(docs.map((d) => [String((d as Document)[field]), d as T]));
    return keys.map((k) => byKey.get(k) ?? null);
  });
}

/** Loads every document whose `field` equals (or, for an array field, contains) the key: a one-to-many reference. */
export function loaderOfMany<T extends Document>(
  collection: Collection<T>,
  field: string,
  sort: Document = { _id: 1 },
  keysOf: (doc: T) => unknown = (doc) => (doc as Document)[field],
): DataLoader<string, T[]> {
  return new DataLoader<string, T[]>(async (keys) => {
    const docs = await collection
      .find({ [field]: { $in: [...keys] } } as Filter<T>)
      .sort(sort)
      .toArray();
    const groups = new Map<string, T[]>(keys.map((k) => [k, []]));
    for (const d of docs) {
      const value = keysOf(d as T);
      for (const k of Array.isArray(value) ? value.map(String) : [String(value)]) groups.get(k)?.push(d as T);
    }
    return keys.map((k) => groups.get(k) ?? []);
  });
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
