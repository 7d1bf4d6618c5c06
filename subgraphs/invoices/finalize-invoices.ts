// Use case: finalize many drafts in one call (a billing run). The ordinary case is done in bulk under every invoice's
// record lock (and its period's progressive lock): reads batched with `$in`, each series' numbers claimed with ONE
// ordered insertMany of consecutive numbers against the unique ids, the invoices written with one insertMany, the
// events raised together. Anything else — a progressive draft, a running period, an outdated draft, a number another
// process took first, an unknown id — goes through finalizeInvoice unchanged, which claims one number at a time. One
// invoice that cannot be finalized never stops the others.
import { GraphQLError } from 'graphql';
import { config } from '../../lib/config';
import { UserFacingError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { parsePeriod } from '../../lib/period';
import { insertManyNew } from '../../lib/mongo';
import { Laps } from '../../lib/laps';
import { applyPrepaidCreditsToAll, creditAppliedOf } from './credit-wallets';
import { finalizeInvoice, finalizedEvent, finalizedWith, invoiceNumbers, numberSeriesOf } from './finalize-invoice';
import { progressiveLockKey } from './progressive-invoices';
import type { InvoiceDoc, InvoiceNumberDoc, InvoicesStore } from './store';

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
  const unique = [...new Set(invoiceIds)];
  const started = performance.now();
  const laps = new Laps();
  try {
    for (const invoice of await finalizeInBulk(store, unique, new Date(), laps))
      outcomes.set(invoice._id, { invoiceId: invoice._id, invoice, code: null, message: null, expected: null });
  } catch (error) {
    // Nothing the bulk pass did is lost: the single path finds each claim, invoice and event it wrote.
    log.warn({ err: error }, 'batch finalization: the bulk pass failed; finalizing one at a time');
  }
  const inBulk = outcomes.size;
  const bulkMs = Math.round(performance.now() - started);
  for (const invoiceId of unique) {
    if (outcomes.has(invoiceId)) continue;
    try {
      const invoice = await finalizeInvoice(store, invoiceId);
      outcomes.set(invoiceId, { invoiceId, invoice, code: null, message: null, expected: null });
    } catch (error) {
      outcomes.set(invoiceId, failed(invoiceId, error, log));
    }
  }
  if (config().ERP_BATCH_TIMINGS)
    log.warn(
      {
        invoices: unique.length,
        inBulk,
        ms: { ...laps.steps, bulk: bulkMs, singly: Math.round(performance.now() - started) - bulkMs },
      },
      'batch finalization timings',
    );
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

/**
 * The ordinary drafts of the batch (final invoices of ended periods), finalized together; returns the invoices it
 * finalized (or found finalized). Whatever it leaves out is for the single path.
 */
async function finalizeInBulk(
  store: InvoicesStore,
  ids: readonly string[],
  now: Date,
  laps: Laps,
): Promise<InvoiceDoc[]> {
  if (ids.length === 0) return [];
  // Read before locking only to know which locks to take; everything is read again under them.
  const candidates = (
    await store.drafts
      .find({ _id: { $in: [...ids] } }, { projection: { kind: 1, periodKey: 1, subscriptionId: 1 } })
      .toArray()
  ).filter((d) => d.kind !== 'PROGRESSIVE' && parsePeriod(d.periodKey).end <= now);
  if (candidates.length === 0) return [];
  const lockKeys = new Set(candidates.map((d) => progressiveLockKey(d.subscriptionId, d.periodKey)));
  const candidateIds = candidates.map((d) => d._id);
  // The same locks as finalizeInvoice: the invoice's, and its period's so no progressive invoice is issued meanwhile.
  laps.lap('drafts');
  return store.locks.runAll([...candidateIds, ...lockKeys], async () => {
    laps.lap('locks');
    const alreadyFinalized = await store.invoices.find({ _id: { $in: candidateIds } }).toArray();
    const finalizedIds = new Set(alreadyFinalized.map((i) => i._id));
    const drafts = (
      await store.drafts.find({ _id: { $in: candidateIds.filter((id) => !finalizedIds.has(id)) } }).toArray()
    ).filter(
      (d) =>
        d.kind !== 'PROGRESSIVE' &&
        parsePeriod(d.periodKey).end <= now &&
        lockKeys.has(progressiveLockKey(d.subscriptionId, d.periodKey)),
    );
    // A draft outdated by a progressive invoice is left to the single path, which answers DRAFT_OUTDATED.
    const progressive = drafts.length
      ? await store.invoices
          .find({
            subscriptionId: { $in: [...new Set(drafts.map((d) => d.subscriptionId))] },
            kind: 'PROGRESSIVE',
            status: 'FINALIZED',
          })
          .toArray()
      : [];
    const latest = new Map<string, InvoiceDoc>();
    for (const p of progressive) {
      const key = progressiveLockKey(p.subscriptionId, p.periodKey);
      const seen = latest.get(key);
      if (!seen || (p.usageThreshold?.index ?? 0) > (seen.usageThreshold?.index ?? 0)) latest.set(key, p);
    }
    // Numbered in the order asked, as one call after another would number them.
    const order = new Map(ids.map((id, i) => [id, i]));
    drafts.sort((a, b) => order.get(a._id)! - order.get(b._id)!);
    const current = drafts.filter(
      (d) =>
        (latest.get(progressiveLockKey(d.subscriptionId, d.periodKey))?._id ?? null) ===
        (d.alreadyBilledBasisId ?? null),
    );
    laps.lap('reads');
    const claims = await claimNumbers(store, current, now);
    laps.lap('numbers');
    const invoices = current.filter((d) => claims.has(d._id)).map((d) => finalizedWith(d, claims.get(d._id)!));
    const written = await insertAbsent(store, invoices);
    if (written.length > 0) await store.drafts.deleteMany({ _id: { $in: written.map((i) => i._id) } });
    const lost = new Set(invoices.filter((i) => !written.includes(i)).map((i) => i._id));
    // Another writer's invoice is the one stored: read it back, like the single path.
    const stored = lost.size ? await store.invoices.find({ _id: { $in: [...lost] } }).toArray() : [];
    laps.lap('writes');
    const announcedAll = await announceAll(store, [...alreadyFinalized, ...written, ...stored]);
    laps.lap('announce');
    return announcedAll;
  });
}

/**
 * Every draft's number, each series' claimed with one insert (NumberSeries.claimMany); drafts left out are for the
 * single path's one-at-a-time claim.
 */
function claimNumbers(
  store: InvoicesStore,
  drafts: readonly InvoiceDoc[],
  now: Date,
): Promise<Map<string, InvoiceNumberDoc>> {
  return invoiceNumbers(store).claimMany(
    drafts.map((d) => ({ owner: d._id, series: numberSeriesOf(d, now) })),
    now,
  );
}

/** Inserts the finalized invoices; returns those written by this call (an id already there was written by another). */
async function insertAbsent(store: InvoicesStore, invoices: readonly InvoiceDoc[]): Promise<InvoiceDoc[]> {
  const taken = await insertManyNew(store.invoices, invoices);
  return invoices.filter((_, i) => !taken.has(i));
}

/** Applies prepaid credit (in batch order within a wallet, wallets side by side), then raises every event at once. */
async function announceAll(store: InvoicesStore, invoices: readonly InvoiceDoc[]): Promise<InvoiceDoc[]> {
  const applied = await applyPrepaidCreditsToAll(store, invoices);
  await store.outbox.raiseMany(
    invoices.map((invoice, i) => finalizedEvent(invoice, creditAppliedOf(invoice, applied[i]!))),
  );
  return [...invoices];
}
