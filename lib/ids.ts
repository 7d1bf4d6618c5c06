// Deterministic ids make every write idempotent: the same business key always yields the same _id.
import { createHash, randomUUID } from 'node:crypto';

/** `prefix_` + 24 hex chars of SHA-256 over the parts (unit-separator joined, so ["a","bc"] ≠ ["ab","c"]). */
export function deterministicId(prefix: string, ...parts: ReadonlyArray<string | number>): string {
  const digest = createHash('sha256').update(parts.map(String).join('\u001f')).digest('hex');
  return `${prefix}_${digest.slice(0, 24)}`;
}

export function randomId(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
}

/** Stable hash of a JSON-able value with sorted keys: used to tell a replay from a conflicting rewrite. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 32);
}

export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}
