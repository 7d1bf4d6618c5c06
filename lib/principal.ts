// Who is asking: the authenticated subject, its roles and (for internal tools) the categories its key may use.
import { AUDIENCES, CATEGORY_NAMES, type AudienceName, type Category } from '../contracts/audiences';

export const ROLES = ['finance', 'customer-success', 'product', 'internal-tool', 'platform'] as const;
export type Role = (typeof ROLES)[number];

/** Each role reads and acts through one audience's contract; platform sees the full graph. */
export const ROLE_AUDIENCE: Record<Role, AudienceName | 'full'> = {
  finance: 'finance',
  'customer-success': 'customer-success',
  product: 'product',
  'internal-tool': 'internal-tools',
  platform: 'full',
};

export interface Principal {
  /** Stable id of who acts: `key:<id>` for an API key, `oidc:<issuer>|<sub>` for a token, `service:<name>` inside. */
  subject: string;
  /** A readable name for logs and the audit trail (the key's owner, the token's name or e-mail). */
  name: string;
  roles: Role[];
  /** Internal-tool keys only: the categories the key may use (others are refused). */
  scopes: Category[];
  via: 'api-key' | 'oidc' | 'service';
  /** A subgraph calling another on behalf of a person keeps that person's subject for the audit trail. */
  onBehalfOf?: string;
}

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);
export const isCategory = (value: string): value is Category => (CATEGORY_NAMES as readonly string[]).includes(value);

export function servicePrincipal(service: string, onBehalfOf?: string): Principal {
  return { subject: `service:${service}`, name: service, roles: [], scopes: [], via: 'service', onBehalfOf };
}

const audienceExclusions = (name: AudienceName | 'full'): Set<Category> =>
  name === 'full' ? new Set() : new Set(AUDIENCES.find((a) => a.name === name)!.exclude);

/**
 * The categories a principal may not use. Several roles add up (a category is refused only if every role refuses
 * it); an internal tool is further limited to its key's scopes. Services (subgraphs calling each other) may use all.
 */
export function excludedCategories(principal: Principal): Set<Category> {
  if (principal.via === 'service') return new Set();
  if (principal.roles.length === 0) return new Set(CATEGORY_NAMES);
  const perRole = principal.roles.map((role) => {
    const excluded = audienceExclusions(ROLE_AUDIENCE[role]);
    if (role === 'internal-tool') for (const c of CATEGORY_NAMES) if (!principal.scopes.includes(c)) excluded.add(c);
    return excluded;
  });
  const [first, ...rest] = perRole;
  const excluded = new Set([...first!].filter((c) => rest.every((r) => r.has(c))));
  // Service-to-service fields stay internal whatever the roles.
  excluded.add('internal');
  return excluded;
}

export const isPlatform = (principal: Principal): boolean => principal.roles.includes('platform');
