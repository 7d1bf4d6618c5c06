// Query: a customer's usage so far in a period, per usage type — what customer success looks at in a dispute. Read
// from the stored aggregates (subscription × usage type × period) that rating uses, brought up to date the way rating
// brings them (aggregatesForRating: trusted as stored, folded forward, or recomputed), never by reading every event.
import { parsePeriod, periodOf } from '../../lib/period';
import type { AggregateResult } from './aggregation';
import { aggregatesForRating, aggregateId, computeAggregate, type AggregateRequest } from './aggregate-usage';
import { customerUsageFullRead, heldEventCountOf, type CustomerUsage } from './customer-usage-full-read';
import { lookupCustomers } from './enrichment';
import type { UsageAggregateDoc, UsageStore, UsageTypeDoc } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';
import { UsageTally } from './usage-tally';

export type { CustomerUsage };

export async function customerUsage(
  store: UsageStore,
  registry: UsageTypeRegistry,
  customerKey: string,
  periodKey: string | null | undefined,
  correlationId: string,
): Promise<CustomerUsage> {
  const period = periodKey ? parsePeriod(periodKey) : periodOf(new Date());
  const customer = (await lookupCustomers([customerKey])).get(customerKey);
  const subscriptions = customer?.subscriptions ?? [];
  const types = new Map<string, UsageTypeDoc>();
  for (const { key } of await store.usageTypes.find({}, { projection: { key: 1 } }).toArray()) {
    const type = types.has(key) ? null : await registry.forAggregation(key);
    if (type) types.set(key, type);
  }
  const candidates = subscriptions.flatMap((s) =>
    [...types.values()].map((type) => ({ s, type, id: aggregateId(s.id, type.key, period.key) })),
  );
  const stored = new Set(
    candidates.length === 0
      ? []
      : (
          await store.aggregates
            .find({ _id: { $in: candidates.map((c) => c.id) } }, { projection: { _id: 1 } })
            .toArray()
        ).map((a) => a._id),
  );
  // An aggregate never stored counts only with an event (one indexed look-up), or with a level carried into the period.
  const withEvents = await Promise.all(
    candidates.map(
      async (c) => stored.has(c.id) || (await store.events.findOne({ aggregateId: c.id }, { projection: { _id: 1 } })),
    ),
  );
  const request = (c: (typeof candidates)[number]): AggregateRequest => ({
    subscriptionId: c.s.id,
    usageTypeKeys: [c.type.key],
    since: new Date(c.s.startsAt),
  });
  const read = candidates.filter((_, i) => withEvents[i]);
  // Levels carried into a period without events are computed, not stored: a stored aggregate makes later events late.
  const carriedOnly = candidates.filter(
    (c, i) => !withEvents[i] && c.type.aggregation.recurring === true && new Date(c.s.startsAt) < period.start,
  );
  const aggregates = [
    ...(await aggregatesForRating(store, registry, period.key, read.map(request), correlationId)),
    ...(carriedOnly.length > 0
      ? await aggregatesForRating(store, registry, period.key, carriedOnly.map(request), correlationId, {
          persist: false,
        })
      : []),
  ];

  const byType = new Map<string, UsageAggregateDoc[]>();
  for (const [i, { aggregate, type }] of aggregates.entries()) {
    let a = aggregate;
    if (a.lastEventAt === undefined) {
      // Stored before the latest event's time was kept: recomputed once, as rating would.
      const c = [...read, ...carriedOnly][i]!;
      const key = {
        _id: a._id,
        subscriptionId: a.subscriptionId,
        usageTypeKey: a.usageTypeKey,
        periodKey: a.periodKey,
      };
      a = (
        await store.locks.run(a._id, () =>
          computeAggregate(store, key, type, correlationId, { period, since: new Date(c.s.startsAt) }),
        )
      ).aggregate;
    }
    if (a.eventCount === 0 && a.quantity === '0') continue;
    byType.set(type.key, [...(byType.get(type.key) ?? []), a]);
  }

  const usage: CustomerUsage['usage'] = [];
  for (const [key, parts] of [...byType.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const type = types.get(key)!;
    let result: (AggregateResult & { lastEventAt: Date | null }) | undefined;
    if (parts.length === 1) result = { ...resultOf(parts[0]!), lastEventAt: parts[0]!.lastEventAt ?? null };
    else if (parts.every((p) => p.tally)) {
      // Several subscriptions: their tallies merge into what one aggregation over all their events gives.
      const tally = new UsageTally(type.aggregation.type, parts[0]!.tally);
      for (const p of parts.slice(1)) tally.merge(new UsageTally(type.aggregation.type, p.tally));
      const last = parts.flatMap((p) => (p.lastEventAt ? [p.lastEventAt] : []));
      result = { ...tally.result(), lastEventAt: last.length ? new Date(Math.max(...last.map(Number))) : null };
    } else {
      // Unique counts and time-weighted levels do not add up across subscriptions (a unit held in two counts once).
      result = (await customerUsageFullRead(store, registry, customerKey, period.key, [key])).usage.find(
        (u) => u.usageTypeKey === key,
      );
    }
    if (result) usage.push({ ...result, usageTypeKey: key, unit: type.unit });
  }
  const heldEventCount = await heldEventCountOf(store, customerKey, period.key);
  return { customerKey, periodKey: period.key, asOf: new Date(), heldEventCount, usage };
}

const resultOf = (a: UsageAggregateDoc): AggregateResult => ({
  quantity: a.quantity,
  eventCount: a.eventCount,
  groups: a.groups,
});
