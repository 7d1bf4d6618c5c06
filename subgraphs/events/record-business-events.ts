// Use case: store business events raised by the subgraphs and queue one delivery per subscribed endpoint. Both are
// inserts with deterministic ids (one insertMany each per batch), so a batch forwarded twice (a crash after storing,
// before the outbox was cleared) stores and queues everything once.
import { deterministicId } from '../../lib/ids';
import { insertManyNew } from '../../lib/mongo';
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

export const deliveryId = (eventId: string, endpointId: string) => deterministicId('whd', eventId, endpointId);

/** Every event of a forwarded batch in one insert, then every delivery it queues in another. */
export async function recordBusinessEvents(store: EventsStore, events: BusinessEventInput[]): Promise<number> {
  const endpoints = await store.endpoints.find({ status: 'ACTIVE' }).toArray();
  const now = new Date();
  const stored: BusinessEventDoc[] = events.map((e) => ({
    _id: e.id,
    type: e.type,
    subject: e.subject,
    source: e.source,
    data: (e.data && typeof e.data === 'object' ? e.data : { value: e.data }) as Record<string, unknown>,
    occurredAt: e.occurredAt,
    correlationId: e.correlationId,
    actor: e.actor ?? null,
    recordedAt: now,
  }));
  await insertManyNew(store.events, stored);
  const deliveries = stored.flatMap((e) =>
    endpoints
      .filter((x) => subscribes(x, e.type))
      .map((endpoint): WebhookDeliveryDoc => ({
        _id: deliveryId(e._id, endpoint._id),
        eventId: e._id,
        endpointId: endpoint._id,
        status: 'PENDING',
        attempts: 0,
        nextAttemptAt: now,
        lockedUntil: null,
        history: [],
        createdAt: now,
        deliveredAt: null,
      })),
  );
  await insertManyNew(store.deliveries, deliveries);
  // Exceptions feed the work queue; projecting again what was already projected changes nothing.
  await projectExceptionEvents(store, stored);
  return events.length;
}
