// Use cases: close and reopen accounting periods. Reopening releases the postings the closure held.
import { parsePeriod } from '../../lib/period';
import type { AccountingPeriodDoc, PostingsStore } from './store';

export interface AccountingPeriodView {
  key: string;
  status: AccountingPeriodDoc['status'];
  changedAt: Date | null;
}

const view = (key: string, doc: AccountingPeriodDoc | null): AccountingPeriodView => ({ key, status: doc?.status ?? 'OPEN', changedAt: doc?.changedAt ?? null });

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
  const now = new Date();
  await store.postings.updateMany(
    { status: 'HELD', 'lastError.code': 'PERIOD_CLOSED', 'entry.accountingPeriod': period.key },
    { $set: { status: 'PENDING', nextAttemptAt: now }, $push: { history: { at: now, outcome: 'RELEASED', code: 'PERIOD_REOPENED', message: `period ${period.key} reopened` } } },
  );
  return period;
}

async function setStatus(store: PostingsStore, key: string, status: AccountingPeriodDoc['status']): Promise<AccountingPeriodView> {
  const current = await accountingPeriod(store, key);
  if (current.status === status) return current;
  const doc = await store.periods.findOneAndUpdate({ _id: current.key }, { $set: { status, changedAt: new Date() } }, { upsert: true, returnDocument: 'after' });
  return view(current.key, doc);
}
