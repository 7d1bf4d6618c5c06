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
import { createPosting, postingIdOf, recognitionPostingKey } from './post-document';
import type { ErpPostingDoc, PostingsStore, RevenueSchedulePortionDoc } from './store';

export interface RecognitionRun {
  month: string;
  postings: ErpPostingDoc[];
  recognized: number;
  waiting: number;
}

async function recognizePortion(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  portion: RevenueSchedulePortionDoc,
  correlationId: string,
  log: Logger,
): Promise<{ posting: ErpPostingDoc | null; made: boolean }> {
  const postingKey = recognitionPostingKey(portion.documentId, portion.month);
  const existing = await store.postings.findOne({ _id: postingIdOf(postingKey) });
  if (existing) return { posting: existing, made: false };
  // Never before the deferral itself is in the ledger.
  const deferral = await store.postings.findOne({ _id: portion.documentPostingId });
  if (deferral?.status !== 'POSTED') return { posting: null, made: false };
  const posting = await createPosting(store, connector, policy, log, {
    postingKey,
    kind: 'REVENUE_RECOGNITION',
    invoiceId: portion.invoiceId,
    noteId: null,
    documentNumber: portion.documentNumber,
    legalEntityCode: portion.legalEntityCode,
    customerId: portion.customer.id,
    correlationId,
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
  await store.schedule.updateOne(
    { _id: portion._id },
    { $set: { status: 'RECOGNIZED', recognitionPostingId: posting._id } },
  );
  return { posting, made: true };
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
  for (const portion of portions) {
    if (portion.status === 'CANCELLED') continue;
    const done = await store.locks.run(`recognize:${portion._id}`, () =>
      recognizePortion(store, connector, policy, portion, correlationId, log),
    );
    if (!done.posting) run.waiting++;
    else run.postings.push(done.posting);
    if (done.made) run.recognized++;
  }
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
