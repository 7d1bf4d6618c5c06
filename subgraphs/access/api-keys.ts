// Use cases: create, revoke, list and check API keys. A key is `ugk_<8 hex>_<43 random base64url>`; only a scrypt hash
// of it is stored, so a copy of the database gives no working key.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { UserFacingError, notFound, parseInput } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import { pageById, type Page } from '../../lib/pagination';
import type { Principal, Role } from '../../lib/principal';
import type { AccessStore, ApiKeyDoc, ApiKeyRevocationDoc, KeyScope } from './store';

const scryptAsync = promisify(scrypt) as (
  secret: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;
/** ~30 ms on this machine: slow enough to make guessing from a stolen hash useless, cached by the gateway per key. */
const SCRYPT = { N: 16_384, r: 8, p: 1 };
const KEY_FORMAT = /^ugk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

/** GraphQL enum values (FINANCE, CUSTOMER_SUCCESS) ↔ the role and category names the code uses (finance, …). */
type FromEnum<E extends string> = E extends `${infer A}_${infer B}` ? `${Lowercase<A>}-${FromEnum<B>}` : Lowercase<E>;
type ToEnum<V extends string> = V extends `${infer A}-${infer B}` ? `${Uppercase<A>}_${ToEnum<B>}` : Uppercase<V>;
// String methods return a plain string; the casts name what they did, so the names stay checked against the schema.
export const fromEnum = <E extends string>(value: E) => value.toLowerCase().replace(/_/g, '-') as FromEnum<E>;
export const toEnum = <V extends string>(value: V) => value.toUpperCase().replace(/-/g, '_') as ToEnum<V>;

export interface ApiKeyView {
  id: string;
  prefix: string;
  owner: string;
  description: string;
  roles: ToEnum<Role>[];
  scopes: ToEnum<KeyScope>[];
  expiresAt: Date | null;
  status: 'ACTIVE' | 'EXPIRED' | 'REVOKED';
  createdAt: Date;
  createdBy: string;
  revokedAt: Date | null;
  revokedBy: string | null;
  revocationReason: string | null;
}

export function keyView(doc: ApiKeyDoc, revocation: ApiKeyRevocationDoc | null, now = new Date()): ApiKeyView {
  return {
    id: doc._id,
    prefix: doc.prefix,
    owner: doc.owner,
    description: doc.description,
    roles: doc.roles.map(toEnum),
    scopes: doc.scopes.map(toEnum),
    expiresAt: doc.expiresAt,
    status: revocation ? 'REVOKED' : doc.expiresAt && doc.expiresAt <= now ? 'EXPIRED' : 'ACTIVE',
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
    revokedAt: revocation?.revokedAt ?? null,
    revokedBy: revocation?.revokedBy ?? null,
    revocationReason: revocation?.reason ?? null,
  };
}

const CreateInput = z.object({
  owner: z.string().trim().min(1).max(200),
  description: z.string().max(500).default(''),
  roles: z.array(z.enum(['FINANCE', 'CUSTOMER_SUCCESS', 'PRODUCT', 'INTERNAL_TOOL', 'PLATFORM'])).min(1),
  scopes: z
    .array(z.enum(['BILLING', 'BILLING_OPS', 'USAGE_SCHEMA', 'INGEST', 'USAGE_OPS', 'MASTER_DATA']))
    .nullish()
    .transform((s) => s ?? []),
  expiresAt: z.date().nullish(),
});

export async function createApiKey(
  store: AccessStore,
  input: unknown,
  actor: Principal,
  correlationId: string,
): Promise<{ apiKey: ApiKeyView; secret: string }> {
  const i = parseInput(CreateInput, input, 'input');
  if (i.scopes.length > 0 && !i.roles.includes('INTERNAL_TOOL')) {
    throw new UserFacingError('VALIDATION_FAILED', 'input.scopes: scopes only limit INTERNAL_TOOL keys', {
      field: 'input.scopes',
      expected: 'no scopes, or the role INTERNAL_TOOL',
    });
  }
  if (i.expiresAt && i.expiresAt <= new Date()) {
    throw new UserFacingError('VALIDATION_FAILED', 'input.expiresAt: the expiry is in the past', {
      field: 'input.expiresAt',
      expected: 'a future instant, or nothing for no expiry',
    });
  }
  for (;;) {
    const id = randomBytes(4).toString('hex');
    const secretPart = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    const digest = await scryptAsync(secretPart, salt, 32, SCRYPT);
    const doc: ApiKeyDoc = {
      _id: `key_${id}`,
      prefix: `ugk_${id}`,
      hash: { algorithm: 'scrypt', salt: salt.toString('base64'), digest: digest.toString('base64'), ...SCRYPT },
      owner: i.owner,
      description: i.description,
      roles: [...new Set(i.roles.map(fromEnum))],
      scopes: [...new Set(i.scopes.map(fromEnum))],
      expiresAt: i.expiresAt ?? null,
      createdAt: new Date(),
      createdBy: actor.onBehalfOf ?? actor.subject,
      correlationId,
    };
    try {
      await store.keys.insertOne(doc);
    } catch (error) {
      if (isDuplicateKeyError(error)) continue; // 1 in 4 billion: draw another id
      throw error;
    }
    return { apiKey: keyView(doc, null), secret: `ugk_${id}_${secretPart}` };
  }
}

export async function revokeApiKey(
  store: AccessStore,
  id: string,
  reason: string,
  actor: Principal,
): Promise<ApiKeyView> {
  const doc = await store.keys.findOne({ _id: id });
  if (!doc) throw notFound('API key', 'id', id);
  if (!reason.trim()) {
    throw new UserFacingError('VALIDATION_FAILED', 'reason: say why the key is revoked', {
      field: 'reason',
      expected: 'a short reason for the audit trail',
    });
  }
  const revocation: ApiKeyRevocationDoc = {
    _id: id,
    revokedAt: new Date(),
    revokedBy: actor.onBehalfOf ?? actor.subject,
    reason: reason.trim(),
  };
  try {
    await store.revocations.insertOne(revocation);
    return keyView(doc, revocation);
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    return keyView(doc, await store.revocations.findOne({ _id: id }));
  }
}

export async function apiKey(store: AccessStore, id: string): Promise<ApiKeyView | null> {
  const [doc, revocation] = await Promise.all([
    store.keys.findOne({ _id: id }),
    store.revocations.findOne({ _id: id }),
  ]);
  return doc ? keyView(doc, revocation) : null;
}

/**
 * Keys in id order. Inactive keys are left out after reading, so a page may hold fewer than `first` keys; follow
 * `hasNextPage` to the end.
 */
export async function apiKeys(
  store: AccessStore,
  args: { includeInactive?: boolean | null; first?: number | null; after?: string | null },
): Promise<Page<ApiKeyView>> {
  const page = await pageById(store.keys, {}, args.first, args.after);
  const revocations = await store.revocations.find({ _id: { $in: page.nodes.map((d) => d._id) } }).toArray();
  const revoked = new Map(revocations.map((r) => [r._id, r]));
  const now = new Date();
  const views = page.nodes.map((d) => keyView(d, revoked.get(d._id) ?? null, now));
  return { nodes: views.filter((v) => args.includeInactive || v.status === 'ACTIVE'), pageInfo: page.pageInfo };
}

/** The principal behind a presented key, or null: unknown, malformed, wrong secret, expired or revoked. */
export async function authenticateApiKey(store: AccessStore, secret: string): Promise<Principal | null> {
  const match = KEY_FORMAT.exec(secret);
  if (!match) return null;
  const id = `key_${match[1]}`;
  const [doc, revocation] = await Promise.all([
    store.keys.findOne({ _id: id }),
    store.revocations.findOne({ _id: id }),
  ]);
  if (!doc || revocation || (doc.expiresAt && doc.expiresAt <= new Date())) return null;
  const { salt, digest, N, r, p } = doc.hash;
  const expected = Buffer.from(digest, 'base64');
  const actual = await scryptAsync(match[2]!, Buffer.from(salt, 'base64'), expected.length, { N, r, p });
  if (!timingSafeEqual(actual, expected)) return null;
  return {
    subject: `key:${doc._id}`,
    name: doc.owner,
    roles: doc.roles,
    scopes: doc.scopes,
    via: 'api-key',
  };
}
