// Use case: finalize a draft — a gapless number per legal entity and year, an issue date, and no more changes.
// Every step is an insert, so even several processes racing cannot number an invoice twice or change a finalized one.
import { UserFacingError, notFound } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { zero, type Money } from '../../lib/money';
import { isoDate, parsePeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { applyPrepaidCredits, creditAppliedOf } from './credit-wallets';
import { creditorReference } from './payment-reference';
import { NumberSeries } from './number-series';
import { latestProgressiveInvoice, progressiveLockKey } from './progressive-invoices';
import { amountsOf, type InvoiceDoc, type InvoiceNumberDoc, type InvoicesStore } from './store';

/** A running month is invoiced only once finance has closed billing early for the legal entity. */
async function assertPeriodInvoiceable(invoice: InvoiceDoc, now: Date): Promise<void> {
  const period = parsePeriod(invoice.periodKey);
  if (period.end <= now) return;
  const { legalEntity } = await querySubgraph<{ legalEntity: { billingClosedThrough: string | null } | null }>(
    'subscriptions',
    'query($c: String!) { legalEntity(code: $c) { billingClosedThrough } }',
    { c: invoice.legalEntityCode },
  );
  const closedThrough = legalEntity?.billingClosedThrough;
  if (closedThrough && closedThrough >= period.key) return;
  throw new UserFacingError(
    'PERIOD_NOT_ENDED',
    `billing period ${period.key} runs until ${period.end.toISOString()}; its invoice cannot be finalized before it ends`,
    {
      field: 'invoiceId',
      expected: `a period that has ended, or closeBillingPeriodEarly(legalEntityCode: "${invoice.legalEntityCode}", period: "${period.key}") first`,
    },
  );
}

export async function finalizeInvoice(store: InvoicesStore, invoiceId: string, now = new Date()): Promise<InvoiceDoc> {
  return store.locks.run(invoiceId, async () => {
    const finalized = await store.invoices.findOne({ _id: invoiceId });
    // Raised on every call: a finalize cut short after the insert still tells the world once.
    if (finalized) return announced(store, finalized);
    const draft = await store.drafts.findOne({ _id: invoiceId });
    if (!draft) throw notFound('invoice', 'invoiceId', invoiceId);
    // A progressive invoice is issued mid-period by design; the period's final invoice waits for the period's end.
    if (draft.kind === 'PROGRESSIVE') return finalizeDraft(store, draft, now);
    await assertPeriodInvoiceable(draft, now);
    // No progressive invoice may be issued between the check of what the draft deducts and its finalization.
    return store.locks.run(progressiveLockKey(draft.subscriptionId, draft.periodKey), async () => {
      const latest = await latestProgressiveInvoice(store, draft.subscriptionId, draft.periodKey);
      if ((latest?._id ?? null) !== (draft.alreadyBilledBasisId ?? null)) {
        throw new UserFacingError(
          'DRAFT_OUTDATED',
          `invoice ${invoiceId} was drafted before progressive invoice ${latest?.number ?? latest?._id ?? '(voided)'} billed part of ${draft.periodKey}`,
          {
            field: 'invoiceId',
            expected: `the draft refreshed first: generateInvoice(subscriptionId: "${draft.subscriptionId}", period: "${draft.periodKey}")`,
          },
        );
      }
      return finalizeDraft(store, draft, now);
    });
  });
}

async function finalizeDraft(store: InvoicesStore, draft: InvoiceDoc, now: Date): Promise<InvoiceDoc> {
  const invoiceId = draft._id;
  const claim = await claimNumber(store, draft, now);
  const invoice = finalizedWith(draft, claim);
  try {
    await store.invoices.insertOne(invoice);
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    return announced(store, (await store.invoices.findOne({ _id: invoiceId }))!);
  }
  // The draft has served its purpose; readers prefer the finalized invoice should this delete not happen.
  await store.drafts.deleteOne({ _id: invoiceId });
  return announced(store, invoice);
}

/** The finalized invoice a draft becomes with its number claim. */
export const finalizedWith = (draft: InvoiceDoc, claim: InvoiceNumberDoc): InvoiceDoc => ({
  ...draft,
  status: 'FINALIZED',
  number: `${claim.series}-${String(claim.sequence).padStart(6, '0')}`,
  issueDate: isoDate(claim.claimedAt),
  finalizedAt: claim.claimedAt,
  updatedAt: claim.claimedAt,
});

/** The number series an invoice finalized at `now` is numbered in: one per legal entity and year. */
export const numberSeriesOf = (invoice: InvoiceDoc, now: Date): string =>
  `${invoice.legalEntityCode}-${now.getUTCFullYear()}`;

/** The invoice's own earlier claim if a previous attempt was cut short, else the next number in the series. */
function claimNumber(store: InvoicesStore, invoice: InvoiceDoc, now: Date): Promise<InvoiceNumberDoc> {
  return invoiceNumbers(store).claimOne(numberSeriesOf(invoice, now), invoice._id, now);
}

/** The invoices' gapless numbers, claimed by insert (number-series.ts). */
export const invoiceNumbers = (store: InvoicesStore) => new NumberSeries(store.numbers, 'invoiceId');

/** `invoice.finalized`, once per invoice (the event id is the invoice's), after its prepaid credit is applied. */
async function announced(store: InvoicesStore, invoice: InvoiceDoc): Promise<InvoiceDoc> {
  // Every path of a finalization passes here, so a retry completes a credit application a crash cut short.
  const credit = creditAppliedOf(invoice, await applyPrepaidCredits(store, invoice));
  await store.outbox.raise(finalizedEvent(invoice, credit));
  return invoice;
}

/** The `invoice.finalized` business event of an invoice whose prepaid credit (if any) has been applied. */
export function finalizedEvent(invoice: InvoiceDoc, credit: Money) {
  return {
    id: `invoice.finalized:${invoice._id}`,
    type: 'invoice.finalized',
    subject: invoice._id,
    occurredAt: invoice.finalizedAt ?? undefined,
    data: {
      invoiceId: invoice._id,
      number: invoice.number,
      customerId: invoice.customerId,
      legalEntityCode: invoice.legalEntityCode,
      period: invoice.periodKey,
      issueDate: invoice.issueDate,
      subtotal: amountsOf(invoice).subtotal,
      taxTotal: amountsOf(invoice).taxTotal,
      total: invoice.total,
      prepaidCreditApplied: credit,
      paymentReference: invoice.number ? creditorReference(invoice.number) : null,
      replaces: invoice.replacesInvoiceId ?? null,
      // Threshold billing: a PROGRESSIVE invoice bills part of the period; a FINAL one deducts what those billed.
      kind: invoice.kind ?? 'FINAL',
      alreadyBilled: invoice.alreadyBilled ?? zero(invoice.currency),
    },
  };
}
