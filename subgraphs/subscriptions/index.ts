// The subscriptions subgraph: customers, legal entities and subscriptions; the origin of Customer and PlanSubscription.
import type DataLoader from 'dataloader';
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import type { Resolvers } from './generated/resolvers-types';
import { loadReferenced, loaderByField, loaderOfMany } from '../../lib/loaders';
import { pageById } from '../../lib/pagination';
import { createSubscription } from './create-subscription';
import { cancelSubscription, changeSubscriptionPlan, setContractTerms } from './change-subscription';
import { parsePeriod } from '../../lib/period';
import { upsertCustomer } from './upsert-customer';
import { closeBillingPeriodEarly, upsertLegalEntity } from './upsert-legal-entity';
import { addCustomerAlias, customerByKeyLoader } from './customer-aliases';
import {
  bumpDirectoryVersion,
  directoryVersion,
  ensureDefaultLegalEntity,
  indexes,
  phasesOf,
  activeIn,
  repairSubscriptionLists,
  subscriptionsOfCustomerLoader,
  subscriptionsStore,
  taxJurisdictionOf,
  DEFAULT_NOTE_POLICY,
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

export const subscriptionsSubgraph: SubgraphDefinition<SubscriptionsStore, Context, Resolvers> = {
  name: 'subscriptions',
  indexes,
  async createServices(db, log) {
    const store = subscriptionsStore(db);
    await ensureDefaultLegalEntity(store);
    const repaired = await repairSubscriptionLists(store);
    if (repaired > 0)
      log.info({ repaired }, 'listed subscriptions missing from their customer, or stored their endsAtOrOpen');
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
      customer: (_, { id }, ctx) => ctx.customers.load(id),
      customerByExternalKey: (_, { externalKey }, ctx) => ctx.customersByKey.load(externalKey),
      // A failed key's Error stays in its place and graphql-js reports it as that item's error; the types have no Error.
      customersByExternalKeys: (_, { externalKeys }, ctx) =>
        ctx.customersByKey.loadMany(externalKeys) as Promise<Array<CustomerDoc | null>>,
      customers: (_, args, ctx) => pageById(ctx.store.customers, {}, args.first, args.after),
      subscription: (_, { id }, ctx) => ctx.subscriptions.load(id),
      subscriptionsActiveIn: (_, args, ctx) => {
        const active = activeIn(parsePeriod(args.period));
        // A first page starts from the lowest id too, so SQLite walks the _id index rather than sort every match.
        return pageById(
          ctx.store.subscriptions,
          args.after ? active : { ...active, _id: { $gte: '' } },
          args.first,
          args.after,
        );
      },
      subscriptionsActiveInCount: (_, args, ctx) =>
        ctx.store.subscriptions.countDocuments(activeIn(parsePeriod(args.period))),
      legalEntity: (_, { code }, ctx) => ctx.legalEntities.load(code),
      legalEntities: (_, __, ctx) => ctx.store.legalEntities.find().sort({ _id: 1 }).toArray(),
      customerDirectoryVersion: (_, __, ctx) => directoryVersion(ctx.store),
    },
    Mutation: {
      upsertLegalEntity: (_, { input }, ctx) => upsertLegalEntity(ctx.store, input),
      upsertCustomer: (_, { input }, ctx) =>
        changingDirectory(ctx.store, () => upsertCustomer(ctx.store, input, ctx.correlationId)),
      createSubscription: (_, { input }, ctx) =>
        changingDirectory(ctx.store, () => createSubscription(ctx.store, input, ctx.correlationId)),
      addCustomerAlias: (_, a, ctx) =>
        changingDirectory(ctx.store, () => addCustomerAlias(ctx.store, a.customerId, a.alias, ctx.correlationId)),
      changeSubscriptionPlan: (_, a, ctx) =>
        changingDirectory(ctx.store, () =>
          changeSubscriptionPlan(ctx.store, a.subscriptionId, a.pricePlanId, a.effectiveAt),
        ),
      cancelSubscription: (_, a, ctx) =>
        changingDirectory(ctx.store, () => cancelSubscription(ctx.store, a.subscriptionId, a.endsAt)),
      setContractTerms: (_, a, ctx) => setContractTerms(ctx.store, a.subscriptionId, a.terms),
      closeBillingPeriodEarly: (_, a, ctx) => closeBillingPeriodEarly(ctx.store, a.legalEntityCode, a.period),
    },
    LegalEntity: {
      __resolveReference: (ref, ctx) => ctx.legalEntities.load(ref.code),
      code: (e) => e._id,
      taxRounding: (e) => e.taxRounding ?? 'PER_LINE',
      notePolicy: (e) => e.notePolicy ?? DEFAULT_NOTE_POLICY,
      billingClosedThrough: (e) => e.billingClosedThrough ?? null,
      address: (e) => e.address ?? null,
      taxId: (e) => e.taxId ?? null,
    },
    Customer: {
      __resolveReference: (ref, ctx) => ctx.customers.load(ref.id),
      id: (c) => c._id,
      legalEntity: (c, _, ctx) => loadReferenced(ctx.legalEntities, c.legalEntityCode, 'legal entity'),
      subscriptions: (c, _, ctx) => ctx.subscriptionsOfCustomer.load(c._id),
      aliases: async (c, _, ctx) => (await ctx.aliasesOfCustomer.load(c._id)).map((a) => a._id),
      billingAddress: (c) => c.billingAddress ?? null,
      taxJurisdiction: (c) => taxJurisdictionOf(c),
      taxId: (c) => c.taxId ?? null,
      taxExemption: (c) => c.taxExemption ?? null,
    },
    PlanSubscription: {
      __resolveReference: (ref, ctx) => ctx.subscriptions.load(ref.id),
      id: (s) => s._id,
      customer: (s, _, ctx) => loadReferenced(ctx.customers, s.customerId, 'customer'),
      pricePlan: (s) => {
        const now = new Date();
        const phases = phasesOf(s);
        return { id: ([...phases].reverse().find((p) => p.startsAt <= now) ?? phases[0]!).pricePlanId };
      },
      phases: (s) => phasesOf(s).map((p) => ({ ...p, pricePlan: { id: p.pricePlanId } })),
      contractTerms: (s) => s.terms ?? null,
      status: (s) => (s.endsAt && s.endsAt <= new Date() ? 'ENDED' : 'ACTIVE'),
    },
  },
};
