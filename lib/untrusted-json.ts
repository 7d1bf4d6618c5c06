// JSON from producers is untrusted: it is measured and checked without recursion before anything hashes, stores or
// logs it, and only ever stored as text or as a sanitised view, so no key can become a MongoDB operator or field path.
import { fieldPath, type Problem } from './errors';

/** What one usage event may be. A usage type declares flat fields, so real events sit far below every limit. */
export const EVENT_LIMITS = {
  /** UTF-8 bytes of the event's JSON. */
  maxEventBytes: 64 * 1024,
  /** Levels of objects and arrays; the event itself is level 1, its `data` level 2. */
  maxDepth: 16,
  /** Characters in one string value. */
  maxStringLength: 8 * 1024,
  /** Characters in one key. */
  maxKeyLength: 256,
  /** Object keys in the whole event, every level counted. */
  maxKeys: 256,
  /** Items in one array. */
  maxArrayItems: 1_000,
} as const;

export type JsonLimits = typeof EVENT_LIMITS;

/** At most this many problems are reported per value: enough to fix it, bounded however hostile it is. */
const MAX_PROBLEMS = 10;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a key cannot be stored as a MongoDB field name (or is a prototype-pollution vector), or null. */
export function unsafeKeyReason(key: string): string | null {
  if (key.startsWith('$')) return 'starts with "$" (a MongoDB operator)';
  if (key.includes('.')) return 'contains "." (a MongoDB field path separator)';
  if (key.includes('\u0000')) return 'contains the NUL character';
  if (key === '__proto__') return "is reserved (it would replace the object's prototype)";
  if (LONE_SURROGATE.test(key)) return 'is not well-formed Unicode (a lone surrogate)';
  return null;
}

interface Frame {
  value: unknown;
  parent: Frame | null;
  key: string | number | null;
  depth: number;
}

function pathOf(frame: Frame): Array<string | number> {
  const parts: Array<string | number> = [];
  for (let f: Frame | null = frame; f && f.key !== null; f = f.parent) parts.push(f.key);
  return parts.reverse();
}

const jsonBytes = (s: string) => Buffer.byteLength(JSON.stringify(s));
const n = (x: number) => x.toLocaleString('en-US');

/**
 * Problems that make `value` unfit to store or process as one event: over a limit, an unsafe key, a string no
 * database stores faithfully (NUL, a lone surrogate), or a value JSON cannot hold. Iterative, and it stops early, so
 * a payload nested a million levels deep or many megabytes long costs no more than reading it once.
 */
