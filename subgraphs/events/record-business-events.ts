// Use case: store business events raised by the subgraphs and queue one delivery per subscribed endpoint. Both are
// inserts with deterministic ids, so a batch forwarded twice (a crash after storing, before the outbox was cleared)
// stores and queues everything once.
import { deterministicId } from '../../lib/ids';
import { isDuplicateKeyError } from '../../lib/mongo';
import type { BusinessEventDoc, EventsStore, WebhookDeliveryDoc } from './store';
import { subscribes } from './webhook-endpoints';
import { projectExceptionEvents } from './work-queue';

export interface BusinessEventInput {
  id: string;
  type: string;
  subject: string;
  source: string;
  data: unknown;
  occurredAt: Date;
  correlationId: string;
  actor?: string | null;
}

const insertOnce = async (insert: () => Promise<unknown>) => {
  try {
    await insert();
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
  }
};

export const deliveryId = (eventId: string, endpointId: string) => deterministicId('whd', eventId, endpointId);

export async function recordBusinessEvents(store: EventsStore, events: BusinessEventInput[]): Promise<number> {
  const endpoints = await store.endpoints.find({ status: 'ACTIVE' }).toArray();
  const now = new Date();
  const stored: BusinessEventDoc[] = [];
  for (const e of events) {
    const doc: BusinessEventDoc = {
      _id: e.id,
      type: e.type,
      subject: e.subject,
      source: e.source,
      data: (e.data && typeof e.data === 'object' ? e.data : { value: e.data }) as Record<string, unknown>,
      occurredAt: e.occurredAt,
      correlationId: e.correlationId,
      actor: e.actor ?? null,
      recordedAt: now,
    };
    await insertOnce(() => store.events.insertOne(doc));
    stored.push(doc);
    for (const endpoint of endpoints.filter((x) => subscribes(x, e.type))) {
      const delivery: WebhookDeliveryDoc = {
        _id: deliveryId(e.id, endpoint._id),
        eventId: e.id,
        endpointId: endpoint._id,
        status: 'PENDING',
        attempts: 0,
        nextAttemptAt: now,
        lockedUntil: null,
        history: [],
        createdAt: now,
        deliveredAt: null,
      };
      await insertOnce(() => store.deliveries.insertOne(delivery));
    }
  }
  // Exceptions feed the work queue; projecting again what was already projected changes nothing.
  await projectExceptionEvents(store, stored);
  return events.length;
}
