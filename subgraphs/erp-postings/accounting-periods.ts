// Use cases: close and reopen accounting periods, group-wide or per legal entity, and finance's other answer to a
// posting held by a closed period: book it in the next open period, keeping both dates and the reason.
import { UserFacingError, notFound } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { parsePeriod, periodOf } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { policyOf } from './accruals';
import { resolveException } from './exceptions';
import type { AccountingPeriodDoc, ErpPostingDoc, PostingsStore } from './store';

export interface AccountingPeriodView {
  key: string;
  legalEntityCode: string | null;
  status: AccountingPeriodDoc['status'];
  changedAt: Date | null;
}

const idOf = (key: string, legalEntityCode: string | null | undefined) =>
  legalEntityCode ? `${key}@${legalEntityCode}` : key;

export const periodView = (doc: AccountingPeriodDoc): AccountingPeriodView => ({
  key: doc.key ?? doc._id.split('@')[0]!,
  legalEntityCode: doc.legalEntityCode ?? null,
  status: doc.status,
  changedAt: doc.changedAt,
});

/** An entity's period is closed when it is closed for the entity or for the whole group. */
export async function isPeriodClosed(store: PostingsStore, legalEntityCode: string, key: string): Promise<boolean> {
  const docs = await store.periods.find({ _id: { $in: [key, idOf(key, legalEntityCode)] } }).toArray();
  return docs.some((d) => d.status === 'CLOSED');
}

/** A period never closed is open. */
export async function accountingPeriod(
  store: PostingsStore,
  key: string,
  legalEntityCode?: string | null,
): Promise<AccountingPeriodView> {
  const k = parsePeriod(key, 'key').key;
  if (legalEntityCode) {
    const closed = await isPeriodClosed(store, legalEntityCode, k);
    const own = await store.periods.findOne({ _id: idOf(k, legalEntityCode) });
    return { key: k, legalEntityCode, status: closed ? 'CLOSED' : 'OPEN', changedAt: own?.changedAt ?? null };
  }
  const doc = await store.periods.findOne({ _id: k });
  return doc ? periodView(doc) : { key: k, legalEntityCode: null, status: 'OPEN', changedAt: null };
}

export async function closeAccountingPeriod(
  store: PostingsStore,
  key: string,
  legalEntityCode: string | null | undefined,
  log: Logger,
  accrual?: { accrue(period: string, legalEntityCode: string): Promise<unknown> },
): Promise<AccountingPeriodView> {
  const k = parsePeriod(key, 'key').key;
  // What the note policy holds for period close is issued (and posted) before the period shuts.
  try {
    await querySubgraph(
      'invoices',
      'mutation($e: String) { issueNotesByPolicy(legalEntityCode: $e, trigger: AT_PERIOD_CLOSE) { invoiceId status } }',
      { e: legalEntityCode ?? null },
    );
  } catch (error) {
    log.warn({ err: error, period: k }, 'notes due at period close could not be issued; closing the period anyway');
  }
  // Usage earned but not invoiced is accrued into the period before it shuts, where the entity's policy says so.
  const entities = legalEntityCode
    ? [legalEntityCode]
    : (await store.policies.find({ accrueUnbilledUsage: true }).toArray()).map((p) => p._id);
  for (const entity of entities) {
    if (accrual && (await policyOf(store, entity)).accrueUnbilledUsage)
      await accrual
        .accrue(k, entity)
        .catch((error) => log.warn({ err: error, period: k, entity }, 'accrual at period close failed'));
  }
  return setStatus(store, k, legalEntityCode ?? null, 'CLOSED');
}

export async function reopenAccountingPeriod(
  store: PostingsStore,
  key: string,
  legalEntityCode: string | null | undefined,
  reopenedBy: string | null = null,
): Promise<AccountingPeriodView> {
  const k = parsePeriod(key, 'key').key;
  const period = await setStatus(store, k, legalEntityCode ?? null, 'OPEN');
  const held = await store.postings
    .find(
      {
        status: 'HELD',
        'lastError.code': 'PERIOD_CLOSED',
        'entry.accountingPeriod': k,
        ...(legalEntityCode ? { legalEntityCode } : {}),
      },
      { projection: { _id: 1 } },
    )
    .toArray();
  for (const { _id } of held) {
    await store.locks.run(_id, async () => {
      const posting = await store.postings.findOne({ _id });
      if (posting?.status !== 'HELD' || !posting.entry) return;
      // Still closed for its entity (e.g. the group reopened, the entity did not): it stays held.
      if (await isPeriodClosed(store, posting.legalEntityCode ?? 'DEFAULT', k)) return;
      const now = new Date();
      await resolveException(store, posting, {
        action: 'PERIOD_REOPENED',
        words: `period ${k} reopened`,
        detail: `accounting period ${k}${legalEntityCode ? ` of ${legalEntityCode}` : ''} reopened`,
        by: reopenedBy,
      });
      // Pending again: the posting worker sends it by itself.
      await store.postings.replaceOne(
        { _id },
        {
          ...posting,
          status: 'PENDING',
          nextAttemptAt: now,
          openException: null,
          history: [
            ...posting.history,
            { at: now, outcome: 'RELEASED', code: 'PERIOD_REOPENED', message: `period ${k} reopened` },
          ],
        },
      );
    });
  }
  return period;
}

