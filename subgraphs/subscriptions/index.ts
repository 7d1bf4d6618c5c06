// The subscriptions subgraph: customers, legal entities and subscriptions; the origin of Customer and PlanSubscription.
import type DataLoader from 'dataloader';
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import { loaderByField, loaderOfMany } from '../../lib/loaders';
import { pageById } from '../../lib/pagination';
import { createSubscription } from './create-subscription';
import { cancelSubscription, changeSubscriptionPlan, setContractTerms } from './change-subscription';
import { parsePeriod } from '../../lib/period';
import { upsertCustomer } from './upsert-customer';
import { upsertLegalEntity } from './upsert-legal-entity';
import { addCustomerAlias, customerByKeyLoader } from './customer-aliases';
import {
  bumpDirectoryVersion,
  directoryVersion,
  ensureDefaultLegalEntity,
  indexes,
  phasesOf,
  repairSubscriptionLists,
  subscriptionsOfCustomerLoader,
  subscriptionsStore,
  type CustomerAliasDoc,
  type CustomerDoc,
  type LegalEntityDoc,
  type SubscriptionDoc,
  type SubscriptionsStore,
} from './store';

export interface Context extends BaseContext {
  store: SubscriptionsStore;
  customers: DataLoader<string, CustomerDoc | null>;
  customersByKey: DataLoader<string, CustomerDoc | null>;
  aliasesOfCustomer: DataLoader<string, CustomerAliasDoc[]>;
  legalEntities: DataLoader<string, LegalEntityDoc | null>;
  subscriptions: DataLoader<string, SubscriptionDoc | null>;
  subscriptionsOfCustomer: DataLoader<string, SubscriptionDoc[]>;
}

/** Writes that change how usage is attributed bump the directory version afterwards, so caches of it refetch. */
async function changingDirectory<T>(store: SubscriptionsStore, write: () => Promise<T>): Promise<T> {
  const result = await write();
  await bumpDirectoryVersion(store);
  return result;
}

export const subscriptionsSubgraph: SubgraphDefinition<SubscriptionsStore, Context> = {
  name: 'subscriptions',
  indexes,
  async createServices(db, log) {
    const store = subscriptionsStore(db);
    await ensureDefaultLegalEntity(store);
    const repaired = await repairSubscriptionLists(store);
    if (repaired > 0) log.info({ repaired }, 'listed subscriptions that were missing from their customer');
    return store;
  },
  createContext: (store, base) => ({
    ...base,
    store,
    customers: loaderByField(store.customers),
    customersByKey: customerByKeyLoader(store),
    aliasesOfCustomer: loaderOfMany(store.aliases, 'customerId'),
    legalEntities: loaderByField(store.legalEntities),
    subscriptions: loaderByField(store.subscriptions),
    subscriptionsOfCustomer: subscriptionsOfCustomerLoader(store),
  }),
  resolvers: {
    Query: {
      customer: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.customers.load(id),
      customerByExternalKey: (_: unknown, { externalKey }: { externalKey: string }, ctx: Context) =>
        ctx.customersByKey.load(externalKey),
      customersByExternalKeys: (_: unknown, { externalKeys }: { externalKeys: string[] }, ctx: Context) =>
        ctx.customersByKey.loadMany(externalKeys),
      customers: (_: unknown, args: { first?: number; after?: string }, ctx: Context) =>
        pageById(ctx.store.customers, {}, args.first, args.after),
      subscription: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.subscriptions.load(id),
      subscriptionsActiveIn: (_: unknown, args: { period: string; first?: number; after?: string }, ctx: Context) => {
        const period = parsePeriod(args.period);
        return pageById(
          ctx.store.subscriptions,
          { startsAt: { $lt: period.end }, $or: [{ endsAt: null }, { endsAt: { $gt: period.start } }] },
          args.first,
          args.after,
        );
      },
      legalEntity: (_: unknown, { code }: { code: string }, ctx: Context) => ctx.legalEntities.load(code),
      legalEntities: (_: unknown, __: unknown, ctx: Context) =>
        ctx.store.legalEntities.find().sort({ _id: 1 }).toArray(),
      customerDirectoryVersion: (_: unknown, __: unknown, ctx: Context) => directoryVersion(ctx.store),
    },
    Mutation: {
      upsertLegalEntity: (_: unknown, { input }: { input: unknown }, ctx: Context) =>
        upsertLegalEntity(ctx.store, input),
      upsertCustomer: (_: unknown, { input }: { input: unknown }, ctx: Context) =>
        changingDirectory(ctx.store, () => upsertCustomer(ctx.store, input, ctx.correlationId)),
      createSubscription: (_: unknown, { input }: { input: unknown }, ctx: Context) =>
        changingDirectory(ctx.store, () => createSubscription(ctx.store, input, ctx.correlationId)),
      addCustomerAlias: (_: unknown, a: { customerId: string; alias: string }, ctx: Context) =>
        changingDirectory(ctx.store, () => addCustomerAlias(ctx.store, a.customerId, a.alias, ctx.correlationId)),
      changeSubscriptionPlan: (
        _: unknown,
        a: { subscriptionId: string; pricePlanId: string; effectiveAt: Date },
        ctx: Context,
      ) =>
        changingDirectory(ctx.store, () =>
          changeSubscriptionPlan(ctx.store, a.subscriptionId, a.pricePlanId, a.effectiveAt),
        ),
      cancelSubscription: (_: unknown, a: { subscriptionId: string; endsAt: Date }, ctx: Context) =>
        changingDirectory(ctx.store, () => cancelSubscription(ctx.store, a.subscriptionId, a.endsAt)),
      setContractTerms: (_: unknown, a: { subscriptionId: string; terms: unknown }, ctx: Context) =>
        setContractTerms(ctx.store, a.subscriptionId, a.terms),
    },
    LegalEntity: {
      __resolveReference: (ref: { code: string }, ctx: Context) => ctx.legalEntities.load(ref.code),
      code: (e: LegalEntityDoc) => e._id,
    },
    Customer: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.customers.load(ref.id),
      id: (c: CustomerDoc) => c._id,
      legalEntity: (c: CustomerDoc, _: unknown, ctx: Context) => ctx.legalEntities.load(c.legalEntityCode),
      subscriptions: (c: CustomerDoc, _: unknown, ctx: Context) => ctx.subscriptionsOfCustomer.load(c._id),
      aliases: async (c: CustomerDoc, _: unknown, ctx: Context) =>
        (await ctx.aliasesOfCustomer.load(c._id)).map((a) => a._id),
    },
    PlanSubscription: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.subscriptions.load(ref.id),
      id: (s: SubscriptionDoc) => s._id,
      customer: (s: SubscriptionDoc, _: unknown, ctx: Context) => ctx.customers.load(s.customerId),
      pricePlan: (s: SubscriptionDoc) => {
        const now = new Date();
        const phases = phasesOf(s);
        return { id: ([...phases].reverse().find((p) => p.startsAt <= now) ?? phases[0]!).pricePlanId };
      },
      phases: (s: SubscriptionDoc) => phasesOf(s).map((p) => ({ ...p, pricePlan: { id: p.pricePlanId } })),
      contractTerms: (s: SubscriptionDoc) => s.terms ?? null,
      status: (s: SubscriptionDoc) => (s.endsAt && s.endsAt <= new Date() ? 'ENDED' : 'ACTIVE'),
    },
  },
};
