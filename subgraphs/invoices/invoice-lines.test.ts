import fc from 'fast-check';
import { fromMinorUnits, money, toMinorUnits } from '../../lib/money';
import { buildInvoiceLines, type ChargeForInvoice } from './invoice-lines';
import { invoiceIdOfLine } from './store';

const charge = (id: string, usageTypeKey: string, productLine: string, amount: string): ChargeForInvoice => ({
  id,
  usageTypeKey,
  productLine,
  unit: 'unit',
  quantity: '10',
  billableQuantity: '5',
  includedQuantity: '5',
  unitPrice: '1',
  amount: money(amount, 'USD'),
});

describe('invoice lines from rated charges', () => {
  it('orders lines by product line, numbers them, and keeps the rated charge for lineage', () => {
    const { lines, total } = buildInvoiceLines('inv_x', 'USD', [
      charge('rc2', 'storage_gb', 'storage', '4.00'),
      charge('rc1', 'api_calls', 'api', '6.50'),
    ]);
    expect(lines.map((l) => [l.id, l.lineNo, l.productLine, l.ratedChargeId, l.amount.amount])).toEqual([
      ['inv_x-l1', 1, 'api', 'rc1', '6.50'],
      ['inv_x-l2', 2, 'storage', 'rc2', '4.00'],
    ]);
    expect(lines[0]!.description).toBe('api_calls: 10 unit (5 included)');
    expect(total).toEqual({ amount: '10.50', currency: 'USD' });
    expect(invoiceIdOfLine(lines[1]!.id)).toBe('inv_x');
  });

  it('refuses a charge in another currency', () => {
    expect(() => buildInvoiceLines('inv_x', 'EUR', [charge('rc1', 'a', 'api', '1.00')])).toThrow(
      /in USD, the invoice in EUR/,
    );
  });

  it('total is exactly the sum of the lines, never creating or losing a minor unit', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1e9 }), { minLength: 1, maxLength: 30 }), (cents) => {
        const { lines, total } = buildInvoiceLines(
          'inv_p',
          'USD',
          cents.map((c, i) => charge(`rc${i}`, `t${i}`, 'api', fromMinorUnits(BigInt(c), 'USD').amount)),
        );
        expect(toMinorUnits(total)).toBe(lines.reduce((s, l) => s + toMinorUnits(l.amount), 0n));
      }),
    );
  });
});
