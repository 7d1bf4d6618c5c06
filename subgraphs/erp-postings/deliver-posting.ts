// Delivery of a posting to the ERP: claim with a lease, check the period and the customer, send once, then POSTED,
// retry, dead letter or hold (with a business exception).
import type { Filter } from 'mongodb';
import { config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { repeatInBackground } from '../../lib/background';
import { withCorrelationId } from '../../lib/correlation';
import { ErpError, type ErpConnector } from './connectors';
import { claimRecord, releaseClaim } from '../../lib/claims';
import { retryDelayMs } from '../../lib/retry';
import { timeWork } from '../../lib/metrics';
import { isPeriodClosed } from './accounting-periods';
import { raiseException, resolveException } from './exceptions';
import {
  documentNumberOf,
  kindOf,
  type ErpPostingDoc,
  type PostingAttempt,
  type PostingError,
  type PostingsStore,
} from './store';

export interface DeliveryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  leaseMs: number;
}

export function deliveryPolicyFromEnvironment(): DeliveryPolicy {
  return {
    maxAttempts: config().ERP_MAX_ATTEMPTS,
    baseDelayMs: config().ERP_RETRY_BASE_MS,
    maxDelayMs: config().ERP_RETRY_MAX_MS,
    leaseMs: config().ERP_LEASE_MS,
  };
}

export { retryDelayMs };

const attempt = (
  outcome: PostingAttempt['outcome'],
  error?: Pick<PostingError, 'code' | 'message'>,
): PostingAttempt => ({ at: new Date(), outcome, code: error?.code ?? null, message: error?.message ?? null });

const isDue = (p: ErpPostingDoc, now: Date) =>
  ((p.status === 'PENDING' || p.status === 'RETRY_SCHEDULED') && p.nextAttemptAt !== null && p.nextAttemptAt <= now) ||
  (p.status === 'SENDING' && p.lockedUntil !== null && p.lockedUntil < now);

/**
 * Delivers the posting if it is due (or a sender's lease ran out) and nobody else holds it. Only the holder of the
 * delivery claim writes the posting until it releases the claim. Returns the posting as it ends up.
 */
export async function deliverPosting(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  postingId: string,
  log: Logger,
): Promise<ErpPostingDoc | null> {
  return store.locks.run(postingId, async () => {
    const posting = await store.postings.findOne({ _id: postingId });
    const now = new Date();
    if (!posting || !isDue(posting, now) || !posting.entry) return posting;
    const claim = await claimRecord(store.claims, 'postingId', postingId, policy.leaseMs, now);
    if (!claim) return posting;
    // Read again under the claim: a withdrawal that took the claim before us has had its say.
    const current = (await store.postings.findOne({ _id: postingId }))!;
    if (!isDue(current, now)) {
      await releaseClaim(store.claims, claim);
      return current;
    }
    const sending: ErpPostingDoc = {
      ...current,
      status: 'SENDING',
      attempts: current.attempts + 1,
      lockedUntil: claim.expiresAt,
    };
    await store.postings.replaceOne({ _id: postingId }, sending);
    try {
      return await withCorrelationId(current.correlationId, () => send(store, connector, policy, sending, log));
    } finally {
      await releaseClaim(store.claims, claim);
    }
  });
}

/**
 * Delivers like deliverPosting and, when another process holds the claim and is sending it right now, waits (at most
 * a lease, 10 s) for that attempt's outcome: the caller gets what became of it rather than a PENDING that is stale.
 */
export async function deliverAndAwait(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  postingId: string,
  log: Logger,
): Promise<ErpPostingDoc | null> {
  let posting = await deliverPosting(store, connector, policy, postingId, log);
  const deadline = Date.now() + Math.min(policy.leaseMs, 10_000);
  while (posting && (posting.status === 'PENDING' || posting.status === 'SENDING') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    posting = await store.postings.findOne({ _id: postingId });
  }
  return posting;
}

