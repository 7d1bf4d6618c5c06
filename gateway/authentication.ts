// Who is calling: an API key (checked by the access subgraph, which holds only hashes) or an OIDC bearer token (a JWT
// verified against the configured issuer's keys). No credential, or a wrong one, is a 401 before any GraphQL runs.
import { config, type Config } from '../lib/config';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { querySubgraph } from '../lib/subgraph-client';
import { isCategory, isRole, type Principal } from '../lib/principal';

export type Authentication = { ok: true; principal: Principal } | { ok: false; status: 401; message: string };

/** A verified key is trusted this long before it is checked again: also how long a revocation takes to bite. */
export const CREDENTIAL_CACHE_MS = (): number => config().USAGEGRAPH_CREDENTIAL_CACHE_MS;
const NEGATIVE_CACHE_MS = Math.min(5_000, CREDENTIAL_CACHE_MS());
const MAX_CACHED = 10_000;

export interface OidcSettings {
  issuer: string;
  jwksUrl: string;
  audience?: string;
  /** Dotted path of the claim holding role names, e.g. `roles` or `realm_access.roles`. */
  rolesClaim: string;
}

export function oidcSettingsFromEnvironment(settings: Config = config()): OidcSettings | undefined {
  const issuer = settings.USAGEGRAPH_OIDC_ISSUER;
  if (!issuer) return undefined;
  return {
    issuer,
    jwksUrl: settings.USAGEGRAPH_OIDC_JWKS_URL ?? `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
    audience: settings.USAGEGRAPH_OIDC_AUDIENCE,
    rolesClaim: settings.USAGEGRAPH_OIDC_ROLES_CLAIM,
  };
}

const claimAt = (payload: Record<string, unknown>, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), payload);

export class Authenticator {
  private readonly cache = new Map<string, { result: Authentication; until: number }>();
  private jwks?: Promise<{ verify(token: string): Promise<Record<string, unknown>> }>;

  constructor(private readonly oidc: OidcSettings | undefined) {}

  /** The credential of a request: `authorization: Bearer <key or token>`, or `x-api-key: <key>`. */
  static credentialOf(headers: IncomingHttpHeaders): string | undefined {
    const auth = headers.authorization;
    if (typeof auth === 'string') {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      return match?.[1];
    }
    const key = headers['x-api-key'];
    return typeof key === 'string' && key.trim() ? key.trim() : undefined;
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<Authentication> {
    const credential = Authenticator.credentialOf(headers);
    if (!credential) {
      return {
        ok: false,
        status: 401,
        message:
          'authentication required: send `authorization: Bearer <API key or OIDC token>` (npm start prints a key)',
      };
    }
    const cacheKey = createHash('sha256').update(credential).digest('base64url');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.until > Date.now()) return cached.result;
    const result = credential.startsWith('ugk_') ? await this.apiKey(credential) : await this.token(credential);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(cacheKey, { result, until: Date.now() + (result.ok ? CREDENTIAL_CACHE_MS() : NEGATIVE_CACHE_MS) });
    return result;
  }

  private async apiKey(secret: string): Promise<Authentication> {
    const { authenticateApiKey: p } = await querySubgraph<{
      authenticateApiKey: { subject: string; name: string; roles: string[]; scopes: string[] } | null;
    }>('access', 'query($s: String!) { authenticateApiKey(secret: $s) { subject name roles scopes } }', { s: secret });
    if (!p) {
      return { ok: false, status: 401, message: 'the API key is unknown, expired or revoked' };
    }
    return {
      ok: true,
      principal: {
        subject: p.subject,
        name: p.name,
        roles: p.roles.filter(isRole),
        scopes: p.scopes.filter(isCategory),
        via: 'api-key',
      },
    };
  }

  private async token(token: string): Promise<Authentication> {
    if (!this.oidc) {
      return { ok: false, status: 401, message: 'the credential is not an API key, and no OIDC issuer is configured' };
    }
    if (token.split('.').length !== 3) return { ok: false, status: 401, message: 'the bearer token is not a JWT' };
    try {
      const payload = await (await this.verifier()).verify(token);
      const settings = this.oidc;
      const rolesClaim = claimAt(payload, settings.rolesClaim);
      const roles = (
        Array.isArray(rolesClaim) ? rolesClaim : typeof rolesClaim === 'string' ? rolesClaim.split(' ') : []
      )
        .filter((r): r is string => typeof r === 'string')
        .filter(isRole);
      const scopes = (typeof payload.scope === 'string' ? payload.scope.split(' ') : []).filter(isCategory);
      const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
      if (!sub) return { ok: false, status: 401, message: 'the token has no subject (sub claim)' };
      const name = [payload.name, payload.email, sub].find((v): v is string => typeof v === 'string')!;
      return { ok: true, principal: { subject: `oidc:${sub}`, name, roles, scopes, via: 'oidc' } };
    } catch (error) {
      return { ok: false, status: 401, message: `the token was refused: ${(error as Error).message}` };
    }
  }

  private verifier() {
    // jose is an ES module; loaded once, on the first token.
    this.jwks ??= import('jose').then(({ createRemoteJWKSet, jwtVerify }) => {
      const settings = this.oidc!;
      const keys = createRemoteJWKSet(new URL(settings.jwksUrl), { cacheMaxAge: 10 * 60_000 });
      return {
        verify: async (token: string) =>
          (await jwtVerify(token, keys, { issuer: settings.issuer, audience: settings.audience })).payload as Record<
            string,
            unknown
          >,
      };
    });
    return this.jwks;
  }
}
