import fc from 'fast-check';
import { creditorReference, isValidCreditorReference } from './payment-reference';

describe('the payment reference on invoices and notes', () => {
  it('is an ISO 11649 creditor reference over the document number', () => {
    // The standard's own example: RF18 5390 0754 7034.
    expect(creditorReference('539007547034')).toBe('RF18539007547034');
    expect(creditorReference('US01-2026-000001')).toMatch(/^RF\d{2}US012026000001$/);
    expect(isValidCreditorReference(creditorReference('US01-CN-2026-000042'))).toBe(true);
  });

  it('catches a mistyped digit', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z0-9]{1,12}-20\d{2}-\d{6}$/),
        fc.integer({ min: 0, max: 9 }),
        (number, digit) => {
          const ref = creditorReference(number);
          expect(isValidCreditorReference(ref)).toBe(true);
          const last = ref.at(-1)!;
          const typo = `${ref.slice(0, -1)}${String((Number(last) + 1 + (digit % 9)) % 10)}`;
          if (typo !== ref) expect(isValidCreditorReference(typo)).toBe(false);
        },
      ),
    );
  });
});
