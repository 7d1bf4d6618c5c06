// Pure: a prepaid credit wallet is derived from its append-only movements (grants, consumptions by invoices, expiries),
// never kept as a counter. Consumption follows Orb's credit blocks and Lago's wallets: the lowest priority number first,
// then the grant that expires soonest (never-expiring last), then the oldest; credit past its expiry is never used.
import type { Money } from '../../lib/money';

export type CreditGrantKind = 'PURCHASED' | 'GRANTED';
export type CreditMovementKind = 'GRANT' | 'CONSUMPTION' | 'EXPIRY' | 'RESTORE';

/** What a grant movement says about the credit it adds. */
export interface CreditGrantTerms {
  grantId: string;
  kind: CreditGrantKind;
  priority: number;
  expiresAt: Date | null;
  description: string;
}

/** One grant's share of a movement, in minor units as a decimal string (signed: + adds credit, − takes it). */
export interface CreditAllocation {
  grantId: string;
  minor: string;
}

export interface CreditMovementDoc {
  /** `${walletId}#${sequence}`: the unique insert that orders a wallet's movements and makes each one exclusive. */
  _id: string;
  walletId: string;
  customerId: string;
  currency: string;
  sequence: number;
  /** Unique per business happening (`grant:<walletId>:<key>`, `consume:<invoiceId>`, `expire:<grantId>`): retries insert nothing. */
  key: string;
  kind: CreditMovementKind;
  /** Signed: a grant adds, a consumption or expiry takes. */
  amount: Money;
  allocations: CreditAllocation[];
  /** The wallet's balance right after it, as of its own time. */
  balanceAfter: Money;
  grant: CreditGrantTerms | null;
  invoiceId: string | null;
  at: Date;
  recordedBy: string;
  correlationId: string;
}

export interface GrantState extends CreditGrantTerms {
  grantedAt: Date;
  granted: bigint;
  remaining: bigint;
  /** The sequence of the grant's own movement: the tie-breaker, oldest first. */
  sequence: number;
}

/** Every grant of a wallet with what is left of it, from the movements (any order). */
export function grantStates(movements: readonly CreditMovementDoc[]): GrantState[] {
  const byId = new Map<string, GrantState>();
  const sorted = [...movements].sort((a, b) => a.sequence - b.sequence);
  for (const m of sorted) {
    if (m.kind === 'GRANT' && m.grant) {
      const granted = BigInt(m.allocations[0]?.minor ?? '0');
      byId.set(m.grant.grantId, { ...m.grant, grantedAt: m.at, granted, remaining: 0n, sequence: m.sequence });
    }
  }
  for (const m of sorted) {
    for (const a of m.allocations) {
      const g = byId.get(a.grantId);
      if (g) g.remaining += BigInt(a.minor);
    }
  }
  return [...byId.values()].sort((a, b) => a.sequence - b.sequence);
}

export const isExpiredAt = (g: Pick<GrantState, 'expiresAt'>, at: Date): boolean =>
  g.expiresAt !== null && g.expiresAt.getTime() <= at.getTime();

/** The order credit is used in: priority (1 first), soonest expiry (none last), oldest grant. */
export function consumptionOrder(a: GrantState, b: GrantState): number {
  const expiry = (g: GrantState) => g.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  return a.priority - b.priority || expiry(a) - expiry(b) || a.sequence - b.sequence;
}

/** Grants that can pay at `at`: granted by then, not expired, something left; in consumption order. */
export function usableGrants(grants: readonly GrantState[], at: Date): GrantState[] {
  return grants
    .filter((g) => g.remaining > 0n && !isExpiredAt(g, at) && g.grantedAt.getTime() <= at.getTime())
    .sort(consumptionOrder);
}

/** The credit usable at `at`, in minor units. */
export const usableBalance = (grants: readonly GrantState[], at: Date): bigint =>
  usableGrants(grants, at).reduce((sum, g) => sum + g.remaining, 0n);

/** How an amount due is paid from the wallet: at most the amount, at most what each usable grant has left. */
export function planConsumption(grants: readonly GrantState[], dueMinor: bigint, at: Date): CreditAllocation[] {
  const allocations: CreditAllocation[] = [];
  let left = dueMinor;
  for (const g of usableGrants(grants, at)) {
    if (left <= 0n) break;
    const take = g.remaining < left ? g.remaining : left;
    allocations.push({ grantId: g.grantId, minor: (-take).toString() });
    left -= take;
  }
  return allocations;
}

/** Grants whose expiry has come with credit left: each is closed by an EXPIRY movement of what is left. */
export const dueExpiries = (grants: readonly GrantState[], at: Date): GrantState[] =>
  grants.filter((g) => g.remaining > 0n && isExpiredAt(g, at));

/** Whether a movement took the balance from above a threshold to at or below it (the low-balance notification). */
export const crossedThreshold = (before: bigint, after: bigint, threshold: bigint): boolean =>
  before > threshold && after <= threshold;
