import { kafkaClusterId } from './kafka';

describe('kafkaClusterId', () => {
  it('is 16 bytes in base64url and never starts with a dash, which the storage tool would read as an option', () => {
    // 0xf8 as the first byte encodes to '-' in base64url; the second draw is used.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x42)];
    let calls = 0;
    const id = kafkaClusterId(() => draws[calls++]!);
    expect(calls).toBe(2);
    expect(id).toBe(Buffer.alloc(16, 0x42).toString('base64url'));
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
    for (let i = 0; i < 500; i++) expect(kafkaClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});
