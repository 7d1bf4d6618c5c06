// Use cases: register and disable webhook endpoints. The signing secret is shown once and kept sealed (AES-256-GCM
// under a key derived from the system's internal secret), since signing each delivery needs it again.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { notFound, parseInput } from '../../lib/errors';
import { internalSecret } from '../../lib/internal-auth';
import { randomId } from '../../lib/ids';
import type { EventsStore, SealedSecret, WebhookEndpointDoc } from './store';

const sealingKey = () =>
  Buffer.from(hkdfSync('sha256', internalSecret(), Buffer.alloc(0), 'usagegraph webhook signing secrets', 32));

export function seal(secret: string): SealedSecret {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(), iv);
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return {
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

export function unseal(sealed: SealedSecret): string {
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(), Buffer.from(sealed.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
}

const EVENT_TYPE = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/;

const CreateInput = z.object({
  url: z
    .string()
    .url('must be an absolute URL')
    .refine((u) => /^https?:\/\//.test(u), 'must be http or https'),
  description: z.string().max(500).default(''),
  eventTypes: z
    .array(z.string().regex(EVENT_TYPE, 'must be a dotted type (invoice.finalized), a prefix (invoice.*) or *'))
    .min(1, 'name at least one event type'),
});

export async function createWebhookEndpoint(
  store: EventsStore,
  input: unknown,
  actor: string,
): Promise<{ endpoint: WebhookEndpointDoc; signingSecret: string }> {
  const i = parseInput(CreateInput, input, 'input');
  const signingSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const endpoint: WebhookEndpointDoc = {
    _id: randomId('whe'),
    url: i.url,
    description: i.description,
    eventTypes: [...new Set(i.eventTypes)],
    secret: seal(signingSecret),
    status: 'ACTIVE',
    createdAt: new Date(),
    createdBy: actor,
    disabledAt: null,
  };
  await store.endpoints.insertOne(endpoint);
  return { endpoint, signingSecret };
}

export async function disableWebhookEndpoint(store: EventsStore, id: string): Promise<WebhookEndpointDoc> {
  const endpoint = await store.endpoints.findOne({ _id: id });
  if (!endpoint) throw notFound('webhook endpoint', 'id', id);
  if (endpoint.status === 'DISABLED') return endpoint;
  const disabled: WebhookEndpointDoc = { ...endpoint, status: 'DISABLED', disabledAt: new Date() };
  // Only ACTIVE → DISABLED is ever written, so two disables racing write the same thing.
  await store.endpoints.updateOne({ _id: id }, { $set: { status: 'DISABLED', disabledAt: disabled.disabledAt } });
  return disabled;
}

/** Whether an endpoint subscribed to an event type: exact, a `prefix.*`, or `*`. */
export function subscribes(endpoint: Pick<WebhookEndpointDoc, 'eventTypes'>, type: string): boolean {
  return endpoint.eventTypes.some(
    (t) => t === '*' || t === type || (t.endsWith('.*') && type.startsWith(t.slice(0, -1))),
  );
}
