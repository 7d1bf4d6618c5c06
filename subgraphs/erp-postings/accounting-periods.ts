// Use cases: close and reopen accounting periods. Reopening releases the postings the closure held.
import { parsePeriod } from '../../lib/period';
import type { AccountingPeriodDoc, PostingsStore } from './store';

export interface AccountingPeriodView {
  key: string;
  status: AccountingPeriodDoc['status'];
  changedAt: Date | null;
}

const view = (key: string, doc: AccountingPeriodDoc | null): AccountingPeriodView => ({
  key,
  status: doc?.status ?? 'OPEN',
  changedAt: doc?.changedAt ?? null,
});

/** A period never closed is open. */
export async function accountingPeriod(store: PostingsStore, key: string): Promise<AccountingPeriodView> {
  const k = parsePeriod(key, 'key').key;
  return view(k, await store.periods.findOne({ _id: k }));
}

export async function closeAccountingPeriod(store: PostingsStore, key: string): Promise<AccountingPeriodView> {
  return setStatus(store, key, 'CLOSED');
}

export async function reopenAccountingPeriod(store: PostingsStore, key: string): Promise<AccountingPeriodView> {
  const period = await setStatus(store, key, 'OPEN');
  const held = await store.postings
    .find(
      { status: 'HELD', 'lastError.code': 'PERIOD_CLOSED', 'entry.accountingPeriod': period.key },
      { projection: { _id: 1 } },
    )
    .toArray();
  for (const { _id } of held) {
    await store.locks.run(_id, async () => {
      const posting = await store.postings.findOne({ _id });
      if (posting?.status !== 'HELD') return;
      const now = new Date();
      // Pending again: the posting worker sends it by itself.
      await store.postings.replaceOne(
        { _id },
        {
          ...posting,
          status: 'PENDING',
          nextAttemptAt: now,
          history: [
            ...posting.history,
            { at: now, outcome: 'RELEASED', code: 'PERIOD_REOPENED', message: `period ${period.key} reopened` },
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
  status: AccountingPeriodDoc['status'],
): Promise<AccountingPeriodView> {
  const k = parsePeriod(key, 'key').key;
  return store.locks.run(`period:${k}`, async () => {
    const current = await accountingPeriod(store, k);
    if (current.status === status) return current;
    const doc: AccountingPeriodDoc = { _id: k, status, changedAt: new Date() };
    await store.periods.replaceOne({ _id: k }, doc, { upsert: true });
    return view(k, doc);
  });
}
