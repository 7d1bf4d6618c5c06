// Keyset pagination on _id: stable under inserts, one indexed query per page.
import type { Collection, Document, Filter } from 'mongodb';
import { UserFacingError } from './errors';
import { decodeCursor, encodeCursor } from './mongo';

export interface Page<T> {
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export const MAX_PAGE_SIZE = 500;

export async function pageById<T extends Document & { _id: string }>(collection: Collection<T>, filter: Filter<T>, first: number | null | undefined, after: string | null | undefined): Promise<Page<T>> {
  const size = first ?? 50;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new UserFacingError('VALIDATION_FAILED', `first: ${size} is out of range`, { field: 'first', expected: `an integer from 1 to ${MAX_PAGE_SIZE}` });
  }
  const afterId = decodeCursor(after);
  const query = (afterId ? { $and: [filter, { _id: { $gt: afterId } }] } : filter) as Filter<T>;
  const docs = await collection.find(query).sort({ _id: 1 }).limit(size + 1).toArray();
  const nodes = docs.slice(0, size) as T[];
  const last = nodes[nodes.length - 1];
  return { nodes, pageInfo: { hasNextPage: docs.length > size, endCursor: last ? encodeCursor(last._id) : null } };
}
