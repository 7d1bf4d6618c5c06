// The subscriptions subgraph's collections: legal entities, customers, subscriptions.
import { MAX_KEYS_PER_QUERY, queryableKeys } from '../../lib/loaders';
import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import type { Collection, Db, Filter } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { RecordLocks, type RecordLockDoc } from '../../lib/record-locks';
import { deterministicId } from '../../lib/ids';
import type { RoundingMode } from '../../lib/money';
import type { BillingPeriod } from '../../lib/period';

export interface AddressDoc {
  line1: string;
  line2: string | null;
  city: string;
  postalCode: string | null;
  region: string | null;
  country: string;
}

export type TaxRounding = 'PER_LINE' | 'PER_INVOICE';
export type NoteIssuing = 'MANUAL' | 'ON_RERATING' | 'AT_PERIOD_CLOSE';

export interface NotePolicyDoc {
  issuing: NoteIssuing;
  /** Differences smaller than this (either sign) wait. */
  minimumDifference: string;
}

export const DEFAULT_NOTE_POLICY: NotePolicyDoc = { issuing: 'MANUAL', minimumDifference: '0' };

export interface LegalEntityDoc {
  _id: string; // code
  name: string;
  functionalCurrency: string;
  roundingMode: RoundingMode;
  /** Absent on entities written before tax existed: PER_LINE. */
  taxRounding?: TaxRounding;
  notePolicy?: NotePolicyDoc;
  /** YYYY-MM: billing closed early up to and including this period. */
  billingClosedThrough?: string | null;
  address?: AddressDoc | null;
  taxId?: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type TaxExemptionReason = 'REVERSE_CHARGE' | 'EXEMPTION_CERTIFICATE' | 'EXEMPT_ORGANIZATION';

export interface TaxExemptionDoc {
  reason: TaxExemptionReason;
  certificateId: string | null;
}

export interface CustomerDoc {
  _id: string;
  externalKey: string;
  name: string;
  currency: string;
  legalEntityCode: string;
  billingAddress?: AddressDoc | null;
  /** Set explicitly; else derived from the billing address (see taxJurisdictionOf). */
  taxJurisdiction?: string | null;
  taxId?: string | null;
  taxExemption?: TaxExemptionDoc | null;
  createdAt: Date;
  updatedAt: Date;
  correlationId: string;
}

/** The jurisdiction a customer is taxed in: the one set on it, else country and region of its billing address. */
export function taxJurisdictionOf(c: Pick<CustomerDoc, 'taxJurisdiction' | 'billingAddress'>): string | null {
  if (c.taxJurisdiction) return c.taxJurisdiction;
  const a = c.billingAddress;
  if (!a) return null;
  return a.region ? `${a.country}-${a.region}` : a.country;
}

/** Another key events may use for a customer (e.g. a product's own account id); finance maps them. */
export interface CustomerAliasDoc {
  _id: string; // the alias
  customerId: string;
  createdAt: Date;
  correlationId: string;
}

/** A stretch of a subscription on one price plan; a plan change ends one phase and starts the next. */
export interface SubscriptionPhase {
  pricePlanId: string;
  startsAt: Date;
  endsAt: Date | null;
}

/** Negotiated terms of a subscription's contract; rating checks them against finance's pricing policy. */
export interface ContractTerms {
  /** Minimum spend per full billing period, in the plan's currency. */
  minimumCommitment: string | null;
  /** Per-unit prices that replace the plan's for these usage types. */
  unitPriceOverrides: Array<{ usageTypeKey: string; unitPrice: string }>;
  /** Percent off usage charges and recurring fees, e.g. "12.5". */
  discountPercent: string | null;
  version: number;
  setAt: Date;
}

export interface SubscriptionDoc {
  _id: string;
  customerId: string;
  /** The plan it started on (the first phase's). */
  pricePlanId: string;
  startsAt: Date;
  endsAt: Date | null;
  /** endsAt as ISO text, or OPEN_ENDED: a string range the embedded database reads from an index (see activeIn). */
  endsAtOrOpen: string;
  /** Absent on subscriptions that never changed plan: then one phase spans the whole subscription. */
  phases?: SubscriptionPhase[];
  terms?: ContractTerms | null;
  createdAt: Date;
  updatedAt?: Date;
  correlationId: string;
}

/** endsAtOrOpen of a subscription without an end (or one past year 9999): after the start of every billing period. */
export const OPEN_ENDED = '9999-12-31T23:59:59.999Z';

/** What every write of a subscription stores in endsAtOrOpen; ISO text of four-digit years orders as the instants do. */
export function endsAtOrOpen(endsAt: Date | null): string {
  return endsAt && endsAt.getUTCFullYear() <= 9999 ? endsAt.toISOString() : OPEN_ENDED;
}

/**
 * Subscriptions active at some time in a period, without an $or (FerretDB pushes nothing under one): one string range
 * on the {endsAtOrOpen, _id} index, startsAt checked beside it.
 */
export function activeIn(period: BillingPeriod): Filter<SubscriptionDoc> {
  return { endsAtOrOpen: { $gt: period.start.toISOString() }, startsAt: { $lt: period.end } };
}

export function phasesOf(s: SubscriptionDoc): SubscriptionPhase[] {
  return s.phases ?? [{ pricePlanId: s.pricePlanId, startsAt: s.startsAt, endsAt: s.endsAt }];
}

/**
 * Which subscriptions a customer has, kept under the customer's id: a customer's subscriptions are then two look-ups
 * by _id (all FerretDB can answer without reading the whole collection) instead of a query on customerId.
 */
export interface CustomerSubscriptionsDoc {
  _id: string; // customer id
  subscriptionIds: string[];
}

/** Changes whenever anything that attributes usage changes (customers, aliases, subscriptions): lets readers cache safely. */
export interface DirectoryVersionDoc {
  _id: 'directory';
  token: string;
  changedAt: Date;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'customers', keys: { externalKey: 1 }, options: { unique: true } },
  { collection: 'subscriptions', keys: { customerId: 1, startsAt: 1 } },
  { collection: 'subscriptions', keys: { endsAtOrOpen: 1, _id: 1 } },
  { collection: 'customer_aliases', keys: { customerId: 1 } },
];

