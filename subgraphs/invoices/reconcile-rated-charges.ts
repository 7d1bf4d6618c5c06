// Use case: after each rating, the pricing subgraph hands over the current charges of the subscriptions it rated;
// here they meet the finalized invoices and the notes already issued. Each invoice line gets at most one open
// adjustment — current − invoiced − corrected — recorded once per basis and superseding the line's earlier one.
import type { Logger } from '../../lib/logger';
import { deterministicId } from '../../lib/ids';
import { isDuplicateKeyError } from '../../lib/mongo';
import { money, type Money } from '../../lib/money';
import { parsePeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { describeCharge } from './invoice-lines';
import { issueNotesForInvoices } from './issue-notes';
import { correctionsOf, isZero, openDifferences } from './open-differences';
import { settleAdjustmentExceptions } from './work-queue-exceptions';
import type { AdjustmentDoc, InvoiceDoc, InvoiceLineKind, InvoicesStore, LineNowDoc } from './store';

export interface ChargeSnapshot {
  id: string;
  lineKey: string;
  kind: InvoiceLineKind;
  voided: boolean;
  productLine: string;
  usageTypeKey?: string | null;
  feeKey?: string | null;
  unit: string;
  quantity: string;
  billableQuantity: string;
  includedQuantity: string;
  unitPrice: string;
  amount: string;
  currency: string;
  explanation: string;
  servicePeriodStart: Date;
  servicePeriodEnd: Date;
}

export interface Reconciliation {
  subscriptionId: string;
  openAdjustments: AdjustmentDoc[];
  recorded: number;
}

/** Lines finalized before line keys were stored: their keys come from the rated charges they billed. */
async function lineKeysOf(invoice: InvoiceDoc): Promise<Map<string, string>> {
  const missing = invoice.lines.filter((l) => !l.lineKey);
  const keys = new Map(invoice.lines.flatMap((l) => (l.lineKey ? [[l.id, l.lineKey] as const] : [])));
  if (missing.length === 0) return keys;
  const { _entities } = await querySubgraph<{ _entities: Array<{ id: string; lineKey: string } | null> }>(
    'pricing',
    'query($r: [_Any!]!) { _entities(representations: $r) { ... on RatedCharge { id lineKey } } }',
    { r: missing.map((l) => ({ __typename: 'RatedCharge', id: l.ratedChargeId })) },
  );
  missing.forEach((l, i) => {
    const found = _entities[i];
    if (found) keys.set(l.id, found.lineKey);
  });
  return keys;
}

const nowOf = (c: ChargeSnapshot): LineNowDoc => ({
  kind: c.kind,
  description: describeCharge({
    ...c,
    usageTypeKey: c.usageTypeKey ?? null,
    amount: money(c.amount, c.currency),
    servicePeriodStart: undefined,
    servicePeriodEnd: undefined,
  }),
  productLine: c.productLine,
  usageTypeKey: c.usageTypeKey ?? null,
  quantity: c.billableQuantity,
  unit: c.unit,
  unitPrice: c.unitPrice,
  servicePeriod: { from: c.servicePeriodStart, to: c.servicePeriodEnd },
});

/** Records the open differences of one finalized invoice against the current charges; returns the open ones. */
async function reconcileInvoice(
  store: InvoicesStore,
  invoice: InvoiceDoc,
  charges: readonly ChargeSnapshot[],
  correlationId: string,
): Promise<{ open: AdjustmentDoc[]; recorded: number }> {
  return store.locks.run(invoice._id, async () => {
    const [slots, existing, keys] = await Promise.all([
      store.noteSlots.find({ invoiceId: invoice._id }).sort({ sequence: 1 }).toArray(),
      store.adjustments.find({ invoiceId: invoice._id }).toArray(),
      lineKeysOf(invoice),
    ]);
    const byKey = new Map(charges.map((c) => [c.lineKey, c]));
    const differences = openDifferences(
      invoice.lines.map((l) => ({
        lineKey: keys.get(l.id) ?? l.ratedChargeId,
        invoiceLineId: l.id,
        ratedChargeId: l.ratedChargeId,
        amount: l.amount,
      })),
      charges.map((c) => ({
        lineKey: c.lineKey,
        ratedChargeId: c.id,
        voided: c.voided,
        amount: money(c.amount, c.currency),
      })),
      correctionsOf(slots),
      invoice.currency,
    );
    const open: AdjustmentDoc[] = [];
    let recorded = 0;
    const now = new Date();
    for (const d of differences) {
      const openOne = existing.find((a) => a.lineKey === d.lineKey && a.status === 'OPEN');
      const id = deterministicId('adj', invoice._id, d.lineKey, d.currentRatedChargeId ?? 'void', ...d.slotIds);
      if (openOne?._id === id) {
        open.push(openOne);
        continue;
      }
      const supersede = async (by: string | null) => {
        if (!openOne) return;
        await store.adjustments.replaceOne(
          { _id: openOne._id },
          { ...openOne, status: 'SUPERSEDED', supersededBy: by, updatedAt: now },
        );
      };
      if (isZero(d.difference)) {
        await supersede(null);
        continue;
      }
      const charge = byKey.get(d.lineKey)!;
      const doc: AdjustmentDoc = {
        _id: id,
        invoiceId: invoice._id,
        invoiceNumber: invoice.number!,
        subscriptionId: invoice.subscriptionId,
        customerId: invoice.customerId,
        legalEntityCode: invoice.legalEntityCode,
        periodKey: invoice.periodKey,
        currency: invoice.currency,
        lineKey: d.lineKey,
        invoiceLineId: d.invoiceLineId,
        invoicedRatedChargeId: d.invoicedRatedChargeId,
        currentRatedChargeId: d.currentRatedChargeId,
        invoiced: d.invoiced,
        current: d.current,
        corrected: d.corrected,
        difference: d.difference,
        now: nowOf(charge),
        explanation: charge.voided
          ? 'charged on the invoice, no longer charged after re-rating'
          : `re-rated after invoicing: ${charge.explanation}`,
        status: 'OPEN',
        supersededBy: null,
        noteId: null,
        createdAt: now,
        updatedAt: now,
        correlationId,
      };
      try {
        await store.adjustments.insertOne(doc);
        recorded++;
      } catch (error) {
        // Another process recorded the same basis first: the same adjustment.
        if (!isDuplicateKeyError(error)) throw error;
      }
      await supersede(id);
      open.push((await store.adjustments.findOne({ _id: id })) ?? doc);
    }
    return { open, recorded };
  });
}

export async function reconcileRatedCharges(
  store: InvoicesStore,
  periodKey: string,
  subscriptions: ReadonlyArray<{ subscriptionId: string; charges: readonly ChargeSnapshot[] }>,
  correlationId: string,
  log: Logger,
): Promise<Reconciliation[]> {
  const period = parsePeriod(periodKey);
  const ids = subscriptions.map((s) => s.subscriptionId);
  // The invoice that bills each subscription period now: finalized and not voided (a voided one has a replacement).
  const invoices = await store.invoices
    // Progressive invoices bill a snapshot of the period by design; only the period's final invoice is reconciled.
    .find({ periodKey: period.key, subscriptionId: { $in: ids }, status: 'FINALIZED', kind: { $ne: 'PROGRESSIVE' } })
    .toArray();
  const results: Reconciliation[] = [];
  for (const s of subscriptions) {
    const invoice = invoices.find((i) => i.subscriptionId === s.subscriptionId);
    if (!invoice) {
      results.push({ subscriptionId: s.subscriptionId, openAdjustments: [], recorded: 0 });
      continue;
    }
    const { open, recorded } = await reconcileInvoice(store, invoice, s.charges, correlationId);
    results.push({ subscriptionId: s.subscriptionId, openAdjustments: open, recorded });
  }
  // The queue hears of every open difference before a note policy may issue it, so the item shows who settled it.
  await settleAdjustmentExceptions(
    store,
    invoices.map((i) => i._id),
    log,
  );
  const changed = invoices.filter((i) => results.some((r) => r.subscriptionId === i.subscriptionId && r.recorded > 0));
  if (changed.length > 0) await issueByPolicy(store, changed, 'ON_RERATING', correlationId, log);
  return results;
}

type Trigger = 'ON_RERATING' | 'AT_PERIOD_CLOSE';

interface EntityPolicy {
  code: string;
  notePolicy: { issuing: 'MANUAL' | Trigger; minimumDifference: string };
}

/** The legal entities whose note policy issues on this trigger, with their minimum difference. */
export async function policiesFor(trigger: Trigger): Promise<Map<string, Money['amount']>> {
  const { legalEntities } = await querySubgraph<{ legalEntities: EntityPolicy[] }>(
    'subscriptions',
    '{ legalEntities { code notePolicy { issuing minimumDifference } } }',
  );
  return new Map(
    legalEntities.filter((e) => e.notePolicy.issuing === trigger).map((e) => [e.code, e.notePolicy.minimumDifference]),
  );
}

/** Issues the notes the legal entities' policies hold for a trigger, for these invoices. */
export async function issueByPolicy(
  store: InvoicesStore,
  invoices: readonly InvoiceDoc[],
  trigger: Trigger,
  correlationId: string,
  log: Logger,
) {
  const policies = await policiesFor(trigger);
  const due = invoices.filter((i) => policies.has(i.legalEntityCode));
  const results = [];
  for (const invoice of due) {
    results.push(
      ...(await issueNotesForInvoices(store, [invoice._id], {
        issuedBy: `policy:${trigger}`,
        minimumDifference: policies.get(invoice.legalEntityCode)!,
        correlationId,
        log,
      })),
    );
  }
  return results;
}
