// Business exceptions of postings: a posting held for a business reason (a missing mapping, an ERP customer the ERP
// does not know, a closed period) raises `exception.raised` through the outbox, with a deterministic id, what is wrong,
// who can fix it and how; releasing it raises `exception.resolved`. The finance work queue is built on these events.
import { deterministicId } from '../../lib/ids';
import { documentNumberOf, kindOf, type ErpPostingDoc, type PostingError, type PostingsStore } from './store';

export interface OpenException {
  id: string;
  code: string;
  raisedAt: Date;
}

/** Raised before the hold is written: should the write be cut short, the same hold raises the same id again. */
export async function raiseException(
  store: PostingsStore,
  posting: ErpPostingDoc,
  error: PostingError,
  details: Record<string, unknown> = {},
): Promise<OpenException> {
  // One exception per hold of a posting: the id is the posting, the cause and how many steps it has taken so far.
  const id = deterministicId('exc', posting._id, error.code, posting.history.length);
  const raisedAt = new Date();
  await store.outbox.raise({
    id: `exception.raised:${id}`,
    type: 'exception.raised',
    subject: id,
    occurredAt: raisedAt,
    data: {
      exceptionId: id,
      code: error.code,
      message: error.message,
      remedy: error.remedy,
      owner: 'finance',
      record: { type: 'ErpPosting', id: posting._id },
      postingKey: posting.postingKey,
      postingKind: kindOf(posting),
      documentNumber: documentNumberOf(posting),
      invoiceId: posting.invoiceId,
      legalEntityCode: posting.legalEntityCode ?? null,
      ...details,
    },
  });
  return { id, code: error.code, raisedAt };
}

export async function resolveException(
  store: PostingsStore,
  posting: ErpPostingDoc,
  resolution: string,
): Promise<void> {
  const open = posting.openException;
  if (!open) return;
  await store.outbox.raise({
    id: `exception.resolved:${open.id}`,
    type: 'exception.resolved',
    subject: open.id,
    data: {
      exceptionId: open.id,
      code: open.code,
      resolution,
      record: { type: 'ErpPosting', id: posting._id },
      postingKey: posting.postingKey,
      documentNumber: documentNumberOf(posting),
    },
  });
}