export interface SubscriptionsStore {
  /** Read-modify-write on one record, exclusive across every process of this subgraph (lib/record-locks.ts). */
  locks: RecordLocks;
  legalEntities: Collection<LegalEntityDoc>;
  customers: Collection<CustomerDoc>;
  aliases: Collection<CustomerAliasDoc>;
  subscriptionsByCustomer: Collection<CustomerSubscriptionsDoc>;
  directoryVersion: Collection<DirectoryVersionDoc>;
  subscriptions: Collection<SubscriptionDoc>;
}

export function subscriptionsStore(db: Db): SubscriptionsStore {
  return {
    locks: new RecordLocks(db.collection<RecordLockDoc>('record_locks')),
    legalEntities: db.collection<LegalEntityDoc>('legal_entities'),
    customers: db.collection<CustomerDoc>('customers'),
    aliases: db.collection<CustomerAliasDoc>('customer_aliases'),
    subscriptionsByCustomer: db.collection<CustomerSubscriptionsDoc>('subscriptions_by_customer'),
    directoryVersion: db.collection<DirectoryVersionDoc>('directory_version'),
    subscriptions: db.collection<SubscriptionDoc>('subscriptions'),
  };
}

export const DEFAULT_LEGAL_ENTITY: Omit<LegalEntityDoc, 'createdAt' | 'updatedAt'> = {
  _id: 'DEFAULT',
  name: 'UsageGraph default entity',
  functionalCurrency: 'USD',
  roundingMode: 'HALF_UP',
  taxRounding: 'PER_LINE',
  notePolicy: DEFAULT_NOTE_POLICY,
  billingClosedThrough: null,
  address: null,
  taxId: null,
};

/** The default legal entity exists from the first start, so a customer can be created without configuring one. */
export async function ensureDefaultLegalEntity(store: SubscriptionsStore): Promise<void> {
  const now = new Date();
  await store.legalEntities.updateOne(
    { _id: DEFAULT_LEGAL_ENTITY._id },
    { $setOnInsert: { ...DEFAULT_LEGAL_ENTITY, createdAt: now, updatedAt: now } },
    { upsert: true },
  );
}

