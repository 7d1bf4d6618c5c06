// Use case: finalize a draft — a gapless number per legal entity and year, an issue date, and no more changes.
import { notFound } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { isoDate } from '../../lib/period';
import type { InvoiceDoc, InvoiceNumberDoc, InvoicesStore } from './store';

export async function finalizeInvoice(store: InvoicesStore, invoiceId: string, now = new Date()): Promise<InvoiceDoc> {
  const invoice = await store.invoices.findOne({ _id: invoiceId });
  if (!invoice) throw notFound('invoice', 'invoiceId', invoiceId);
  if (invoice.status === 'FINALIZED') return invoice;

  const claim = await claimNumber(store, invoice, now);
  const number = `${claim.series}-${String(claim.sequence).padStart(6, '0')}`;
  const finalized = await store.invoices.findOneAndUpdate(
    { _id: invoiceId, status: 'DRAFT' },
    { $set: { status: 'FINALIZED', number, issueDate: isoDate(now), finalizedAt: now, updatedAt: now } },
    { returnDocument: 'after' },
  );
  return finalized ?? (await store.invoices.findOne({ _id: invoiceId }))!;
}

/** The invoice's own earlier claim if a previous attempt was cut short, else the next number in the series. */
async function claimNumber(store: InvoicesStore, invoice: InvoiceDoc, now: Date): Promise<InvoiceNumberDoc> {
  const series = `${invoice.legalEntityCode}-${now.getUTCFullYear()}`;
  for (;;) {
    const mine = await store.numbers.findOne({ invoiceId: invoice._id });
    if (mine) return mine;
    const [last] = await store.numbers.find({ series }).sort({ sequence: -1 }).limit(1).toArray();
    const sequence = (last?.sequence ?? 0) + 1;
    const claim: InvoiceNumberDoc = { _id: `${series}:${sequence}`, series, sequence, invoiceId: invoice._id, claimedAt: now };
    try {
      await store.numbers.insertOne(claim);
      return claim;
    } catch (error) {
      // Another invoice took this number, or a concurrent finalize of this invoice claimed one: look again.
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
}
