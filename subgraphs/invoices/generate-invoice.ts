// Use case: draft a subscription's invoice for a period from its current rated charges.
import { deterministicId } from '../../lib/ids';
import { UserFacingError, notFound } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { parsePeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { buildInvoiceLines, type ChargeForInvoice } from './invoice-lines';
import type { InvoiceDoc, InvoicesStore } from './store';

export function invoiceId(subscriptionId: string, periodKey: string): string {
  return deterministicId('inv', subscriptionId, periodKey);
}

export async function generateInvoice(
  store: InvoicesStore,
  subscriptionId: string,
  periodKey: string,
  correlationId: string,
): Promise<InvoiceDoc> {
  const period = parsePeriod(periodKey);
  const id = invoiceId(subscriptionId, period.key);
  const finalized = await store.invoices.findOne({ _id: id });
  if (finalized) return finalized;

  const [{ subscription }, { ratedCharges }] = await Promise.all([
    querySubgraph<{
      subscription: { id: string; customer: { id: string; currency: string; legalEntity: { code: string } } } | null;
    }>(
      'subscriptions',
      'query($id: ID!) { subscription(id: $id) { id customer { id currency legalEntity { code } } } }',
      { id: subscriptionId },
    ),
    querySubgraph<{ ratedCharges: ChargeForInvoice[] }>(
      'pricing',
      'query($s: ID!, $p: String!) { ratedCharges(subscriptionId: $s, period: $p) { id kind lineKey feeKey explanation usageTypeKey productLine unit quantity billableQuantity includedQuantity unitPrice amount { amount currency } } }',
      { s: subscriptionId, p: period.key },
    ),
  ]);
  if (!subscription) throw notFound('subscription', 'subscriptionId', subscriptionId);
  if (ratedCharges.length === 0) {
    throw new UserFacingError(
      'NOTHING_TO_INVOICE',
      `subscription ${subscriptionId} has no rated charges for ${period.key}`,
      {
        field: 'period',
        expected: 'a period rated first with rateBillingPeriod',
      },
    );
  }
  const currency = ratedCharges[0]!.amount.currency;
  const { lines, total } = buildInvoiceLines(id, currency, ratedCharges);

  return store.locks.run(id, async () => {
    const [nowFinal, existing] = await Promise.all([
      store.invoices.findOne({ _id: id }),
      store.drafts.findOne({ _id: id }),
    ]);
    if (nowFinal) return nowFinal;
    if (
      existing &&
      sameCharges(
        existing,
        lines.map((l) => l.ratedChargeId),
      )
    )
      return existing;
    const now = new Date();
    const draft: InvoiceDoc = {
      _id: id,
      status: 'DRAFT',
      number: null,
      customerId: subscription.customer.id,
      subscriptionId,
      legalEntityCode: subscription.customer.legalEntity.code,
      periodKey: period.key,
      currency,
      lines,
      total,
      issueDate: null,
      finalizedAt: null,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      correlationId: existing?.correlationId ?? correlationId,
    };
    await store.drafts.replaceOne({ _id: id }, draft, { upsert: true }).catch(async (error) => {
      if (!isDuplicateKeyError(error)) throw error;
      await store.drafts.replaceOne({ _id: id }, draft);
    });
    return draft;
  });
}

function sameCharges(invoice: InvoiceDoc, ratedChargeIds: string[]): boolean {
  return (
    invoice.lines.length === ratedChargeIds.length &&
    invoice.lines.every((l, i) => l.ratedChargeId === ratedChargeIds[i])
  );
}
