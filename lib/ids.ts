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

/**
 * JSON with every object's keys in code-unit order and undefined members left out; any other object (a Date, a Map)
 * is written by its own enumerable keys, so a Date is `{}`. Hot: rating hashes every charge line it produces.
 */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + stableStringify(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${stableStringify(member)}`;
  }
  return `${out}}`;
}
