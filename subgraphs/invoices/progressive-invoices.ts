// Use case: threshold (progressive) billing on the invoices side. The pricing subgraph records each usage threshold a
// subscription's period crosses (an insert, once) and hands the crossings here; each one not superseded becomes a
// progressive invoice for the usage accrued so far less what the period's progressive invoices already billed,
// finalized, taxed and posted like any other. The period's final invoice deducts them too, so nothing is paid twice.
import { deterministicId } from '../../lib/ids';
import { Dec, fromMinorUnits, money, sumMoney, toMinorUnits, type Money } from '../../lib/money';
import { parsePeriod } from '../../lib/period';
import { currentInvoiceOf, draftInvoice } from './generate-invoice';
import { finalizeInvoice } from './finalize-invoice';
import type { ChargeForInvoice } from './invoice-lines';
import { lineId, type InvoiceDoc, type InvoiceLineDoc, type InvoicesStore, type TaxLineDoc } from './store';
import type { ChargeSnapshot } from './reconcile-rated-charges';

export function progressiveInvoiceId(subscriptionId: string, periodKey: string, thresholdIndex: number): string {
  return deterministicId('inv', subscriptionId, periodKey, 'progressive', thresholdIndex);
}

/** The one lock that orders a period's progressive invoices and the finalization of its final invoice. */
export const progressiveLockKey = (subscriptionId: string, periodKey: string): string =>
  `progressive:${subscriptionId}:${periodKey}`;

/** The lines an invoice bills before any deduction (its usage, fees, commitment). */
export const grossLines = (invoice: InvoiceDoc): InvoiceLineDoc[] =>
  invoice.lines.filter((l) => !l.alreadyBilledInvoiceId);

/** The period's latest finalized progressive invoice (highest threshold): what the next invoice deducts. */
export async function latestProgressiveInvoice(
  store: InvoicesStore,
  subscriptionId: string,
  periodKey: string,
): Promise<InvoiceDoc | null> {
  const issued = await store.invoices
    .find({ subscriptionId, periodKey, kind: 'PROGRESSIVE', status: 'FINALIZED' })
    .toArray();
  return issued.sort((a, b) => (b.usageThreshold?.index ?? 0) - (a.usageThreshold?.index ?? 0))[0] ?? null;
}

const negate = (m: Money): Money => fromMinorUnits(-toMinorUnits(m), m.currency);
const taxKey = (t: { jurisdiction: string; ratePercent: string; name: string }) =>
  `${t.jurisdiction}\u001f${t.ratePercent}\u001f${t.name}`;

/**
 * Pure: appends to `lines` one line per gross line of `latest` (the period's latest progressive invoice), negated with
 * its tax — "already billed on invoice N". Because every progressive invoice deducts the gross of the one before, the
 * gross of the latest is what all of them billed together. Returns the lines, subtotal, tax lines (re-summed from the
 * lines when something is deducted) and the pre-tax amount deducted.
 */
export function withAlreadyBilled(
  invoiceId: string,
  currency: string,
  lines: InvoiceLineDoc[],
  taxLines: TaxLineDoc[],
  latest: InvoiceDoc | null,
): { lines: InvoiceLineDoc[]; subtotal: Money; taxLines: TaxLineDoc[]; taxTotal: Money; alreadyBilled: Money } {
  const deducted = latest ? grossLines(latest) : [];
  const all = [
    ...lines,
    ...deducted.map((l, i): InvoiceLineDoc => {
      const lineNo = lines.length + i + 1;
      if (l.amount.currency !== currency)
        throw new RangeError(`invoice ${latest!._id} is in ${l.amount.currency}, this one in ${currency}`);
      return {
        id: lineId(invoiceId, lineNo),
        lineNo,
        kind: l.kind ?? 'USAGE',
        description: `Already billed on invoice ${latest!.number ?? latest!._id}: ${l.description}`,
        productLine: l.productLine,
        usageTypeKey: l.usageTypeKey,
        quantity: new Dec(l.quantity).negated().toFixed(),
        unit: l.unit,
        unitPrice: l.unitPrice,
        amount: negate(l.amount),
        ratedChargeId: l.ratedChargeId,
        lineKey: `already-billed:${l.lineKey ?? l.ratedChargeId}`,
        ...(l.servicePeriod ? { servicePeriod: l.servicePeriod } : {}),
        taxes: (l.taxes ?? []).map((t) => ({ ...t, amount: negate(t.amount) })),
        alreadyBilledInvoiceId: latest!._id,
      };
    }),
  ];
  const subtotal = sumMoney(
    all.map((l) => l.amount),
    currency,
  );
  const alreadyBilled = sumMoney(
    deducted.map((l) => l.amount),
    currency,
  );
  if (deducted.length === 0) {
    return { lines: all, subtotal, taxLines, taxTotal: sumTax(taxLines, currency), alreadyBilled };
  }
  // Each line's taxes add up to the document's tax (lib: tax/compute.ts), so the tax lines are re-summed from them.
  const groups = new Map<string, TaxLineDoc>();
  for (const line of all) {
    for (const t of line.taxes ?? []) {
      const g = groups.get(taxKey(t)) ?? {
        jurisdiction: t.jurisdiction,
        name: t.name,
        ratePercent: t.ratePercent,
        taxable: money(0, currency),
        amount: money(0, currency),
      };
      g.taxable = sumMoney([g.taxable, line.amount], currency);
      g.amount = sumMoney([g.amount, t.amount], currency);
      groups.set(taxKey(t), g);
    }
  }
  const summed = [...groups.values()].sort(
    (a, b) =>
      a.jurisdiction.localeCompare(b.jurisdiction) ||
      new Dec(a.ratePercent).comparedTo(b.ratePercent) ||
      a.name.localeCompare(b.name),
  );
  return { lines: all, subtotal, taxLines: summed, taxTotal: sumTax(summed, currency), alreadyBilled };
}