async function setStatus(
  store: PostingsStore,
  key: string,
  legalEntityCode: string | null,
  status: AccountingPeriodDoc['status'],
): Promise<AccountingPeriodView> {
  const _id = idOf(key, legalEntityCode);
  return store.locks.run(`period:${_id}`, async () => {
    const current = await store.periods.findOne({ _id });
    if ((current?.status ?? 'OPEN') === status)
      return current ? periodView(current) : { key, legalEntityCode, status, changedAt: null };
    const doc: AccountingPeriodDoc = { _id, key, legalEntityCode, status, changedAt: new Date() };
    await store.periods.replaceOne({ _id }, doc, { upsert: true });
    return periodView(doc);
  });
}

/** The first period after `key` that is open for the entity (at most ten years on). */
export async function nextOpenPeriod(store: PostingsStore, legalEntityCode: string, key: string): Promise<string> {
  let period = parsePeriod(key);
  for (let i = 0; i < 120; i++) {
    period = periodOf(period.end);
    if (!(await isPeriodClosed(store, legalEntityCode, period.key))) return period.key;
  }
  throw new UserFacingError('PERIOD_CLOSED', `no open period in the ten years after ${key}`, {
    field: 'postingId',
    expected: 'an open period after the closed one (reopen one with reopenAccountingPeriod)',
  });
}

/** Moves a posting held by a closed period to the first day of the next open period; both dates stay on the entry. */
export async function postInNextOpenPeriod(
  store: PostingsStore,
  postingId: string,
  decidedBy: string,
): Promise<ErpPostingDoc> {
  return store.locks.run(postingId, async () => {
    const posting = await store.postings.findOne({ _id: postingId });
    if (!posting) throw notFound('ERP posting', 'postingId', postingId);
    if (posting.status !== 'HELD' || posting.lastError?.code !== 'PERIOD_CLOSED' || !posting.entry) {
      throw new UserFacingError(
        'CONFLICT',
        `posting ${postingId} is ${posting.status}${posting.lastError ? ` (${posting.lastError.code})` : ''}, not held by a closed period`,
        { field: 'postingId', expected: 'a HELD posting whose lastError.code is PERIOD_CLOSED' },
      );
    }
    const requested = posting.entry.requestedPeriod ?? posting.entry.accountingPeriod;
    const effective = await nextOpenPeriod(store, posting.legalEntityCode ?? 'DEFAULT', posting.entry.accountingPeriod);
    const now = new Date();
    const moved: ErpPostingDoc = {
      ...posting,
      entry: {
        ...posting.entry,
        postingDate: `${effective}-01`,
        accountingPeriod: effective,
        requestedPeriod: requested,
        periodMoveReason: `closed→next-open: ${requested} was closed; ${decidedBy} chose the next open period`,
      },
      status: 'PENDING',
      attempts: 0,
      nextAttemptAt: now,
      openException: null,
      history: [
        ...posting.history,
        {
          at: now,
          outcome: 'RELEASED',
          code: 'MOVED_TO_NEXT_OPEN_PERIOD',
          message: `moved from ${posting.entry.accountingPeriod} to ${effective} by ${decidedBy}`,
        },
      ],
    };
    await resolveException(store, posting, {
      action: 'POSTED_IN_NEXT_OPEN_PERIOD',
      words: `booked in the next open period ${effective}`,
      detail: `moved from the closed period ${requested} to the next open one, ${effective} (its document date is kept)`,
      afterwards: `sent to the ledger now, dated ${effective}-01`,
      by: decidedBy,
    });
    await store.postings.replaceOne({ _id: postingId }, moved);
    return moved;
  });
}
