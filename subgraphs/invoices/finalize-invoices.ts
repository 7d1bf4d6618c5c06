// Use case: finalize many drafts in one call (a billing run). Each goes through finalizeInvoice unchanged — its number
// claim is an insert per invoice and a series is gapless only if claimed in turn — so the batch saves the round trips
// through the gateway, not the guarantees. One invoice that cannot be finalized never stops the others.
import { GraphQLError } from 'graphql';
import { UserFacingError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { finalizeInvoice } from './finalize-invoice';
import type { InvoiceDoc, InvoicesStore } from './store';

/** The most invoices one call finalizes: a billing run sends several calls. */
export const MAX_FINALIZE_BATCH = 500;

export interface InvoiceFinalization {
  invoiceId: string;
  invoice: InvoiceDoc | null;
  code: string | null;
  message: string | null;
  expected: string | null;
}

export async function finalizeInvoices(
  store: InvoicesStore,
  invoiceIds: readonly string[],
  log: Logger,
): Promise<InvoiceFinalization[]> {
  if (invoiceIds.length > MAX_FINALIZE_BATCH)
    throw new UserFacingError(
      'LIMIT_EXCEEDED',
      `${invoiceIds.length} invoices in one call; at most ${MAX_FINALIZE_BATCH}`,
      {
        field: 'invoiceIds',
        expected: `at most ${MAX_FINALIZE_BATCH} ids per call (send several calls)`,
      },
    );
  const outcomes = new Map<string, InvoiceFinalization>();
  for (const invoiceId of new Set(invoiceIds)) {
    try {
      const invoice = await finalizeInvoice(store, invoiceId);
      outcomes.set(invoiceId, { invoiceId, invoice, code: null, message: null, expected: null });
    } catch (error) {
      outcomes.set(invoiceId, failed(invoiceId, error, log));
    }
  }
  return invoiceIds.map((id) => outcomes.get(id)!);
}

/** A user-facing error as the item's result; anything else is logged and reported without internals. */
function failed(invoiceId: string, error: unknown, log: Logger): InvoiceFinalization {
  const code = error instanceof GraphQLError ? error.extensions.code : undefined;
  if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR')
    return {
      invoiceId,
      invoice: null,
      code,
      message: (error as GraphQLError).message,
      expected: ((error as GraphQLError).extensions.expected as string | undefined) ?? null,
    };
  log.error({ err: error, invoiceId }, 'batch finalization: an invoice failed unexpectedly');
  return {
    invoiceId,
    invoice: null,
    code: 'FINALIZATION_FAILED',
    message: `invoice ${invoiceId} could not be finalized now; finalize it again`,
    expected: 'a retry',
  };
}
