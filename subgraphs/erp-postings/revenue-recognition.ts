// Revenue recognition: fees billed in advance were credited to deferred revenue with a schedule of monthly portions
// (prorated by day). Once a month has ended, each document's portion becomes its own recognition posting — debit
// deferred revenue, credit revenue — keyed by document and month, so recognizing a month twice posts once.
import { config } from '../../lib/config';
import { UserFacingError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { repeatInBackground } from '../../lib/background';
import { parsePeriod, periodOf } from '../../lib/period';
import type { ErpConnector } from './connectors';
import type { DeliveryPolicy } from './deliver-posting';
import { postPrepared, type Prepared, type PreparedDocument } from './post-batch';
import { postingIdOf, recognitionPostingKey } from './post-document';
import type { ErpPostingDoc, PostingsStore, RevenueSchedulePortionDoc } from './store';

export interface RecognitionRun {
  month: string;
  postings: ErpPostingDoc[];
  recognized: number;
  waiting: number;
}

/** Portions per batch: one ledger look-up each (the ledger's listing costs more as its journal grows). */
const RECOGNITION_BATCH = 200;

/** The recognition posting a portion becomes, in the shape the batch path builds. */
const preparedRecognition = (portion: RevenueSchedulePortionDoc, deferral: ErpPostingDoc): PreparedDocument => ({
  postingKey: recognitionPostingKey(portion.documentId, portion.month),
  kind: 'REVENUE_RECOGNITION',
  invoiceId: portion.invoiceId,
  noteId: null,
  documentNumber: portion.documentNumber,
  legalEntityCode: portion.legalEntityCode,
  customerId: portion.customer.id,
  source: {
    kind: 'REVENUE_RECOGNITION',
    portionId: portion._id,
    documentId: portion.documentId,
    documentNumber: portion.documentNumber,
    invoiceId: portion.invoiceId,
    legalEntityCode: portion.legalEntityCode,
    currency: portion.currency,
    month: portion.month,
    customer: portion.customer,
    documentPostingDate: deferral.entry?.postingDate ?? portion.documentPostingDate,
    lines: portion.lines,
  },
});

/**
 * Recognizes a batch of portions through the batch posting path: one read of the postings and deferrals, one bulk
 * claim and insert, ONE ledger look-up for the batch's writes (the single path looked the ledger up for every
 * portion, and a listing of a journal of thousands of entries takes a second). A portion already recognized returns
 * its posting; one whose deferral is not in the ledger yet waits.
 */
async function recognizePortions(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  portions: readonly RevenueSchedulePortionDoc[],
  correlationId: string,
  log: Logger,
  run: RecognitionRun,
): Promise<void> {
  const idOf = (p: RevenueSchedulePortionDoc) => postingIdOf(recognitionPostingKey(p.documentId, p.month));
  const ids = [...portions.map(idOf), ...portions.map((p) => p.documentPostingId)];
  const known = new Map((await store.postings.find({ _id: { $in: ids } }).toArray()).map((p) => [p._id, p]));
  const prepared: Prepared[] = [];
  const recognized: Array<{ portion: RevenueSchedulePortionDoc; posting: ErpPostingDoc }> = [];
  for (const portion of portions) {
    const existing = known.get(idOf(portion));
    const deferral = known.get(portion.documentPostingId);
    if (existing) recognized.push({ portion, posting: existing });
    // Never before the deferral itself is in the ledger.
    else if (deferral?.status !== 'POSTED') run.waiting++;
    else prepared.push({ documentId: portion._id, doc: preparedRecognition(portion, deferral) });
  }
  const results =
    prepared.length > 0 ? await postPrepared(store, connector, policy, prepared, new Map(), correlationId, log) : [];
  const byPortion = new Map(portions.map((p) => [p._id, p]));
  for (const result of results) {
    const portion = byPortion.get(result.documentId)!;
    if (result.posting) {
      recognized.push({ portion, posting: result.posting });
      run.recognized++;
    } else {
      // Not posted and not held (those have a posting): tried again on the worker's next pass.
      log.error({ portionId: portion._id, code: result.code, message: result.message }, 'revenue recognition failed');
      run.waiting++;
    }
  }
  const marking = recognized.filter(({ portion }) => portion.status !== 'RECOGNIZED');
  if (marking.length > 0)
    await store.schedule.bulkWrite(
      marking.map(({ portion, posting }) => ({
        updateOne: {
          filter: { _id: portion._id },
          update: { $set: { status: 'RECOGNIZED' as const, recognitionPostingId: posting._id } },
        },
      })),
      { ordered: false },
    );
  run.postings.push(...recognized.map((r) => r.posting));
}

export async function recognizeRevenue(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  month: string,
  legalEntityCode: string | null | undefined,
  correlationId: string,
  log: Logger,
  now = new Date(),
): Promise<RecognitionRun> {
  const period = parsePeriod(month, 'month');
  if (period.end > now) {
    throw new UserFacingError(
      'PERIOD_NOT_ENDED',
      `${period.key} has not ended; its revenue is recognized once it has`,
      {
        field: 'month',
        expected: `a month before ${periodOf(now).key}`,
      },
    );
  }
  const portions = await store.schedule
    .find({ month: period.key, ...(legalEntityCode ? { legalEntityCode } : {}) })
    .sort({ _id: 1 })
    .toArray();
  const run: RecognitionRun = { month: period.key, postings: [], recognized: 0, waiting: 0 };
  const open = portions.filter((p) => p.status !== 'CANCELLED');
  for (let i = 0; i < open.length; i += RECOGNITION_BATCH)
    await recognizePortions(store, connector, policy, open.slice(i, i + RECOGNITION_BATCH), correlationId, log, run);
  run.postings.sort((a, b) => a._id.localeCompare(b._id));
  return run;
}

/** Recognizes every month that has ended and still has scheduled portions, once a minute by default. */
export function startRecognitionWorker(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  log: Logger,
  intervalMs = config().REVENUE_RECOGNITION_POLL_MS,
): () => Promise<void> {
  return repeatInBackground('revenue recognition', intervalMs, log, async (job) => {
    const current = periodOf(new Date()).key;
    const due = await store.schedule
      .find({ status: 'SCHEDULED', month: { $lt: current } }, { projection: { month: 1 } })
      .limit(500)
      .toArray();
    for (const month of [...new Set(due.map((d) => d.month))].sort()) {
      if (job.stopped) return;
      await recognizeRevenue(store, connector, policy, month, null, 'revenue-recognition', log);
    }
  });
}
