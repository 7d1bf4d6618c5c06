// Pure: rated charges → invoice lines and total. Amounts were rounded once at rating; here they are only summed.
import { sumMoney, type Money } from '../../lib/money';
import { lineId, type InvoiceLineDoc } from './store';

export interface ChargeForInvoice {
  id: string;
  usageTypeKey: string;
  productLine: string;
  unit: string;
  quantity: string;
  billableQuantity: string;
  includedQuantity: string;
  unitPrice: string;
  amount: Money;
}

export function buildInvoiceLines(invoiceId: string, currency: string, charges: readonly ChargeForInvoice[]): { lines: InvoiceLineDoc[]; total: Money } {
  const ordered = [...charges].sort((a, b) => a.productLine.localeCompare(b.productLine) || a.usageTypeKey.localeCompare(b.usageTypeKey));
  const lines = ordered.map((c, i) => {
    if (c.amount.currency !== currency) throw new RangeError(`rated charge ${c.id} is in ${c.amount.currency}, the invoice in ${currency}`);
    const included = c.includedQuantity === '0' ? '' : ` (${c.includedQuantity} included)`;
    return {
      id: lineId(invoiceId, i + 1),
      lineNo: i + 1,
      description: `${c.usageTypeKey}: ${c.quantity} ${c.unit}${included}`,
      productLine: c.productLine,
      usageTypeKey: c.usageTypeKey,
      quantity: c.billableQuantity,
      unit: c.unit,
      unitPrice: c.unitPrice,
      amount: c.amount,
      ratedChargeId: c.id,
    };
  });
  return { lines, total: sumMoney(lines.map((l) => l.amount), currency) };
}
