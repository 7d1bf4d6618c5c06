// Use case: void a finalized invoice that has not reached the ledger, so a replacement can bill the period. Its
// posting is withdrawn first (erp-postings refuses once it is posted, or while it is being sent); once posted, only a
// credit or debit note corrects an invoice.
import { UserFacingError, notFound } from '../../lib/errors';
import { querySubgraph } from '../../lib/subgraph-client';
import { restorePrepaidCredits } from './credit-wallets';
import { invoiceId as invoiceIdOf } from './generate-invoice';
import type { InvoiceDoc, InvoicesStore } from './store';

export async function voidInvoice(
  store: InvoicesStore,
  invoiceId: string,
  reason: string,
  voidedBy: string,
): Promise<InvoiceDoc> {
  const why = reason.trim();
  if (!why || why.length > 500) {
    throw new UserFacingError('VALIDATION_FAILED', 'reason: say why the invoice is voided (1–500 characters)', {
      field: 'reason',
      expected: 'a reason in words, e.g. "billed to the wrong legal entity"',
    });
  }
  return store.locks.run(invoiceId, async () => {
    const invoice = await store.invoices.findOne({ _id: invoiceId });
    if (!invoice) {
      const draft = await store.drafts.findOne({ _id: invoiceId });
      if (!draft) throw notFound('invoice', 'invoiceId', invoiceId);
      throw new UserFacingError(
        'INVOICE_NOT_FINALIZED',
        `invoice ${invoiceId} is a draft; generateInvoice refreshes it`,
        {
          field: 'invoiceId',
          expected: 'a finalized invoice',
        },
      );
    }
    // Again on a repeated void: a void cut short before its credit was given back completes here.
    if (invoice.status === 'VOIDED') {
      await restorePrepaidCredits(store, invoice, { recordedBy: voidedBy, correlationId: invoice.correlationId });
      return invoice;
    }
    if (await store.noteSlots.findOne({ invoiceId })) {
      throw new UserFacingError(
        'CONFLICT',
        `invoice ${invoice.number} has credit or debit notes; notes correct it now`,
        {
          field: 'invoiceId',
          expected: 'an invoice without notes',
        },
      );
    }
    // Withdrawn first: from here on erp-postings will not send it, and refuses to post it again.
    await querySubgraph<{ withdrawInvoicePosting: { withdrawn: boolean } }>(
      'erp-postings',
      'mutation($id: ID!, $r: String!, $c: String) { withdrawInvoicePosting(invoiceId: $id, reason: $r, currency: $c) { withdrawn } }',
      { id: invoiceId, r: why, c: invoice.currency },
    );
    const now = new Date();
    const voided: InvoiceDoc = {
      ...invoice,
      status: 'VOIDED',
      voidedAt: now,
      voidReason: why,
      replacedByInvoiceId: invoiceIdOf(invoice.subscriptionId, invoice.periodKey, (invoice.replacement ?? 0) + 1),
      updatedAt: now,
    };
    await store.outbox.raise({
      id: `invoice.voided:${invoiceId}`,
      type: 'invoice.voided',
      subject: invoiceId,
      occurredAt: now,
      data: { invoiceId, number: invoice.number, reason: why, voidedBy, replacedBy: voided.replacedByInvoiceId },
    });
    await store.invoices.replaceOne({ _id: invoiceId }, voided);
    await restorePrepaidCredits(store, voided, { recordedBy: voidedBy, correlationId: invoice.correlationId });
    // Its open differences are moot: the replacement bills the charges as they are.
    for (const a of await store.adjustments.find({ invoiceId, status: 'OPEN' }).toArray())
      await store.adjustments.replaceOne(
        { _id: a._id },
        { ...a, status: 'SUPERSEDED', supersededBy: null, updatedAt: now },
      );
    return voided;
  });
}