/** A customer's id derives from its external key, so a look-up by key is a look-up by _id. */
export function customerId(externalKey: string): string {
  return deterministicId('cus', externalKey);
}

/** Records a subscription under its customer, before the subscription itself is written (a crash leaves only a dangling id, which readers skip). */
export async function listSubscription(
  store: SubscriptionsStore,
  customerId: string,
  subscriptionId: string,
): Promise<void> {
  const doc = await store.subscriptionsByCustomer.findOne({ _id: customerId });
  if (doc?.subscriptionIds.includes(subscriptionId)) return;
  await store.subscriptionsByCustomer.replaceOne(
    { _id: customerId },
    { subscriptionIds: [...(doc?.subscriptionIds ?? []), subscriptionId] },
    { upsert: true },
  );
}

/**
 * At start-up: lists any subscription missing from its customer's list (written before the list existed, or cut off),
 * and stores endsAtOrOpen where it is missing or stale (written before the field existed). Both are idempotent.
 */
export async function repairSubscriptionLists(store: SubscriptionsStore): Promise<number> {
  const listed = new Set((await store.subscriptionsByCustomer.find().toArray()).flatMap((d) => d.subscriptionIds));
  let repaired = 0;
  const fields = { _id: 1, customerId: 1, endsAt: 1, endsAtOrOpen: 1 };
  for await (const s of store.subscriptions.find({}, { projection: fields })) {
    const unlisted = !listed.has(s._id);
    if (!unlisted && s.endsAtOrOpen === endsAtOrOpen(s.endsAt)) continue;
    await store.locks.run(`subscriptions-of:${s.customerId}`, async () => {
      if (unlisted) await listSubscription(store, s.customerId, s._id);
      // Re-read under the lock: a cancellation since the walk read it may have moved endsAt.
      const current = await store.subscriptions.findOne({ _id: s._id });
      if (current && current.endsAtOrOpen !== endsAtOrOpen(current.endsAt))
        await store.subscriptions.updateOne({ _id: s._id }, { $set: { endsAtOrOpen: endsAtOrOpen(current.endsAt) } });
    });
    repaired++;
  }
  return repaired;
}

/** Each customer's subscriptions, by start then id, with one _id look-up for the lists and one for the subscriptions. */
export function subscriptionsOfCustomerLoader(store: SubscriptionsStore): DataLoader<string, SubscriptionDoc[]> {
  return new DataLoader(
    async (customerIds) => {
      const queryable = queryableKeys(customerIds);
      const lists = new Map(
        (queryable.length ? await store.subscriptionsByCustomer.find({ _id: { $in: queryable } }).toArray() : []).map(
          (d) => [d._id, d.subscriptionIds],
        ),
      );
      const ids = [...lists.values()].flat();
      const subs = new Map(
        (ids.length ? await store.subscriptions.find({ _id: { $in: ids } }).toArray() : []).map((s) => [s._id, s]),
      );
      return customerIds.map((c) =>
        (lists.get(c) ?? [])
          .flatMap((id) => subs.get(id) ?? [])
          .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime() || (a._id < b._id ? -1 : 1)),
      );
    },
    { maxBatchSize: MAX_KEYS_PER_QUERY },
  );
}

/** Called after every write that changes how usage is attributed; the new token tells caches to refetch. */
export async function bumpDirectoryVersion(store: SubscriptionsStore): Promise<void> {
  await store.directoryVersion
    .replaceOne({ _id: 'directory' }, { token: randomUUID(), changedAt: new Date() }, { upsert: true })
    .catch(async () => {
      await store.directoryVersion.replaceOne({ _id: 'directory' }, { token: randomUUID(), changedAt: new Date() });
    });
}

export async function directoryVersion(store: SubscriptionsStore): Promise<string> {
  const doc = await store.directoryVersion.findOne({ _id: 'directory' });
  if (doc) return doc.token;
  await bumpDirectoryVersion(store);
  return (await store.directoryVersion.findOne({ _id: 'directory' }))!.token;
}
