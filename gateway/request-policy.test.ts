import { auditableVariables } from './request-policy';

it('keeps what a change was asked with, minus secrets, and cuts what is huge', () => {
  expect(
    auditableVariables({
      key: '2026-11',
      input: { owner: 'ana', secret: 's3cr3t', apiKey: 'ugk_x', nested: [{ password: 'p' }] },
    }),
  ).toEqual({
    key: '2026-11',
    input: { owner: 'ana', secret: '[redacted]', apiKey: '[redacted]', nested: [{ password: '[redacted]' }] },
  });
  const long = auditableVariables({ note: 'x'.repeat(5_000) }) as { note: string };
  expect(long.note.length).toBeLessThan(2_100);
  expect(long.note.endsWith('[truncated]')).toBe(true);
  expect(
    JSON.stringify(auditableVariables({ many: Array.from({ length: 1_000 }, () => 'y'.repeat(1_000)) })).length,
  ).toBeLessThan(25_000);
});
