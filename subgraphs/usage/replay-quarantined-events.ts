// Use case: once the usage type or the customer mapping is fixed, run quarantined events through ingestion again.
import { notFound, type Problem } from '../../lib/errors';
import { ingestUsageEvents, type EventResult } from './ingest-usage-events';
import type { QuarantinedEventDoc, UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';
import { settleQuarantineGroups } from './work-queue-exceptions';

export interface ReplayResult extends EventResult {
  quarantineId: string;
}

export async function replayQuarantinedEvents(
  store: UsageStore,
  registry: UsageTypeRegistry,
  ids: readonly string[],
  correlationId: string,
  actor: string | null = null,
): Promise<ReplayResult[]> {
  const docs = new Map((await store.quarantine.find({ _id: { $in: [...ids] } }).toArray()).map((d) => [d._id, d]));
  const missing = ids.findIndex((id) => !docs.has(id));
  if (missing >= 0) throw notFound('quarantined event', `ids[${missing}]`, ids[missing]!);
  const entries = ids.map((id) => docs.get(id)!);
  const rejectedUpfront = new Map<number, Problem[]>();
  const payloads = entries.map((d, i) => {
    const sent = sentPayload(d);
    if (!sent.ok) rejectedUpfront.set(i, [{ ...sent.problem, field: `events[${i}]` }]);
    return sent.ok ? sent.payload : null;
  });
  const { results } = await ingestUsageEvents(store, registry, payloads, correlationId, {
    quarantineRejected: false,
    rejectedUpfront,
  });
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
  await settleQuarantineGroups(
    store,
    entries.flatMap((e) => (e.groupId ? [e.groupId] : [])),
    correlationId,
    { action: 'REPLAYED', detail: 'replayed once the cause was fixed', by: actor },
  );
  return results.map((r, k) => ({ ...r, quarantineId: entries[k]!._id }));
}

/** The payload as it was sent: parsed from its text (entries from before the text was kept hold the payload itself). */
export function sentPayload(
  d: Pick<QuarantinedEventDoc, 'payload' | 'payloadText' | 'payloadTruncated'>,
): { ok: true; payload: unknown } | { ok: false; problem: Omit<Problem, 'field'> } {
  if (d.payloadText === undefined) return { ok: true, payload: d.payload };
  const cut = {
    code: 'LIMIT_EXCEEDED',
    reason: `only the first ${d.payloadText.length} characters of this event were kept (it was over the event size limit), so it cannot be replayed`,
    expected: 'the producer sends the event again, within the limits',
  };
  if (d.payloadTruncated) return { ok: false, problem: cut };
  try {
    return { ok: true, payload: JSON.parse(d.payloadText) };
  } catch {
    return { ok: false, problem: cut };
  }
}
