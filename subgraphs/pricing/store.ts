// The pricing subgraph's collections: price plans and rated charges (append-only revisions).
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import type { Money, RoundingMode } from '../../lib/money';
import type { BreakdownStep, ChargeModel } from './rating';

export type PlanCharge = ChargeModel & { usageTypeKey: string };

export interface PricePlanDoc {
  _id: string;
  key: string;
  version: number;
  name: string;
  currency: string;
  charges: PlanCharge[];
  createdAt: Date;
  correlationId: string;
}

export interface RatedChargeDoc {
  _id: string;
  chargeKey: string;
  revision: number;
  subscriptionId: string;
  customerId: string;
  periodKey: string;
  usageTypeKey: string;
  productLine: string;
  unit: string;
  aggregateId: string;
  eventCount: number;
  pricePlanId: string;
  pricePlanVersion: number;
  model: ChargeModel['model'];
  quantity: string;
  includedQuantity: string;
  billableQuantity: string;
  unitPrice: string;
  exactAmount: string;
  amount: Money;
  rounding: RoundingMode;
  breakdown: BreakdownStep[];
  explanation: string;
  /** What the amount depends on; an unchanged hash means re-rating is a no-op. */
  inputsHash: string;
  ratedAt: Date;
  correlationId: string;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'price_plans', keys: { key: 1, version: 1 }, options: { unique: true } },
  { collection: 'rated_charges', keys: { chargeKey: 1, revision: 1 }, options: { unique: true } },
  { collection: 'rated_charges', keys: { subscriptionId: 1, periodKey: 1 } },
  { collection: 'rated_charges', keys: { aggregateId: 1 } },
];

export interface PricingStore {
  pricePlans: Collection<PricePlanDoc>;
  ratedCharges: Collection<RatedChargeDoc>;
}

export function pricingStore(db: Db): PricingStore {
  return { pricePlans: db.collection<PricePlanDoc>('price_plans'), ratedCharges: db.collection<RatedChargeDoc>('rated_charges') };
}

/** The latest revision of each charge, from any set of revisions. */
export function currentRevisions(docs: readonly RatedChargeDoc[]): RatedChargeDoc[] {
  const latest = new Map<string, RatedChargeDoc>();
  for (const d of docs) {
    const seen = latest.get(d.chargeKey);
    if (!seen || d.revision > seen.revision) latest.set(d.chargeKey, d);
  }
  return [...latest.values()].sort((a, b) => a.usageTypeKey.localeCompare(b.usageTypeKey));
}
