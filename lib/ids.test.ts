import { contentHash, stableStringify } from './ids';

describe('stableStringify', () => {
  it('writes keys in code-unit order at every depth and leaves undefined members out', () => {
    expect(stableStringify({ b: 1, a: { d: [2, undefined], c: undefined }, B: null, '10': 1, '9': 2 })).toBe(
      '{"10":1,"9":2,"B":null,"a":{"d":[2,null]},"b":1}',
    );
  });

  it('keeps what stored hashes were made with: other objects by their own keys, so a Date is {}', () => {
    expect(stableStringify({ at: new Date('2026-01-01'), n: NaN, s: 'é"' })).toBe('{"at":{},"n":null,"s":"é\\""}');
    expect(stableStringify(undefined)).toBe('null');
    expect(stableStringify([])).toBe('[]');
    expect(stableStringify({})).toBe('{}');
  });

  it('makes the same content hash whatever the key order', () => {
    expect(contentHash({ a: 1, b: [{ x: 1, y: 2 }] })).toBe(contentHash({ b: [{ y: 2, x: 1 }], a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: '1' }));
  });
});
