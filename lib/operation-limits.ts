// How much one request may ask for, per role. The gateway refuses anything beyond before it runs (QUERY_TOO_COMPLEX),
// so one request can never keep the subgraphs and the database busy for minutes.
import type { OperationLimits } from './authorization';
import type { Principal, Role } from './principal';

/** What a person's tools need: the lineage query is depth 9 and costs a few hundred; a console page a few thousand. */
export const DEFAULT_LIMITS: OperationLimits = {
  maxDepth: 15,
  maxAliases: 30,
  maxPageSize: 500,
  maxListLength: 1_000,
  maxCost: 25_000,
};

/** Platform engineers run exports and checks: deeper and larger, still bounded. */
export const ROLE_LIMITS: Partial<Record<Role, OperationLimits>> = {
  platform: { maxDepth: 25, maxAliases: 100, maxPageSize: 500, maxListLength: 10_000, maxCost: 250_000 },
};

/** A subgraph checks categories again, but leaves cost to the gateway: query plans split operations differently. */
export const UNLIMITED: OperationLimits = {
  maxDepth: Number.POSITIVE_INFINITY,
  maxAliases: Number.POSITIVE_INFINITY,
  maxPageSize: Number.POSITIVE_INFINITY,
  maxListLength: Number.POSITIVE_INFINITY,
  maxCost: Number.POSITIVE_INFINITY,
};

/** The most generous limits of the principal's roles. */
export function limitsFor(principal: Principal): OperationLimits {
  const all = principal.roles.map((r) => ROLE_LIMITS[r] ?? DEFAULT_LIMITS);
  if (all.length === 0) return DEFAULT_LIMITS;
  const most = (k: keyof OperationLimits) => Math.max(...all.map((l) => l[k]));
  return {
    maxDepth: most('maxDepth'),
    maxAliases: most('maxAliases'),
    maxPageSize: most('maxPageSize'),
    maxListLength: most('maxListLength'),
    maxCost: most('maxCost'),
  };
}
