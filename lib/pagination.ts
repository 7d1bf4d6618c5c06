// Keyset pagination on _id: stable under inserts, one indexed query per page.
import type { Collection, Document, Filter } from 'mongodb';
import { UserFacingError } from './errors';
import { decodeCursor, encodeCursor } from './mongo';

export interface Page<T> {
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export const MAX_PAGE_SIZE = 500;

/** The requested page size, or VALIDATION_FAILED saying the allowed range. */
export function pageSize(first: number | null | undefined): number {
  const size = first ?? 50;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new UserFacingError('VALIDATION_FAILED', `first: ${size} is out of range`, {
      field: 'first',
      expected: `an integer from 1 to ${MAX_PAGE_SIZE}`,
    });
  }
  return size;
}

/** A page from `size + 1` rows read after the cursor: the extra row only says there is a next page. */
export function toPage<T extends { _id: string }>(rows: T[], size: number): Page<T> {
  const nodes = rows.slice(0, size);
  const last = nodes[nodes.length - 1];
  return { nodes, pageInfo: { hasNextPage: rows.length > size, endCursor: last ? encodeCursor(last._id) : null } };
}

export function afterCursor<T>(filter: Filter<T>, after: string | null | undefined): Filter<T> {
  const afterId = decodeCursor(after);
  return (afterId ? { $and: [filter, { _id: { $gt: afterId } }] } : filter) as Filter<T>;
}

export async function pageById<T extends Document & { _id: string }>(
  collection: Collection<T>,
  filter: Filter<T>,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<T>> {
  const size = pageSize(first);
  const rows = await collection
    .find(afterCursor(filter, after))
    .sort({ _id: 1 })
    .limit(size + 1)
    .toArray();
  return toPage(rows as T[], size);
}
