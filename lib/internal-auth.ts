// Subgraphs trust only the gateway and each other: every internal request is signed with HMAC-SHA256 over the method,
// path, time, body digest, the caller's principal and correlation id, with a secret only the system's processes hold.
import { config } from './config';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isCategory, isRole, type Principal } from './principal';

export const SIGNATURE_HEADER = 'x-ug-signature';
export const TIMESTAMP_HEADER = 'x-ug-timestamp';
export const PRINCIPAL_HEADER = 'x-ug-principal';
/** Clocks of machines behind one load balancer drift a little; a signature older than this is refused. */
export const ALLOWED_SKEW_MS = 5 * 60_000;

let cachedSecret: Buffer | undefined;

/** The shared secret: USAGEGRAPH_INTERNAL_SECRET (hex), or the file USAGEGRAPH_INTERNAL_SECRET_FILE names. */
export function internalSecret(): Buffer {
  if (cachedSecret) return cachedSecret;
  const inline = config().USAGEGRAPH_INTERNAL_SECRET;
  const file = config().USAGEGRAPH_INTERNAL_SECRET_FILE;
  const text = inline ?? (file ? readFileSync(file, 'utf8').trim() : undefined);
  if (!text) {
    throw new Error(
      'no internal secret: set USAGEGRAPH_INTERNAL_SECRET (64 hex characters) or USAGEGRAPH_INTERNAL_SECRET_FILE; `npm start` generates one in the data folder',
    );
  }
  if (!/^[0-9a-f]{64,}$/i.test(text)) {
    throw new Error('the internal secret must be at least 64 hex characters (32 random bytes)');
  }
  cachedSecret = Buffer.from(text, 'hex');
  return cachedSecret;
}

export const newInternalSecret = (): string => randomBytes(32).toString('hex');

const digest = (body: string | Buffer | undefined): string =>
  createHash('sha256')
    .update(body ?? '')
    .digest('hex');

function signature(
  secret: Buffer,
  parts: {
    method: string;
    path: string;
    timestamp: string;
    body?: string | Buffer;
    principal: string;
    correlationId: string;
  },
): string {
  const canonical = [
    'v1',
    parts.method.toUpperCase(),
    parts.path,
    parts.timestamp,
    digest(parts.body),
    parts.principal,
    parts.correlationId,
  ].join('\n');
  return `v1=${createHmac('sha256', secret).update(canonical).digest('hex')}`;
}

export const encodePrincipal = (principal: Principal): string =>
  Buffer.from(JSON.stringify(principal), 'utf8').toString('base64url');

/** The headers that let a subgraph trust a request: who asks, when, and a signature over all of it and the body. */
export function signedHeaders(request: {
  method: string;
  url: string;
  body?: string | Buffer;
  principal: Principal;
  correlationId: string;
  /** Defaults to the process's own secret (internalSecret()). */
  secret?: Buffer;
}): Record<string, string> {
  const timestamp = String(Date.now());
  const principal = encodePrincipal(request.principal);
  const path = new URL(request.url).pathname + new URL(request.url).search;
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [PRINCIPAL_HEADER]: principal,
    [SIGNATURE_HEADER]: signature(request.secret ?? internalSecret(), {
      method: request.method,
      path,
      timestamp,
      body: request.body,
      principal,
      correlationId: request.correlationId,
    }),
  };
}

export type Verification = { ok: true; principal: Principal } | { ok: false; reason: string };

/** Checks a received request's signature; the principal is only trusted once the signature holds. */
export function verifySignedRequest(request: {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer | string | undefined;
  correlationId: string;
  now?: number;
}): Verification {
  const header = (name: string) => {
    const v = request.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const given = header(SIGNATURE_HEADER);
  const timestamp = header(TIMESTAMP_HEADER);
  const principalText = header(PRINCIPAL_HEADER);
  if (!given || !timestamp || !principalText) {
    return { ok: false, reason: 'this service only answers requests signed by the gateway or another subgraph' };
  }
  const at = Number(timestamp);
  if (!Number.isFinite(at) || Math.abs((request.now ?? Date.now()) - at) > ALLOWED_SKEW_MS) {
    return { ok: false, reason: 'the request signature has expired or its clock is off by more than 5 minutes' };
  }
  const expected = signature(internalSecret(), {
    method: request.method,
    path: request.path,
    timestamp,
    body: request.body,
    principal: principalText,
    correlationId: request.correlationId,
  });
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    return { ok: false, reason: 'the request signature does not match' };
  }
  const principal = decodePrincipal(principalText);
  return principal ? { ok: true, principal } : { ok: false, reason: 'the signed principal is malformed' };
}

function decodePrincipal(text: string): Principal | undefined {
  try {
    const p = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Principal;
    if (typeof p.subject !== 'string' || !Array.isArray(p.roles) || !Array.isArray(p.scopes)) return undefined;
    if (p.via !== 'api-key' && p.via !== 'oidc' && p.via !== 'service') return undefined;
    return {
      subject: p.subject,
      name: typeof p.name === 'string' ? p.name : p.subject,
      roles: p.roles.filter((r) => typeof r === 'string' && isRole(r)),
      scopes: p.scopes.filter((c) => typeof c === 'string' && isCategory(c)),
      via: p.via,
      ...(typeof p.onBehalfOf === 'string' ? { onBehalfOf: p.onBehalfOf } : {}),
    };
  } catch {
    return undefined;
  }
}
