// Use case: once the usage type or the customer mapping is fixed, run quarantined events through ingestion again.
import { notFound } from '../../lib/errors';
import { ingestUsageEvents, type EventResult } from './ingest-usage-events';
import type { QuarantinedEventDoc, UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export interface ReplayResult extends EventResult {
  quarantineId: string;
}

export async function replayQuarantinedEvents(
  store: UsageStore,
  registry: UsageTypeRegistry,
  ids: readonly string[],
  correlationId: string,
): Promise<ReplayResult[]> {
  const docs = new Map((await store.quarantine.find({ _id: { $in: [...ids] } }).toArray()).map((d) => [d._id, d]));
  const missing = ids.findIndex((id) => !docs.has(id));
  if (missing >= 0) throw notFound('quarantined event', `ids[${missing}]`, ids[missing]!);
  const entries = ids.map((id) => docs.get(id)!);
  const { results } = await ingestUsageEvents(
    store,
    registry,
    entries.map((d) => d.payload),
    correlationId,
    { quarantineRejected: false },
  );
  const now = new Date();
  await store.locks.run('quarantine', async () => {
    for (const [k, r] of results.entries()) {
      const entry = entries[k]!;
      const updated: QuarantinedEventDoc =
        r.status === 'REJECTED'
          ? { ...entry, problems: r.problems }
          : { ...entry, status: 'RESOLVED', resolution: { status: r.status, usageEventId: r.usageEventId, at: now } };
      await store.quarantine.replaceOne({ _id: entry._id }, updated);
    }
  });
  return results.map((r, k) => ({ ...r, quarantineId: entries[k]!._id }));
}
