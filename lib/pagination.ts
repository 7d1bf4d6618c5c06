// Keyset pagination: a page is one query with the list's sort and a limit, resuming after the last row's sort key.
// Stable under inserts; never loads a list to slice it in memory.
import type { Collection, Document, Filter } from 'mongodb';
import { UserFacingError } from './errors';

export interface Page<T> {
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  /** Resolved only when a client asks for totalCount (GraphQL calls a function-valued property); null when not cheap. */
  totalCount?: () => Promise<number | null>;
}

export const MAX_PAGE_SIZE = 500;

/** A list's order: top-level fields and their direction. `_id` is appended when missing, so every position is unique. */
export type SortOrder = ReadonlyArray<readonly [field: string, direction: 1 | -1]>;

export const BY_ID: SortOrder = [['_id', 1]];

function complete(order: SortOrder): SortOrder {
  return order.some(([field]) => field === '_id') ? order : [...order, ['_id', 1]];
}

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

type Position = Array<string | number | boolean | Date>;

function encodePosition(row: Document, order: SortOrder): string {
  const values = complete(order).map(([field]) => {
    const value = row[field];
    return value instanceof Date ? { $date: value.toISOString() } : value;
  });
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

function decodePosition(cursor: string, order: SortOrder): Position {
  const refused = new UserFacingError('VALIDATION_FAILED', 'after: not a cursor of this list', {
    field: 'after',
    expected: 'the pageInfo.endCursor of a previous page of the same list, unchanged',
  });
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refused;
  }
  if (!Array.isArray(values) || values.length !== complete(order).length) throw refused;
  return values.map((v: unknown) => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    const iso = v && typeof v === 'object' && '$date' in v ? (v as { $date: unknown }).$date : undefined;
    const date = typeof iso === 'string' ? new Date(iso) : undefined;
    if (!date || Number.isNaN(date.getTime())) throw refused;
    return date;
  });
}

/**
 * The filter narrowed to the rows after the cursor, in this order. The condition stays at the top level beside the
 * filter's own fields where it can: FerretDB pushes only top-level field conditions down to its indexes.
 */
export function afterPosition<T>(filter: Filter<T>, order: SortOrder, after: string | null | undefined): Filter<T> {
  if (!after) return filter;
  const full = complete(order);
  const values = decodePosition(after, full);
  const branches = full.map(([field, direction], i) => ({
    ...Object.fromEntries(full.slice(0, i).map(([f], j) => [f, values[j]])),
    [field]: { [direction === 1 ? '$gt' : '$lt']: values[i] },
  }));
  const condition: Document = branches.length === 1 ? branches[0]! : { $or: branches };
  const clashes = Object.keys(condition).some((key) => key in (filter as Document));
  return (clashes ? { $and: [filter, condition] } : { ...filter, ...condition }) as Filter<T>;
}

/** The sort a query needs for this order. */
export function sortFor(order: SortOrder): Record<string, 1 | -1> {
  return Object.fromEntries(complete(order));
}

/** A page from `size + 1` rows read after the cursor: the extra row only says there is a next page. */
export function toPage<T extends Document>(rows: T[], size: number, order: SortOrder = BY_ID): Page<T> {
  const nodes = rows.slice(0, size);
  const last = nodes[nodes.length - 1];
  return {
    nodes,
    pageInfo: { hasNextPage: rows.length > size, endCursor: last ? encodePosition(last, order) : null },
  };
}

/** One page of a collection in the given order: one query with the filter, the sort and a limit. */
export async function pageBy<T extends Document>(
  collection: Collection<T>,
  filter: Filter<T>,
  order: SortOrder,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<T>> {
  const size = pageSize(first);
  const rows = await collection
    .find(afterPosition(filter, order, after))
    .sort(sortFor(order))
    .limit(size + 1)
    .toArray();
  return toPage(rows as T[], size, order);
}

export function pageById<T extends Document & { _id: string }>(
  collection: Collection<T>,
  filter: Filter<T>,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<T>> {
  return pageBy(collection, filter, BY_ID, first, after);
}

/** A page with a totalCount that counts `filter` when the client asks, or null when counting would not be cheap. */
export function withCount<T extends Document>(
  page: Page<T>,
  collection: Collection<T>,
  filter: Filter<T> | null,
): Page<T> {
  return { ...page, totalCount: async () => (filter ? collection.countDocuments(filter) : null) };
}
