// Use cases: a person corrects a rejected event and replays it, or discards rejected events with a reason. Nothing is
// deleted: a discarded entry stays, marked with who discarded it, when and why; a corrected one keeps what was sent
// beside the correction. The work queue hears when a group of rejected events is cleared.
import { z } from 'zod';
import { UserFacingError, notFound, parseInput } from '../../lib/errors';
import { ingestUsageEvents, type EventResult } from './ingest-usage-events';
import type { QuarantinedEventDoc, UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';
import { settleQuarantineGroups } from './work-queue-exceptions';

const reasonInput = z.string().trim().min(3, 'say why, in a few words').max(2_000);

export async function discardQuarantinedEvents(
  store: UsageStore,
  ids: readonly string[],
  reason: string,
  actor: string,
  correlationId: string,
): Promise<QuarantinedEventDoc[]> {
  const why = parseInput(reasonInput, reason, 'reason');
  if (ids.length < 1 || ids.length > 1_000) {
    throw new UserFacingError('VALIDATION_FAILED', `ids: ${ids.length} ids given`, {
      field: 'ids',
      expected: 'from 1 to 1,000 quarantine entry ids',
    });
  }
  const docs = new Map((await store.quarantine.find({ _id: { $in: [...ids] } }).toArray()).map((d) => [d._id, d]));
  const missing = ids.findIndex((id) => !docs.has(id));
  if (missing >= 0) throw notFound('quarantined event', `ids[${missing}]`, ids[missing]!);
  const now = new Date();
  const out: QuarantinedEventDoc[] = [];
  await store.locks.run('quarantine', async () => {
    for (const id of ids) {
      const entry = (await store.quarantine.findOne({ _id: id })) ?? docs.get(id)!;
      // An entry a replay already got through stays resolved: discarding it would hide usage that was billed.
      const next: QuarantinedEventDoc =
        entry.status === 'OPEN'
          ? { ...entry, status: 'DISCARDED', discard: { reason: why, by: actor, at: now } }
          : entry;
      if (next !== entry) await store.quarantine.replaceOne({ _id: id }, next);
      out.push(next);
    }
  });
  await settleQuarantineGroups(
    store,
    out.flatMap((d) => (d.groupId ? [d.groupId] : [])),
    correlationId,
    { action: 'DISCARDED', detail: `discarded: ${why}`, by: actor },
  );
  return out;
}

export interface CorrectionResult extends EventResult {
  quarantineId: string;
  entry: QuarantinedEventDoc;
}

/** Runs the corrected event through ingestion in place of the rejected one; the entry is resolved only if it passes. */
export async function correctQuarantinedEvent(
  store: UsageStore,
  registry: UsageTypeRegistry,
  id: string,
  corrected: unknown,
  actor: string,
  correlationId: string,
): Promise<CorrectionResult> {
  const entry = await store.quarantine.findOne({ _id: id });
  if (!entry) throw notFound('quarantined event', 'id', id);
  if (entry.status !== 'OPEN') {
    throw new UserFacingError('CONFLICT', `quarantined event ${id} is already ${entry.status.toLowerCase()}`, {
      field: 'id',
      expected: 'an OPEN quarantine entry',
    });
  }
  const { results } = await ingestUsageEvents(store, registry, [corrected], correlationId, {
    quarantineRejected: false,
  });
  const result = results[0]!;
  const now = new Date();
  const updated = await store.locks.run('quarantine', async () => {
    const latest = (await store.quarantine.findOne({ _id: id })) ?? entry;
    const next: QuarantinedEventDoc =
      result.status === 'REJECTED'
        ? latest
        : {
            ...latest,
            status: 'RESOLVED',
            resolution: { status: result.status, usageEventId: result.usageEventId, at: now },
            correction: { payloadText: JSON.stringify(corrected), by: actor, at: now },
          };
    if (next !== latest) await store.quarantine.replaceOne({ _id: id }, next);
    return next;
  });
  if (result.status !== 'REJECTED' && updated.groupId) {
    await settleQuarantineGroups(store, [updated.groupId], correlationId, {
      action: 'CORRECTED_AND_REPLAYED',
      detail: `corrected and replayed: now ${result.status.toLowerCase()}`,
      by: actor,
    });
  }
  return { ...result, quarantineId: id, entry: updated };
}
