import { customerKeyProblem } from './customer-key';

describe('a customer key', () => {
  it('may be any printable text a product uses, e-mail-like keys included', () => {
    for (const key of ['acme', 'ops@acme.example', 'ACME GmbH', 'tenant/42', 'a+b', 'Ünïcødé-客户', 'x'.repeat(128)])
      expect(customerKeyProblem(key)).toBeNull();
  });

  it('may not be empty, too long, padded or carry control characters', () => {
    expect(customerKeyProblem('')).toMatch(/empty/);
    expect(customerKeyProblem('x'.repeat(129))).toMatch(/at most 128/);
    expect(customerKeyProblem(' acme')).toMatch(/space/);
    expect(customerKeyProblem('ac\u0000me')).toMatch(/control/);
    expect(customerKeyProblem('ac\nme')).toMatch(/control/);
    expect(customerKeyProblem('ac\ud800me')).toMatch(/control/);
  });
});
