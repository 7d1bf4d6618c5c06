// The subscriptions subgraph's collections: legal entities, customers, subscriptions.
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { KeyedMutex } from '../../lib/keyed-mutex';
import type { RoundingMode } from '../../lib/money';

export interface LegalEntityDoc {
  _id: string; // code
  name: string;
  functionalCurrency: string;
  roundingMode: RoundingMode;
  createdAt: Date;
  updatedAt: Date;
}

export interface CustomerDoc {
  _id: string;
  externalKey: string;
  name: string;
  currency: string;
  legalEntityCode: string;
  createdAt: Date;
  updatedAt: Date;
  correlationId: string;
}

/** Another key events may use for a customer (e.g. a product's own account id); finance maps them. */
export interface CustomerAliasDoc {
  _id: string; // the alias
  customerId: string;
  createdAt: Date;
  correlationId: string;
}

export interface SubscriptionDoc {
  _id: string;
  customerId: string;
  pricePlanId: string;
  startsAt: Date;
  endsAt: Date | null;
  createdAt: Date;
  correlationId: string;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'customers', keys: { externalKey: 1 }, options: { unique: true } },
  { collection: 'subscriptions', keys: { customerId: 1, startsAt: 1 } },
  { collection: 'customer_aliases', keys: { customerId: 1 } },
];

export interface SubscriptionsStore {
  locks: KeyedMutex;
  legalEntities: Collection<LegalEntityDoc>;
  customers: Collection<CustomerDoc>;
  aliases: Collection<CustomerAliasDoc>;
  subscriptions: Collection<SubscriptionDoc>;
}

export function subscriptionsStore(db: Db): SubscriptionsStore {
  return {
    locks: new KeyedMutex(),
    legalEntities: db.collection<LegalEntityDoc>('legal_entities'),
    customers: db.collection<CustomerDoc>('customers'),
    aliases: db.collection<CustomerAliasDoc>('customer_aliases'),
    subscriptions: db.collection<SubscriptionDoc>('subscriptions'),
  };
}

export const DEFAULT_LEGAL_ENTITY: Omit<LegalEntityDoc, 'createdAt' | 'updatedAt'> = {
  _id: 'DEFAULT',
  name: 'UsageGraph default entity',
  functionalCurrency: 'USD',
  roundingMode: 'HALF_UP',
};

/** The default legal entity exists from the first start, so a customer can be created without configuring one. */
export async function ensureDefaultLegalEntity(store: SubscriptionsStore): Promise<void> {
  const now = new Date();
  await store.legalEntities.updateOne({ _id: DEFAULT_LEGAL_ENTITY._id }, { $setOnInsert: { ...DEFAULT_LEGAL_ENTITY, createdAt: now, updatedAt: now } }, { upsert: true });
}
