// Delivery of business events to webhook endpoints: a CloudEvent (structured JSON) signed the Standard Webhooks way
// (webhook-id, webhook-timestamp, webhook-signature), retried with backoff and jitter, dead-lettered after the last
// attempt, replayable. Only the holder of a delivery's claim writes it, so two workers never send it at once.
import { config } from '../../lib/config';
import { createHmac } from 'node:crypto';
import { repeatInBackground } from '../../lib/background';
import { claimRecord, releaseClaim } from '../../lib/claims';
import { notFound } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { retryDelayMs } from '../../lib/retry';
import type { BusinessEventDoc, EventsStore, WebhookAttempt, WebhookDeliveryDoc, WebhookEndpointDoc } from './store';
import { unseal } from './webhook-endpoints';

export interface WebhookPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  leaseMs: number;
}

export function webhookPolicyFromEnvironment(): WebhookPolicy {
  return {
    maxAttempts: config().USAGEGRAPH_WEBHOOK_MAX_ATTEMPTS,
    baseDelayMs: config().USAGEGRAPH_WEBHOOK_RETRY_BASE_MS,
    maxDelayMs: config().USAGEGRAPH_WEBHOOK_RETRY_MAX_MS,
    timeoutMs: config().USAGEGRAPH_WEBHOOK_TIMEOUT_MS,
    leaseMs: 60_000,
  };
}

/** The event as the receiver gets it: a CloudEvent 1.0 in structured mode. */
export function cloudEventOf(event: BusinessEventDoc): string {
  return JSON.stringify({
    specversion: '1.0',
    id: event._id,
    source: `/usagegraph/${event.source}`,
    type: `usagegraph.${event.type}`,
    subject: event.subject,
    time: event.occurredAt.toISOString(),
    datacontenttype: 'application/json',
    correlationid: event.correlationId,
    data: event.data,
  });
}

/** Standard Webhooks: HMAC-SHA256 over `id.timestamp.body` with the base64 key after `whsec_`. */
export function signatureOf(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

const isDue = (d: WebhookDeliveryDoc, now: Date) =>
  ((d.status === 'PENDING' || d.status === 'RETRY_SCHEDULED') && d.nextAttemptAt !== null && d.nextAttemptAt <= now) ||
  (d.status === 'SENDING' && d.lockedUntil !== null && d.lockedUntil < now);

async function attemptDelivery(
  event: BusinessEventDoc,
  endpoint: WebhookEndpointDoc,
  timeoutMs: number,
): Promise<WebhookAttempt> {
  const body = cloudEventOf(event);
  const timestamp = Math.floor(Date.now() / 1000);
  const started = performance.now();
  const at = new Date();
  try {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/cloudevents+json',
        'webhook-id': event._id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureOf(unseal(endpoint.secret), event._id, timestamp, body),
        'user-agent': 'usagegraph-webhooks',
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await response.arrayBuffer().catch(() => undefined);
    return {
      at,
      httpStatus: response.status,
      outcome: response.ok ? 'DELIVERED' : `HTTP_${response.status}`,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    return {
      at,
      httpStatus: null,
      outcome: timedOut ? 'TIMEOUT' : 'UNREACHABLE',
      durationMs: Math.round(performance.now() - started),
    };
  }
}

/** Delivers one delivery if it is due and nobody else holds it; returns it as it ends up. */
export async function deliverWebhook(
  store: EventsStore,
  policy: WebhookPolicy,
  id: string,
  log: Logger,
): Promise<WebhookDeliveryDoc | null> {
  const delivery = await store.deliveries.findOne({ _id: id });
  const now = new Date();
  if (!delivery || !isDue(delivery, now)) return delivery;
  const claim = await claimRecord(store.claims, 'deliveryId', id, policy.leaseMs, now);
  if (!claim) return delivery;
  try {
    const [event, endpoint] = await Promise.all([
      store.events.findOne({ _id: delivery.eventId }),
      store.endpoints.findOne({ _id: delivery.endpointId }),
    ]);
    const write = async (next: WebhookDeliveryDoc) => {
      await store.deliveries.replaceOne({ _id: id }, next);
      return next;
    };
    if (!event || !endpoint || endpoint.status === 'DISABLED') {
      return write({ ...delivery, status: 'CANCELLED', nextAttemptAt: null, lockedUntil: null });
    }
    await write({ ...delivery, status: 'SENDING', lockedUntil: claim.expiresAt });
    const result = await attemptDelivery(event, endpoint, policy.timeoutMs);
    const attempts = delivery.attempts + 1;
    const history = [...delivery.history, result];
    if (result.outcome === 'DELIVERED') {
      return write({
        ...delivery,
        status: 'DELIVERED',
        attempts,
        history,
        nextAttemptAt: null,
        lockedUntil: null,
        deliveredAt: result.at,
      });
    }
    if (attempts >= policy.maxAttempts) {
      log.warn({ deliveryId: id, endpoint: endpoint._id, outcome: result.outcome }, 'webhook delivery dead-lettered');
      return write({ ...delivery, status: 'DEAD_LETTER', attempts, history, nextAttemptAt: null, lockedUntil: null });
    }
    const nextAttemptAt = new Date(Date.now() + retryDelayMs(attempts, policy));
    return write({ ...delivery, status: 'RETRY_SCHEDULED', attempts, history, nextAttemptAt, lockedUntil: null });
  } finally {
    await releaseClaim(store.claims, claim);
  }
}

/** Sends a delivery again as soon as the worker gets to it, whatever state it is in (except while being sent). */
export async function replayWebhookDelivery(
  store: EventsStore,
  id: string,
  policy: WebhookPolicy,
): Promise<WebhookDeliveryDoc> {
  const delivery = await store.deliveries.findOne({ _id: id });
  if (!delivery) throw notFound('webhook delivery', 'id', id);
  const claim = await claimRecord(store.claims, 'deliveryId', id, policy.leaseMs);
  if (!claim) return delivery; // being sent right now: that is the replay
  try {
    const now = new Date();
    const replayed: WebhookDeliveryDoc = {
      ...delivery,
      status: 'PENDING',
      nextAttemptAt: now,
      lockedUntil: null,
      history: [...delivery.history, { at: now, httpStatus: null, outcome: 'REPLAY_REQUESTED', durationMs: 0 }],
    };
    await store.deliveries.replaceOne({ _id: id }, replayed);
    return replayed;
  } finally {
    await releaseClaim(store.claims, claim);
  }
}

/** The worker: due deliveries, oldest first, a batch at a time. */
export function startWebhookWorker(store: EventsStore, policy: WebhookPolicy, log: Logger): () => Promise<void> {
  return repeatInBackground('webhook delivery', config().USAGEGRAPH_WEBHOOK_POLL_MS, log, async (job) => {
    const now = new Date();
    const due = await store.deliveries
      .find(
        { status: { $in: ['PENDING', 'RETRY_SCHEDULED', 'SENDING'] } },
        { projection: { _id: 1, status: 1, nextAttemptAt: 1, lockedUntil: 1 } },
      )
      .limit(500)
      .toArray();
    for (const d of due) {
      if (job.stopped) return;
      if (isDue(d as WebhookDeliveryDoc, now)) await deliverWebhook(store, policy, d._id, log);
    }
  });
}