const EVENT_OF = { POSTED: 'posting.posted', HELD: 'posting.held', DEAD_LETTER: 'posting.dead_lettered' } as const;

type DeliveryEvent = { id: string; type: string; subject: string; data: Record<string, unknown> };

/**
 * What a delivery's outcome tells downstream: posted, held or dead-lettered (ids per attempt, so a repeat of the same
 * attempt tells once), and for a recognition its own recognition.posted. Shared by the single and the batch path.
 */
export function deliveryEvents(done: ErpPostingDoc): DeliveryEvent[] {
  if (done.status !== 'POSTED' && done.status !== 'HELD' && done.status !== 'DEAD_LETTER') return [];
  const type = EVENT_OF[done.status];
  const data = {
    postingId: done._id,
    postingKey: done.postingKey,
    kind: kindOf(done),
    invoiceId: done.invoiceId,
    noteId: done.noteId ?? null,
    documentNumber: documentNumberOf(done),
    invoiceNumber: done.invoiceNumber,
    status: done.status,
    erpDocument: done.erpDocument,
    error: done.lastError,
  };
  const events: DeliveryEvent[] = [{ id: `${type}:${done._id}:${done.attempts}`, type, subject: done._id, data }];
  if (done.status === 'POSTED' && kindOf(done) === 'REVENUE_RECOGNITION')
    events.push({
      id: `recognition.posted:${done._id}`,
      type: 'recognition.posted',
      subject: done._id,
      data: {
        ...data,
        month: done.source?.kind === 'REVENUE_RECOGNITION' ? done.source.month : null,
        entry: done.entry,
      },
    });
  return events;
}