export function inspectUntrustedJson(value: unknown, base: string, limits: JsonLimits = EVENT_LIMITS): Problem[] {
  const problems: Problem[] = [];
  const add = (frame: Frame, reason: string, expected: string, code = 'VALIDATION_FAILED') =>
    problems.push({ code, field: fieldPath(base, pathOf(frame)), reason, expected });
  let bytes = 0;
  let keys = 0;
  const stack: Frame[] = [{ value, parent: null, key: null, depth: 0 }];
  while (stack.length > 0 && problems.length < MAX_PROBLEMS) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v === 'string') {
      if (v.length > limits.maxStringLength) {
        add(
          frame,
          `a string of ${n(v.length)} characters is over the limit of ${n(limits.maxStringLength)}`,
          `strings of at most ${limits.maxStringLength} characters (limit maxStringLength)`,
          'LIMIT_EXCEEDED',
        );
        bytes += v.length;
      } else {
        if (v.includes('\u0000'))
          add(frame, 'contains the NUL character, which not every database stores', 'text without NUL characters');
        else if (LONE_SURROGATE.test(v))
          add(frame, 'is not well-formed Unicode (a lone surrogate)', 'well-formed UTF-8 text');
        bytes += jsonBytes(v);
      }
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) add(frame, 'is not a finite number', 'a JSON number');
      bytes += String(v).length;
    } else if (typeof v === 'boolean' || v === null) {
      bytes += String(v).length;
    } else if (typeof v === 'object') {
      const depth = frame.depth + 1;
      if (depth > limits.maxDepth) {
        add(
          frame,
          `nested ${n(depth)} levels deep (or more), over the limit of ${limits.maxDepth}`,
          `at most ${limits.maxDepth} levels of objects and arrays (limit maxDepth)`,
          'LIMIT_EXCEEDED',
        );
        continue;
      }
      if (Array.isArray(v)) {
        if (v.length > limits.maxArrayItems) {
          add(
            frame,
            `an array of ${n(v.length)} items is over the limit of ${n(limits.maxArrayItems)}`,
            `arrays of at most ${limits.maxArrayItems} items (limit maxArrayItems)`,
            'LIMIT_EXCEEDED',
          );
          continue;
        }
        bytes += 2 + Math.max(0, v.length - 1);
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: frame, key: i, depth });
      } else {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null && !(v instanceof Date)) {
          add(frame, 'is not a plain JSON object', 'a JSON object');
          continue;
        }
        if (v instanceof Date) {
          bytes += 26;
          continue;
        }
        const entries = Object.keys(v);
        keys += entries.length;
        if (keys > limits.maxKeys) {
          add(
            frame,
            `the event has more than ${n(limits.maxKeys)} keys in all`,
            `at most ${limits.maxKeys} keys in one event, every level counted (limit maxKeys)`,
            'LIMIT_EXCEEDED',
          );
          break;
        }
        bytes += 2 + Math.max(0, entries.length - 1);
        const children: Frame[] = [];
        for (const k of entries) {
          const child: Frame = { value: (v as Record<string, unknown>)[k], parent: frame, key: k, depth };
          if (k.length > limits.maxKeyLength) {
            add(
              child,
              `a key of ${n(k.length)} characters is over the limit of ${limits.maxKeyLength}`,
              `keys of at most ${limits.maxKeyLength} characters (limit maxKeyLength)`,
              'LIMIT_EXCEEDED',
            );
            continue;
          }
          const unsafe = unsafeKeyReason(k);
          if (unsafe) add(child, `the key ${quoted(k)} ${unsafe}`, 'keys without "$" at the start, ".", or NUL');
          bytes += jsonBytes(k) + 1;
          if (child.value !== undefined) children.push(child);
        }
        for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      }
    } else if (v !== undefined) {
      add(frame, `is a ${typeof v}, not a JSON value`, 'a JSON value');
    }
    if (bytes > limits.maxEventBytes) {
      problems.push({
        code: 'LIMIT_EXCEEDED',
        field: base,
        reason: `the event is more than ${n(limits.maxEventBytes)} bytes of JSON (at least ${n(bytes)} read)`,
        expected: `at most ${limits.maxEventBytes} bytes per event (limit maxEventBytes); split large data or send it elsewhere`,
      });
      break;
    }
  }
  return problems;
}

/** A key or string for a message: JSON-quoted (control characters escaped) and cut to 64 characters. */
export function quoted(s: string, max = 64): string {
  return s.length > max ? `${JSON.stringify(s.slice(0, max))}… (${n(s.length)} characters)` : JSON.stringify(s);
}

type Token = { raw: string } | { value: unknown; inArray: boolean };

/**
 * `JSON.stringify(value)`, but iterative and cut at `maxChars`: safe for any nesting depth and any size. The text is
 * what a quarantine keeps, so replay parses exactly what was sent.
 */
export function boundedJsonText(value: unknown, maxChars: number): { text: string; truncated: boolean } {
  const parts: string[] = [];
  let length = 0;
  const emit = (s: string) => {
    parts.push(s);
    length += s.length;
  };
  const work: Token[] = [{ value, inArray: true }];
  while (work.length > 0 && length <= maxChars) {
    const t = work.pop()!;
    if ('raw' in t) {
      emit(t.raw);
      continue;
    }
    const v = t.value;
    if (typeof v === 'string') {
      emit(JSON.stringify(v.length > maxChars - length ? v.slice(0, maxChars - length + 1) : v));
    } else if (typeof v === 'number') {
      emit(Number.isFinite(v) ? String(v) : 'null');
    } else if (typeof v === 'boolean') {
      emit(String(v));
    } else if (v === null || typeof v !== 'object') {
      emit('null'); // undefined, functions and symbols: what JSON.stringify writes in an array
    } else if (v instanceof Date) {
      emit(JSON.stringify(v));
    } else if (Array.isArray(v)) {
      emit('[');
      work.push({ raw: ']' });
      for (let i = v.length - 1; i >= 0; i--) {
        work.push({ value: v[i], inArray: true });
        if (i > 0) work.push({ raw: ',' });
      }
    } else {
      emit('{');
      work.push({ raw: '}' });
      const entries = Object.entries(v as Record<string, unknown>).filter(
        ([, x]) => x !== undefined && typeof x !== 'function' && typeof x !== 'symbol',
      );
      for (let i = entries.length - 1; i >= 0; i--) {
        work.push({ value: entries[i]![1], inArray: false });
        work.push({ raw: `${JSON.stringify(entries[i]![0])}:` });
        if (i > 0) work.push({ raw: ',' });
      }
    }
  }
  const text = parts.join('');
  return text.length > maxChars || work.length > 0
    ? { text: text.slice(0, maxChars), truncated: true }
    : { text, truncated: false };
}

