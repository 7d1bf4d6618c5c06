// Pure: rated charges → invoice lines and total. Amounts were rounded once at rating; here they are only summed.
import { sumMoney, type Money } from '../../lib/money';
import { lineId, type InvoiceLineDoc, type InvoiceLineKind } from './store';

export interface ChargeForInvoice {
  id: string;
  kind?: InvoiceLineKind;
  lineKey?: string;
  feeKey?: string | null;
  explanation?: string;
  usageTypeKey: string | null;
  productLine: string;
  unit: string;
  quantity: string;
  billableQuantity: string;
  includedQuantity: string;
  unitPrice: string;
  amount: Money;
  /** ISO instants of the time the charge pays for; absent in tests that do not need them. */
  servicePeriodStart?: string;
  servicePeriodEnd?: string;
}

/** What the customer reads on the line. */
export function describeCharge(c: ChargeForInvoice): string {
  switch (c.kind ?? 'USAGE') {
    case 'USAGE': {
      const included = c.includedQuantity === '0' ? '' : ` (${c.includedQuantity} included)`;
      const during =
        c.explanation && /^\d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}: /.test(c.explanation)
          ? `, ${c.explanation.slice(0, 24)}`
          : '';
      return `${c.usageTypeKey}: ${c.quantity} ${c.unit}${included}${during}`;
    }
    case 'FEE': {
      // "Platform fee (in arrears) for 2026-10: 30.00 USD × 10/31 …" → "Platform fee (in arrears) for 2026-10, 10/31 of the period"
      const head = (c.explanation ?? c.feeKey ?? 'Recurring fee').split(':')[0]!;
      const share = / × (\d+\/\d+) of /.exec(c.explanation ?? '')?.[1];
      return share ? `${head}, ${share} of the period` : head;
    }
    case 'COMMITMENT':
      return 'Minimum commitment true-up';
  }
}

export function buildInvoiceLines(
  invoiceId: string,
  currency: string,
  charges: readonly ChargeForInvoice[],
): { lines: InvoiceLineDoc[]; total: Money } {
  const rank: Record<InvoiceLineKind, number> = { USAGE: 0, FEE: 1, COMMITMENT: 2 };
  const ordered = [...charges].sort(
    (a, b) =>
      rank[a.kind ?? 'USAGE'] - rank[b.kind ?? 'USAGE'] ||
      a.productLine.localeCompare(b.productLine) ||
      (a.lineKey ?? a.usageTypeKey ?? '').localeCompare(b.lineKey ?? b.usageTypeKey ?? ''),
  );
  const lines = ordered.map((c, i) => {
    if (c.amount.currency !== currency)
      throw new RangeError(`rated charge ${c.id} is in ${c.amount.currency}, the invoice in ${currency}`);
    return {
      id: lineId(invoiceId, i + 1),
      lineNo: i + 1,
      kind: c.kind ?? 'USAGE',
      description: describeCharge(c),
      productLine: c.productLine,
      usageTypeKey: c.usageTypeKey,
      quantity: c.billableQuantity,
      unit: c.unit,
      unitPrice: c.unitPrice,
      amount: c.amount,
      ratedChargeId: c.id,
      lineKey: c.lineKey ?? c.usageTypeKey ?? c.id,
      ...(c.servicePeriodStart && c.servicePeriodEnd
        ? { servicePeriod: { from: new Date(c.servicePeriodStart), to: new Date(c.servicePeriodEnd) } }
        : {}),
    };
  });
  return {
    lines,
    total: sumMoney(
      lines.map((l) => l.amount),
      currency,
    ),
  };
}