async function send(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  posting: ErpPostingDoc,
  log: Logger,
): Promise<ErpPostingDoc> {
  const entry = posting.entry!;
  const finish = async (set: Partial<ErpPostingDoc>, step: PostingAttempt) => {
    let done: ErpPostingDoc = { ...posting, ...set, lockedUntil: null, history: [...posting.history, step] };
    if (done.status === 'HELD' && done.lastError?.kind === 'BUSINESS')
      done = { ...done, openException: await raiseException(store, posting, done.lastError) };
    if (done.status === 'POSTED' && posting.openException) {
      await resolveException(store, posting, {
        action: 'POSTED',
        words: 'posted',
        detail: 'the ERP took it after all',
        afterwards: `booked in the ledger as ${done.erpDocument?.documentId ?? posting.postingKey}`,
      });
      done = { ...done, openException: null };
    }
    // Told before it is written: should the write be cut short, the next delivery tells again under the same id.
    await store.outbox.raiseMany(deliveryEvents(done));
    await store.postings.replaceOne({ _id: posting._id }, done);
    return done;
  };

  const entity = posting.legalEntityCode ?? 'DEFAULT';
  if (await isPeriodClosed(store, entity, entry.accountingPeriod)) {
    const error: PostingError = {
      code: 'PERIOD_CLOSED',
      kind: 'BUSINESS',
      message: `accounting period ${entry.accountingPeriod} of ${entity} is closed; the posting is held`,
      remedy: `finance either books it in the next open period with postInNextOpenPeriod(postingId: "${posting._id}"), or reopens ${entry.accountingPeriod} with reopenAccountingPeriod and the posting is sent by itself`,
    };
    log.warn({ postingId: posting._id, period: entry.accountingPeriod }, 'posting held: accounting period closed');
    return finish({ status: 'HELD', lastError: error, nextAttemptAt: null }, attempt('HELD', error));
  }

  try {
    if (posting.erpCustomerAccount && !(await connector.customerExists(posting.erpCustomerAccount))) {
      const erpId = posting.erpCustomerAccount.split(':').pop();
      throw new ErpError(
        'BUSINESS',
        'ERP_CUSTOMER_UNKNOWN',
        `the ERP does not know customer "${erpId}" (no receivable account ${posting.erpCustomerAccount} in ${connector.system})`,
        `finance maps customer ${posting.customerId} to an id the ERP knows with setAccountMapping(input: { kind: ERP_CUSTOMER_ID, key: "${posting.customerId}", value: "<ERP id>" }), or creates the customer "${erpId}" in the ERP (hledger: declare account ${posting.erpCustomerAccount}); the posting is then sent by itself`,
      );
    }
    const { document, alreadyInErp } = await connector.post({
      postingKey: posting.postingKey,
      correlationId: posting.correlationId,
      entry,
      legalEntityCode: entity,
      kind: kindOf(posting),
    });
    log.info(
      { postingId: posting._id, erpDocument: document.documentId, alreadyInErp },
      'posting delivered to the ERP',
    );
    return finish(
      { status: 'POSTED', erpDocument: document, postedAt: document.postedAt, lastError: null, nextAttemptAt: null },
      attempt(alreadyInErp ? 'ALREADY_IN_ERP' : 'POSTED'),
    );
  } catch (caught) {
    const error =
      caught instanceof ErpError
        ? caught
        : new ErpError('TECHNICAL', 'ERP_UNEXPECTED', (caught as Error).message, 'retries by itself');
    const lastError: PostingError = {
      code: error.code,
      message: error.message,
      kind: error.kind,
      remedy: error.remedy ?? null,
    };
    if (error.kind === 'BUSINESS') {
      log.warn({ postingId: posting._id, err: error }, 'posting held: the ERP rejected it');
      return finish({ status: 'HELD', lastError, nextAttemptAt: null }, attempt('HELD', lastError));
    }
    if (posting.attempts >= policy.maxAttempts) {
      log.error(
        { postingId: posting._id, attempts: posting.attempts, err: error },
        'posting dead-lettered after its last retry',
      );
      return finish(
        {
          status: 'DEAD_LETTER',
          lastError: { ...lastError, remedy: 'replay it with replayErpPosting once the ERP is healthy' },
          nextAttemptAt: null,
        },
        attempt('DEAD_LETTER', lastError),
      );
    }
    const nextAttemptAt = new Date(Date.now() + retryDelayMs(posting.attempts, policy));
    log.warn(
      { postingId: posting._id, attempts: posting.attempts, nextAttemptAt, err: error },
      'posting failed; retry scheduled',
    );
    return finish({ status: 'RETRY_SCHEDULED', lastError, nextAttemptAt }, attempt('RETRY_SCHEDULED', lastError));
  }
}

/** Delivers whatever is due, one posting at a time; one failing posting never stops the others. */
export function startPostingWorker(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  log: Logger,
  intervalMs = config().ERP_POLL_MS,
): () => Promise<void> {
  return repeatInBackground('posting worker', intervalMs, log, async (job) => {
    const now = new Date();
    // Two queries, not one $or: each starts with a status the database looks up in the {status, nextAttemptAt} index,
    // where the $or made the embedded database read every posting ever made on every poll.
    const dueOf = (filter: Filter<ErpPostingDoc>) =>
      store.postings
        .find(filter, { projection: { _id: 1, nextAttemptAt: 1 } })
        .sort({ nextAttemptAt: 1 })
        .limit(50)
        .toArray();
    const due = [
      ...(await dueOf({ status: { $in: ['PENDING', 'RETRY_SCHEDULED'] }, nextAttemptAt: { $lte: now } })),
      ...(await dueOf({ status: 'SENDING', lockedUntil: { $lt: now } })),
    ]
      .sort((a, b) => (a.nextAttemptAt?.getTime() ?? 0) - (b.nextAttemptAt?.getTime() ?? 0))
      .slice(0, 50);
    for (const { _id } of due) {
      if (job.stopped) return;
      await timeWork('posting', () => deliverPosting(store, connector, policy, _id, log)).catch((error) =>
        log.error({ err: error, postingId: _id }, 'posting worker: delivery failed unexpectedly'),
      );
    }
  });
}