const VIEW = { maxDepth: 8, maxString: 200, maxItems: 50, maxNodes: 500 };

/** A key any MongoDB-compatible database stores as a plain field name: look-alike characters replace unsafe ones. */
export function storableKey(key: string): string {
  if (key === '') return '\u2205'; // not every database takes an empty field name
  let k = key.length > VIEW.maxString ? `${key.slice(0, VIEW.maxString)}…` : key;
  k = k.replace(/\./g, '\uFF0E').replaceAll('\u0000', '\u2400');
  if (k.startsWith('$')) k = `\uFF04${k.slice(1)}`;
  if (k === '__proto__') k = '\uFF3F\uFF3Fproto\uFF3F\uFF3F';
  return LONE_SURROGATE.test(k) ? k.replace(new RegExp(LONE_SURROGATE, 'g'), '\uFFFD') : k;
}

function storableString(s: string): string {
  const cut = s.length > VIEW.maxString ? `${s.slice(0, VIEW.maxString)}…` : s;
  return cut.replaceAll('\u0000', '\u2400').replace(new RegExp(LONE_SURROGATE, 'g'), '\uFFFD');
}

/**
 * A small structured copy for people reading the database: unsafe key characters replaced by look-alikes ("$" → "＄",
 * "." → "．", NUL → "␀"), an array directly inside an array as an object keyed by index, strings cut at 200
 * characters, at most 8 levels, 50 items per array and 500 values. Not a faithful copy — the text is — but storable.
 */
export function storableView(value: unknown): unknown {
  let nodes = 0;
  const root: { v: unknown } = { v: null };
  const work: Array<{ value: unknown; depth: number; inArray: boolean; set: (x: unknown) => void }> = [
    { value, depth: 0, inArray: false, set: (x) => (root.v = x) },
  ];
  while (work.length > 0) {
    const { value: v, depth, inArray, set } = work.pop()!;
    if (++nodes > VIEW.maxNodes) {
      set('…');
      continue;
    }
    if (typeof v === 'string') set(storableString(v));
    else if (typeof v === 'number') set(Number.isFinite(v) ? v : null);
    else if (typeof v === 'boolean' || v === null) set(v);
    else if (v instanceof Date) set(v);
    else if (typeof v !== 'object') set(null);
    else if (depth >= VIEW.maxDepth) set('…');
    else if (Array.isArray(v)) {
      // FerretDB refuses an array directly inside an array: an inner one is kept as an object keyed by index.
      const out: Record<number, unknown> = inArray ? {} : [];
      set(out);
      const items = v.slice(0, VIEW.maxItems);
      for (let i = items.length - 1; i >= 0; i--)
        work.push({ value: items[i], depth: depth + 1, inArray: !inArray, set: (y) => (out[i] = y) });
      if (v.length > VIEW.maxItems) out[VIEW.maxItems] = `… ${v.length - VIEW.maxItems} more`;
    } else {
      const out: Record<string, unknown> = {};
      set(out);
      const entries = Object.entries(v as Record<string, unknown>).slice(0, VIEW.maxItems);
      for (const [k] of entries) out[storableKey(k)] = null; // keys in the order sent; values filled in below
      for (const [k, x] of entries.reverse()) {
        const key = storableKey(k);
        work.push({ value: x, depth: depth + 1, inArray: false, set: (y) => (out[key] = y) });
      }
    }
  }
  return root.v;
}

/**
 * How deep a JSON text nests, read from its bytes before it is parsed; stops counting past `limit`. Whatever walks a
 * parsed value recursively (JSON.stringify fails near 5,000 levels) is safe below the limit.
 */
export function jsonTextDepth(text: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Whether `value` nests at most `limit` levels of objects and arrays (iterative, stops early). */
export function nestsWithin(value: unknown, limit: number): boolean {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (v === null || typeof v !== 'object' || v instanceof Date) continue;
    if (depth + 1 > limit) return false;
    for (const x of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: x, depth: depth + 1 });
  }
  return true;
}
