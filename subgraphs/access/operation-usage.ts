// Use cases: the record of operations clients send, for schema checks against real traffic. Each gateway instance
// counts in memory and writes its own records (one per operation, client, contract and day); no two processes ever
// write the same record, so a plain upsert is safe on every database, and readers sum across instances.
import { config } from '../../lib/config';
import { deterministicId } from '../../lib/ids';
import { UserFacingError } from '../../lib/errors';
import type { AccessStore, OperationUsageDoc } from './store';

export interface OperationUsageInput {
  day: string;
  signature: string;
  operationName?: string | null;
  document: string;
  coordinates: string[];
  client: string;
  contract: string;
  instance: string;
  count: number;
}

/** Records kept per instance and day at most; the gateway stops adding new operations beyond it (bounded size). */
export const MAX_OPERATIONS_PER_DAY = 5_000;
export const RETENTION_DAYS = (): number => config().USAGEGRAPH_OPERATION_RETENTION_DAYS;

export async function recordOperationUsage(store: AccessStore, records: OperationUsageInput[]): Promise<number> {
  const now = new Date();
  for (const r of records) {
    const _id = deterministicId('opu', r.day, r.signature, r.client, r.contract, r.instance);
    const doc: OperationUsageDoc = {
      _id,
      day: r.day,
      signature: r.signature,
      operationName: r.operationName ?? null,
      document: r.document.slice(0, 20_000),
      coordinates: r.coordinates.slice(0, 2_000),
      client: r.client.slice(0, 200),
      contract: r.contract,
      instance: r.instance,
      count: r.count,
      updatedAt: now,
    };
    // The instance sends its running total for the day; only it writes this record.
    await store.operations.replaceOne({ _id }, doc, { upsert: true });
  }
  return records.length;
}

export interface OperationUsageView {
  signature: string;
  operationName: string | null;
  document: string;
  coordinates: string[];
  client: string;
  contract: string;
  count: number;
  lastSeen: string;
}

const dayKey = (d: Date) => d.toISOString().slice(0, 10);

export async function operationUsage(store: AccessStore, days: number): Promise<OperationUsageView[]> {
  if (!Number.isInteger(days) || days < 1 || days > 366) {
    throw new UserFacingError('VALIDATION_FAILED', `days: ${days} is out of range`, {
      field: 'days',
      expected: 'an integer from 1 to 366',
    });
  }
  const since = dayKey(new Date(Date.now() - (days - 1) * 86_400_000));
  const docs = await store.operations.find({ day: { $gte: since } }).toArray();
  const summed = new Map<string, OperationUsageView>();
  for (const d of docs) {
    const key = `${d.signature}\u001f${d.client}\u001f${d.contract}`;
    const seen = summed.get(key);
    if (seen) {
      seen.count += d.count;
      if (d.day > seen.lastSeen) seen.lastSeen = d.day;
    } else {
      summed.set(key, {
        signature: d.signature,
        operationName: d.operationName,
        document: d.document,
        coordinates: d.coordinates,
        client: d.client,
        contract: d.contract,
        count: d.count,
        lastSeen: d.day,
      });
    }
  }
  return [...summed.values()].sort(
    (a, b) => b.count - a.count || a.signature.localeCompare(b.signature) || a.client.localeCompare(b.client),
  );
}

/** Forgets days older than the retention, so the record stays bounded. */
export async function pruneOperationUsage(store: AccessStore): Promise<number> {
  const cutoff = dayKey(new Date(Date.now() - RETENTION_DAYS() * 86_400_000));
  const { deletedCount } = await store.operations.deleteMany({ day: { $lt: cutoff } });
  return deletedCount;
}
