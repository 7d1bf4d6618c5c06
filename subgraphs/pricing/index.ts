// The pricing subgraph: price plans and rated charges; contributes ratedCharges to UsageAggregate.
import type DataLoader from 'dataloader';
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import { loaderByField, loaderOfMany } from '../../lib/loaders';
import { pageById } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { createPricePlan } from './create-price-plan';
import { rateBillingPeriod, type RatingResult } from './rate-billing-period';
import { currentRevisions, indexes, pricingStore, type PricePlanDoc, type PricingStore, type RatedChargeDoc } from './store';

interface Context extends BaseContext {
  store: PricingStore;
  plans: DataLoader<string, PricePlanDoc | null>;
  ratedCharges: DataLoader<string, RatedChargeDoc | null>;
  chargesOfAggregate: DataLoader<string, RatedChargeDoc[]>;
}

export const pricingSubgraph: SubgraphDefinition<PricingStore, Context> = {
  name: 'pricing',
  indexes,
  createServices: (db) => pricingStore(db),
  createContext: (store, base) => ({
    ...base,
    store,
    plans: loaderByField(store.pricePlans),
    ratedCharges: loaderByField(store.ratedCharges),
    chargesOfAggregate: loaderOfMany(store.ratedCharges, 'aggregateId', { revision: 1 }),
  }),
  resolvers: {
    Query: {
      pricePlan: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.plans.load(id),
      pricePlans: (_: unknown, args: { first?: number; after?: string }, ctx: Context) => pageById(ctx.store.pricePlans, {}, args.first, args.after),
      ratedCharge: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.ratedCharges.load(id),
      ratedCharges: async (_: unknown, args: { subscriptionId: string; period: string }, ctx: Context) =>
        currentRevisions(await ctx.store.ratedCharges.find({ subscriptionId: args.subscriptionId, periodKey: parsePeriod(args.period).key }).toArray()),
    },
    Mutation: {
      createPricePlan: (_: unknown, { input }: { input: unknown }, ctx: Context) => createPricePlan(ctx.store, input, ctx.correlationId),
      rateBillingPeriod: (_: unknown, args: { subscriptionId: string; period: string }, ctx: Context) => rateBillingPeriod(ctx.store, args.subscriptionId, args.period, ctx.correlationId),
    },
    PricePlan: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.plans.load(ref.id),
      id: (p: PricePlanDoc) => p._id,
    },
    RatedCharge: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.ratedCharges.load(ref.id),
      id: (c: RatedChargeDoc) => c._id,
      subscription: (c: RatedChargeDoc) => ({ id: c.subscriptionId }),
      customer: (c: RatedChargeDoc) => ({ id: c.customerId }),
      period: (c: RatedChargeDoc) => parsePeriod(c.periodKey),
      aggregate: (c: RatedChargeDoc) => ({ id: c.aggregateId }),
      pricePlan: (c: RatedChargeDoc, _: unknown, ctx: Context) => ctx.plans.load(c.pricePlanId),
    },
    RatingResult: {
      subscription: (r: RatingResult) => ({ id: r.subscriptionId }),
    },
    UsageAggregate: {
      __resolveReference: (ref: { id: string }) => ref,
      ratedCharges: (a: { id: string }, _: unknown, ctx: Context) => ctx.chargesOfAggregate.load(a.id),
    },
  },
};
