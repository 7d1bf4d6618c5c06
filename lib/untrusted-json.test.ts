import fc from 'fast-check';
import {
  EVENT_LIMITS,
  boundedJsonText,
  inspectUntrustedJson,
  jsonTextDepth,
  nestsWithin,
  storableView,
  unsafeKeyReason,
} from './untrusted-json';

const nested = (levels: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
};

describe('untrusted JSON', () => {
  it('finds unsafe keys at any depth, with a path that quotes them', () => {
    const problems = inspectUntrustedJson({ data: { ok: 1, x: [{ $where: 1 }], 'a.b': 2, 'n\u0000': 3 } }, 'e[0]');
    // An object's own keys are reported before what is nested in it.
    expect(problems.map((p) => p.field)).toEqual([
      'e[0].data["a.b"]',
      'e[0].data["n\\u0000"]',
      'e[0].data.x[0]["$where"]',
    ]);
    expect(problems.every((p) => p.code === 'VALIDATION_FAILED')).toBe(true);
    expect(unsafeKeyReason('__proto__')).toMatch(/prototype/);
    expect(unsafeKeyReason('calls')).toBeNull();
  });

  it('names the limit and the value for every limit', () => {
    const cases: Array<[unknown, RegExp]> = [
      [nested(EVENT_LIMITS.maxDepth + 5), /limit maxDepth/],
      [{ s: 'x'.repeat(EVENT_LIMITS.maxStringLength + 1) }, /limit maxStringLength/],
      [{ ['k'.repeat(EVENT_LIMITS.maxKeyLength + 1)]: 1 }, /limit maxKeyLength/],
      [{ a: new Array(EVENT_LIMITS.maxArrayItems + 1).fill(0) }, /limit maxArrayItems/],
      [Object.fromEntries(Array.from({ length: EVENT_LIMITS.maxKeys + 1 }, (_, i) => [`k${i}`, i])), /limit maxKeys/],
      [{ a: Array.from({ length: 20 }, () => 'y'.repeat(4_000)) }, /limit maxEventBytes/],
    ];
    for (const [value, limit] of cases) {
      const problems = inspectUntrustedJson(value, 'e');
      expect(problems.some((p) => p.code === 'LIMIT_EXCEEDED' && limit.test(p.expected ?? ''))).toBe(true);
    }
  });

  it('refuses strings no database stores faithfully', () => {
    expect(inspectUntrustedJson({ s: 'a\u0000b' }, 'e')[0]!.reason).toMatch(/NUL/);
    expect(inspectUntrustedJson({ s: 'a\ud800b' }, 'e')[0]!.reason).toMatch(/lone surrogate/);
    expect(inspectUntrustedJson({ s: '😀 ok', n: 1.5, b: true, z: null }, 'e')).toEqual([]);
  });

  it('reads a million levels of nesting without recursion, and stops early', () => {
    const text = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const deep = JSON.parse(text);
    expect(inspectUntrustedJson(deep, 'e')).toHaveLength(1);
    expect(nestsWithin(deep, 64)).toBe(false);
    expect(jsonTextDepth(Buffer.from(text), 64)).toBe(65);
    expect(jsonTextDepth(Buffer.from('{"a":"[[[[[[","b":[1,{"c":2}]}'), 64)).toBe(3);
    const { text: kept, truncated } = boundedJsonText(deep, 1000);
    expect(truncated).toBe(true);
    expect(kept).toHaveLength(1000);
  });

  it('writes the same text as JSON.stringify for any JSON value within the budget', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const { text, truncated } = boundedJsonText(value, 1_000_000);
        expect(truncated).toBe(false);
        expect(text).toBe(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });

  it('gives a view with only storable keys and no array directly inside an array', () => {
    const view = storableView({ $where: { 'a.b': [[1, [2]]], 'n\u0000': 'x\u0000', __proto__x: 1 }, '': 1 });
    expect(JSON.stringify(view)).toBe(
      JSON.stringify({
        '\uFF04where': { 'a\uFF0Eb': [{ 0: 1, 1: [2] }], 'n\u2400': 'x\u2400', __proto__x: 1 },
        '\u2205': 1,
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const stack: Array<{ v: unknown; inArray: boolean }> = [{ v: storableView(value), inArray: false }];
        while (stack.length > 0) {
          const { v, inArray } = stack.pop()!;
          if (Array.isArray(v)) {
            expect(inArray).toBe(false);
            v.forEach((x) => stack.push({ v: x, inArray: true }));
          } else if (v && typeof v === 'object') {
            for (const [k, x] of Object.entries(v)) {
              expect(unsafeKeyReason(k)).toBeNull();
              stack.push({ v: x, inArray: false });
            }
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
