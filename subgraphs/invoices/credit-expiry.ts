// Prepaid credit expires in the background: a periodic pass closes every grant past its expiry that still has credit
// (the EXPIRY movement is an insert under the business key `expire:<grant>:<n>`, so replicas and retries write it
// once) and has each expiry posted through erp-postings' postPrepaidCreditMovement, without anyone reading the wallet.
import { config } from '../../lib/config';
import { repeatInBackground } from '../../lib/background';
import { newCorrelationId, withCorrelationId } from '../../lib/correlation';
import { isDuplicateKeyError } from '../../lib/mongo';
import { querySubgraph } from '../../lib/subgraph-client';
import type { Logger } from '../../lib/logger';
import { expireDueCredits, movementsOf } from './credit-wallets';
import type { CreditMovementDoc } from './prepaid-credits';
import type { InvoicesStore } from './store';

/** Where a pass stopped: the last grant (by expiry, then id) whose expiries are written and posted. */
export interface ExpiryWatermark {
  expiresAt: Date;
  movementId: string;
}

const PAGE = 200;

/** Grant movements whose expiry has come, after the watermark, oldest expiry first. */
async function expiredGrants(
  store: InvoicesStore,
  now: Date,
  after: ExpiryWatermark | null,
): Promise<CreditMovementDoc[]> {
  const since = after
    ? {
        $or: [
          { 'grant.expiresAt': { $gt: after.expiresAt, $lte: now } },
          { 'grant.expiresAt': after.expiresAt, _id: { $gt: after.movementId } },
        ],
      }
    : { 'grant.expiresAt': { $lte: now } };
  return store.creditMovements
    .find({ kind: 'GRANT', ...since })
    .sort({ 'grant.expiresAt': 1, _id: 1 })
    .limit(PAGE)
    .toArray();
}

/** Posts an expiry movement once: the marker is inserted after erp-postings took it (its posting is idempotent too). */
async function postExpiry(store: InvoicesStore, movement: CreditMovementDoc): Promise<void> {
  if (await store.creditExpiryPostings.findOne({ _id: movement._id })) return;
  const { postPrepaidCreditMovement } = await querySubgraph<{ postPrepaidCreditMovement: { id: string } }>(
    'erp-postings',
    'mutation($id: ID!) { postPrepaidCreditMovement(movementId: $id) { id } }',
    { id: movement._id },
  );
  await store.creditExpiryPostings
    .insertOne({ _id: movement._id, postingId: postPrepaidCreditMovement.id, postedAt: new Date() })
    .catch((error: unknown) => {
      if (!isDuplicateKeyError(error)) throw error;
    });
}

/**
 * One pass: every grant expired by `now` (after the watermark) gets its EXPIRY movement if credit is left, and every
 * expiry of it is posted. Returns the expiries written now and the new watermark; a failure stops the pass where it
 * is, so the next pass starts again at that grant.
 */
export async function expireCreditsInBackground(
  store: InvoicesStore,
  now: Date,
  after: ExpiryWatermark | null,
  log: Logger,
  stopped: () => boolean = () => false,
): Promise<{ written: CreditMovementDoc[]; watermark: ExpiryWatermark | null }> {
  const written: CreditMovementDoc[] = [];
  let watermark = after;
  for (;;) {
    const grants = await expiredGrants(store, now, watermark);
    for (const grant of grants) {
      if (stopped()) return { written, watermark };
      const correlationId = newCorrelationId();
      const wallet = { id: grant.walletId, customerId: grant.customerId, currency: grant.currency };
      const by = { recordedBy: 'credit-expiry', correlationId };
      const grantId = grant.grant!.grantId;
      try {
        await withCorrelationId(correlationId, async () => {
          written.push(...(await expireDueCredits(store, wallet, now, by)));
          const expiries = (await movementsOf(store, wallet.id)).filter(
            (m) => m.kind === 'EXPIRY' && m.allocations[0]?.grantId === grantId,
          );
          for (const expiry of expiries) await postExpiry(store, expiry);
        });
      } catch (error) {
        log.warn({ err: error, grantId, walletId: wallet.id }, 'expired credit could not be closed or posted yet');
        return { written, watermark };
      }
      watermark = { expiresAt: grant.grant!.expiresAt!, movementId: grant._id };
    }
    if (grants.length < PAGE) return { written, watermark };
  }
}

/** Every CREDIT_EXPIRY_MS: close and post the credit whose expiry has come since the last pass. */
export function startCreditExpiryWorker(
  store: InvoicesStore,
  log: Logger,
  intervalMs = config().CREDIT_EXPIRY_MS,
): () => Promise<void> {
  // In memory only: after a restart the first pass looks at every expired grant once more (idempotent, and the
  // posted markers make it cheap).
  let watermark: ExpiryWatermark | null = null;
  return repeatInBackground('expiring prepaid credit', intervalMs, log, async (job) => {
    const pass = await expireCreditsInBackground(store, new Date(), watermark, log, () => job.stopped);
    watermark = pass.watermark;
    if (pass.written.length > 0) log.info({ expiries: pass.written.length }, 'prepaid credit expired');
  });
}
