// Bounded concurrency: independent items worked by a few at a time, results in input order.

/**
 * `fn` over every item with at most `limit` calls in flight; the results are in input order. A rejection rejects the
 * whole call once the calls in flight have settled (callers that must not stop at one item catch inside `fn`).
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * The items in chunks for a pipeline: a short first chunk (nothing overlaps its work, so the stage after it starts
 * early), then chunks of `size`.
 */
export function pipelineChunks<T>(items: readonly T[], first: number, size: number): T[][] {
  const chunks = items.length > 0 ? [items.slice(0, first)] : [];
  for (let i = first; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
