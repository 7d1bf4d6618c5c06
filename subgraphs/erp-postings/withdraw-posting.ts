// Use case: an invoice is being voided, so its posting must never reach the ERP. Withdrawn under the delivery claim,
// so no worker in any process is sending it meanwhile; refused once it is in the ERP.
import { UserFacingError } from '../../lib/errors';
import { claimRecord, releaseClaim } from '../../lib/claims';
import { isDuplicateKeyError } from '../../lib/mongo';
import { isCurrency } from '../../lib/money';
import type { DeliveryPolicy } from './deliver-posting';
import { resolveException } from './exceptions';
import { invoicePostingKey, postingIdOf } from './post-document';
import type { ErpPostingDoc, PostingsStore } from './store';

export async function withdrawInvoicePosting(
  store: PostingsStore,
  policy: DeliveryPolicy,
  invoiceId: string,
  reason: string,
  correlationId: string,
  currency: string | null = null,
): Promise<{ withdrawn: boolean }> {
  const postingKey = invoicePostingKey(invoiceId);
  const id = postingIdOf(postingKey);
  return store.locks.run(id, async () => {
    const now = new Date();
    const step = { at: now, outcome: 'WITHDRAWN' as const, code: 'INVOICE_VOIDED', message: reason };
    const posting = await store.postings.findOne({ _id: id });
    if (!posting) {
      // Withdrawn before it was built: a later postInvoice finds this and books nothing.
      const tombstone: ErpPostingDoc = {
        _id: id,
        postingKey,
        kind: 'INVOICE',
        invoiceId,
        noteId: null,
        invoiceNumber: '',
        documentNumber: '',
        customerId: '',
        source: null,
        ...(currency && isCurrency(currency) ? { currency } : {}),
        entry: null,
        status: 'WITHDRAWN',
        attempts: 0,
        nextAttemptAt: null,
        lockedUntil: null,
        lastError: null,
        history: [step],
        erpDocument: null,
        createdAt: now,
        postedAt: null,
        correlationId,
      };
      try {
        await store.postings.insertOne(tombstone);
        return { withdrawn: true };
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
    }
    const claim = await claimRecord(store.claims, 'postingId', id, policy.leaseMs, now);
    if (!claim) {
      throw new UserFacingError('CONFLICT', `the invoice's posting is being sent to the ERP right now; try again`, {
        field: 'invoiceId',
        retryable: true,
      });
    }
    try {
      const current = (await store.postings.findOne({ _id: id }))!;
      if (current.status === 'WITHDRAWN') return { withdrawn: true };
      if (current.status === 'POSTED') {
        throw new UserFacingError(
          'INVOICE_POSTED',
          `invoice ${current.invoiceNumber} is in the ledger (${current.postingKey}); only a credit or debit note corrects it now`,
          { field: 'invoiceId', expected: 'an invoice not yet posted; otherwise re-rate and issueNotes' },
        );
      }
      await resolveException(store, current, {
        action: 'INVOICE_VOIDED',
        words: 'invoice voided',
        detail: 'its invoice was voided, so the posting is withdrawn',
        afterwards: 'nothing is sent to the ledger; the replacement invoice is posted on its own',
      });
      await store.postings.replaceOne(
        { _id: id },
        {
          ...current,
          status: 'WITHDRAWN',
          nextAttemptAt: null,
          openException: null,
          history: [...current.history, step],
        },
      );
      await store.schedule.updateMany({ documentPostingId: id }, { $set: { status: 'CANCELLED' } });
      return { withdrawn: true };
    } finally {
      await releaseClaim(store.claims, claim);
    }
  });
}
