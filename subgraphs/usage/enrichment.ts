// Enrichment: who a usage event belongs to (customer, the subscription active when it happened, its price plan).
import { deterministicId } from '../../lib/ids';
import { isWithin, periodOf } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import type { HeldEventDoc, HoldReason, UsageEventDoc } from './store';

export interface CustomerView {
  id: string;
  externalKey: string;
  subscriptions: Array<{
    id: string;
    startsAt: string;
    endsAt: string | null;
    phases: Array<{ pricePlan: { id: string }; startsAt: string; endsAt: string | null }>;
  }>;
}

/**
 * Who each key belongs to, as the subscriptions subgraph last said. Kept while its directory version stays the same
 * (one small call per batch instead of fetching every customer again); any change there empties it.
 */
class CustomerDirectory {
  private version: string | null = null;
  private readonly known = new Map<string, CustomerView | null>();

  async lookup(keys: readonly string[]): Promise<Map<string, CustomerView>> {
    const found = new Map<string, CustomerView>();
    if (keys.length === 0) return found;
    const { customerDirectoryVersion } = await querySubgraph<{ customerDirectoryVersion: string }>(
      'subscriptions',
      '{ customerDirectoryVersion }',
    );
    if (customerDirectoryVersion !== this.version) {
      this.known.clear();
      this.version = customerDirectoryVersion;
    }
    const missing = keys.filter((k) => !this.known.has(k));
    if (missing.length > 0) {
      const { customersByExternalKeys } = await querySubgraph<{ customersByExternalKeys: Array<CustomerView | null> }>(
        'subscriptions',
        'query($keys: [String!]!) { customersByExternalKeys(externalKeys: $keys) { id externalKey subscriptions { id startsAt endsAt phases { pricePlan { id } startsAt endsAt } } } }',
        { keys: missing },
      );
      // Results come in input order; an alias resolves to a customer whose own key differs from the one asked for.
      customersByExternalKeys.forEach((c, i) => this.known.set(missing[i]!, c));
      if (this.known.size > 100_000) this.known.clear();
    }
    for (const k of keys) {
      const c = this.known.get(k);
      if (c) found.set(k, c);
    }
    return found;
  }
}

const directory = new CustomerDirectory();

const starts = new Map<string, Date | null>();

/** When a subscription started (a start never changes, so it is kept once known); null when it does not exist. */
export async function subscriptionStart(subscriptionId: string): Promise<Date | null> {
  if (!starts.has(subscriptionId)) {
    const { subscription } = await querySubgraph<{ subscription: { startsAt: string } | null }>(
      'subscriptions',
      'query($id: ID!) { subscription(id: $id) { startsAt } }',
      { id: subscriptionId },
    );
    if (!subscription) return null;
    if (starts.size > 100_000) starts.clear();
    starts.set(subscriptionId, new Date(subscription.startsAt));
  }
  return starts.get(subscriptionId) ?? null;
}

/** Customers by the keys events use (external keys or aliases). */
export function lookupCustomers(keys: readonly string[]): Promise<Map<string, CustomerView>> {
  return directory.lookup(keys);
}

export type Attribution =
  | { ok: true; customer: CustomerView; subscription: CustomerView['subscriptions'][number] }
  | { ok: false; reason: HoldReason };

export function attribute(customer: CustomerView | undefined, timestamp: Date): Attribution {
  if (!customer) return { ok: false, reason: 'CUSTOMER_UNKNOWN' };
  const subscription = customer.subscriptions.find((s) =>
    isWithin(timestamp, new Date(s.startsAt), s.endsAt ? new Date(s.endsAt) : null),
  );
  return subscription ? { ok: true, customer, subscription } : { ok: false, reason: 'SUBSCRIPTION_NOT_ACTIVE' };
}

export function eventId(source: string, id: string): string {
  return deterministicId('evt', source, id);
}

export function aggregateId(subscriptionId: string, usageTypeKey: string, periodKey: string): string {
  return deterministicId('agg', subscriptionId, usageTypeKey, periodKey);
}

export function exceptionId(reason: HoldReason, customerKey: string, periodKey: string): string {
  return deterministicId('uex', reason, customerKey, periodKey);
}

/** What is known about a valid event before it is attributed. */
export type ValidatedEvent = Omit<HeldEventDoc, '_id' | 'exceptionId' | 'reason' | 'periodKey'> & { id: string };

export function storedEvent(v: ValidatedEvent, a: Extract<Attribution, { ok: true }>): UsageEventDoc {
  const periodKey = periodOf(v.timestamp).key;
  return {
    _id: v.id,
    eventId: v.eventId,
    source: v.source,
    usageTypeId: v.usageTypeId,
    usageTypeKey: v.usageTypeKey,
    usageTypeVersion: v.usageTypeVersion,
    customerKey: v.customerKey,
    customerId: a.customer.id,
    subscriptionId: a.subscription.id,
    // The plan the subscription was on when the usage happened; rating picks that plan's version in force then.
    pricePlanId: (
      a.subscription.phases.find((p) =>
        isWithin(v.timestamp, new Date(p.startsAt), p.endsAt ? new Date(p.endsAt) : null),
      ) ?? a.subscription.phases[0]!
    ).pricePlan.id,
    aggregateId: aggregateId(a.subscription.id, v.usageTypeKey, periodKey),
    timestamp: v.timestamp,
    periodKey,
    data: v.data,
    value: v.value,
    dimensions: v.dimensions,
    late: false,
    contentHash: v.contentHash,
    correlationId: v.correlationId,
    receivedAt: v.receivedAt,
  };
}