const sumTax = (taxLines: readonly TaxLineDoc[], currency: string): Money =>
  sumMoney(
    taxLines.map((t) => t.amount),
    currency,
  );

/**
 * Pure: whether a crossing gets a progressive invoice after `latest` (the period's latest one): not when a higher
 * threshold was invoiced already (it billed more), nor when its usage is not more than what was billed.
 */
export function billsSomething(
  latest: InvoiceDoc | null,
  thresholdIndex: number,
  charges: readonly ChargeForInvoice[],
): boolean {
  if (latest && (latest.usageThreshold?.index ?? 0) > thresholdIndex) return false;
  if (charges.length === 0) return false;
  const gross = charges.reduce((s, c) => s + toMinorUnits(c.amount), 0n);
  const billedBefore = latest ? grossLines(latest).reduce((s, l) => s + toMinorUnits(l.amount), 0n) : 0n;
  return gross > billedBefore;
}

/** A usage threshold crossing as the pricing subgraph recorded it. */
export interface CrossingInput {
  id: string;
  thresholdIndex: number;
  threshold: string;
  accrued: string;
  charges: ChargeSnapshot[];
}

const forInvoice = (c: ChargeSnapshot): ChargeForInvoice => ({
  id: c.id,
  kind: c.kind,
  lineKey: c.lineKey,
  feeKey: c.feeKey ?? null,
  explanation: c.explanation,
  usageTypeKey: c.usageTypeKey ?? null,
  productLine: c.productLine,
  unit: c.unit,
  quantity: c.quantity,
  billableQuantity: c.billableQuantity,
  includedQuantity: c.includedQuantity,
  unitPrice: c.unitPrice,
  amount: money(c.amount, c.currency),
  servicePeriodStart: new Date(c.servicePeriodStart).toISOString(),
  servicePeriodEnd: new Date(c.servicePeriodEnd).toISOString(),
});

/**
 * Issues the progressive invoices of a subscription period's crossings, in threshold order: one per crossing that is
 * neither superseded (a higher threshold already invoiced) nor empty (nothing accrued beyond what was billed), none
 * once the period's final invoice is finalized. Returns the period's progressive invoices, in threshold order.
 */
export async function issueProgressiveInvoices(
  store: InvoicesStore,
  periodKey: string,
  subscriptionId: string,
  crossings: readonly CrossingInput[],
  correlationId: string,
): Promise<InvoiceDoc[]> {
  const period = parsePeriod(periodKey);
  return store.locks.run(progressiveLockKey(subscriptionId, period.key), async () => {
    const issued = await store.invoices.find({ subscriptionId, periodKey: period.key, kind: 'PROGRESSIVE' }).toArray();
    const final = await currentInvoiceOf(store, subscriptionId, period.key);
    const inOrder = () => issued.sort((a, b) => (a.usageThreshold?.index ?? 0) - (b.usageThreshold?.index ?? 0));
    // The final invoice bills the whole period: a crossing reported after it is finalized has nothing left to bill.
    if (final.finalized) return inOrder();
    for (const crossing of [...crossings].sort((a, b) => a.thresholdIndex - b.thresholdIndex)) {
      const id = progressiveInvoiceId(subscriptionId, period.key, crossing.thresholdIndex);
      if (issued.some((i) => i._id === id)) continue;
      const latest =
        inOrder()
          .filter((i) => i.status === 'FINALIZED')
          .at(-1) ?? null;
      const charges = crossing.charges.filter((c) => !c.voided).map(forInvoice);
      if (!billsSomething(latest, crossing.thresholdIndex, charges)) continue;
      await draftInvoice(store, {
        id,
        kind: 'PROGRESSIVE',
        subscriptionId,
        periodKey: period.key,
        charges,
        alreadyBilled: latest,
        replacement: 0,
        replaces: null,
        usageThreshold: {
          crossingId: crossing.id,
          index: crossing.thresholdIndex,
          amount: crossing.threshold,
          accrued: crossing.accrued,
        },
        correlationId,
      });
      issued.push(await finalizeInvoice(store, id));
    }
    return inOrder();
  });
}
