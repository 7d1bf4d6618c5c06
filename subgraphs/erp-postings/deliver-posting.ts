// Delivery of a posting to the ERP: claim with a lease, check the period, send once, then POSTED, retry, dead letter or hold.
import { config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { repeatInBackground } from '../../lib/background';
import { withCorrelationId } from '../../lib/correlation';
import { ErpError, type ErpConnector } from './connectors';
import { claimRecord, releaseClaim } from '../../lib/claims';
import { retryDelayMs } from '../../lib/retry';
import type { ErpPostingDoc, PostingAttempt, PostingError, PostingsStore } from './store';
import { timeWork } from '../../lib/metrics';

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
    if (!posting || !isDue(posting, now)) return posting;
    const claim = await claimRecord(store.claims, 'postingId', postingId, policy.leaseMs, now);
    if (!claim) return posting;
    const sending: ErpPostingDoc = {
      ...posting,
      status: 'SENDING',
      attempts: posting.attempts + 1,
      lockedUntil: claim.expiresAt,
    };
    await store.postings.replaceOne({ _id: postingId }, sending);
    try {
      return await withCorrelationId(posting.correlationId, () => send(store, connector, policy, sending, log));
    } finally {
      await releaseClaim(store.claims, claim);
    }
  });
}

async function send(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  posting: ErpPostingDoc,
  log: Logger,
): Promise<ErpPostingDoc> {
  const finish = async (set: Partial<ErpPostingDoc>, entry: PostingAttempt) => {
    const done: ErpPostingDoc = { ...posting, ...set, lockedUntil: null, history: [...posting.history, entry] };
    // Told before it is written: should the write be cut short, the next delivery tells again under the same id.
    if (done.status === 'POSTED' || done.status === 'HELD' || done.status === 'DEAD_LETTER') {
      const type = { POSTED: 'posting.posted', HELD: 'posting.held', DEAD_LETTER: 'posting.dead_lettered' }[
        done.status
      ];
      await store.outbox.raise({
        id: `${type}:${done._id}:${done.attempts}`,
        type,
        subject: done._id,
        data: {
          postingId: done._id,
          postingKey: done.postingKey,
          invoiceId: done.invoiceId,
          invoiceNumber: done.invoiceNumber,
          status: done.status,
          erpDocument: done.erpDocument,
          error: done.lastError,
        },
      });
    }
    await store.postings.replaceOne({ _id: posting._id }, done);
    return done;
  };

  const period = await store.periods.findOne({ _id: posting.entry.accountingPeriod });
  if (period?.status === 'CLOSED') {
    const error: PostingError = {
      code: 'PERIOD_CLOSED',
      kind: 'BUSINESS',
      message: `accounting period ${period._id} is closed; the posting is held`,
      remedy: `reopen ${period._id} with reopenAccountingPeriod and the posting is sent by itself`,
    };
    log.warn({ postingId: posting._id, period: period._id }, 'posting held: accounting period closed');
    return finish({ status: 'HELD', lastError: error, nextAttemptAt: null }, attempt('HELD', error));
  }

  try {
    const already = await connector.findDocument(posting.postingKey);
    const document =
      already ??
      (await connector.post({
        postingKey: posting.postingKey,
        correlationId: posting.correlationId,
        entry: posting.entry,
      }));
    log.info(
      { postingId: posting._id, erpDocument: document.documentId, alreadyInErp: Boolean(already) },
      'posting delivered to the ERP',
    );
    return finish(
      { status: 'POSTED', erpDocument: document, postedAt: document.postedAt, lastError: null, nextAttemptAt: null },
      attempt(already ? 'ALREADY_IN_ERP' : 'POSTED'),
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
    const due = await store.postings
      .find(
        {
          $or: [
            { status: { $in: ['PENDING', 'RETRY_SCHEDULED'] }, nextAttemptAt: { $lte: now } },
            { status: 'SENDING', lockedUntil: { $lt: now } },
          ],
        },
        { projection: { _id: 1 } },
      )
      .sort({ nextAttemptAt: 1 })
      .limit(50)
      .toArray();
    for (const { _id } of due) {
      if (job.stopped) return;
      await timeWork('posting', () => deliverPosting(store, connector, policy, _id, log)).catch((error) =>
        log.error({ err: error, postingId: _id }, 'posting worker: delivery failed unexpectedly'),
      );
    }
  });
}
