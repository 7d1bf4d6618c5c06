// The pricing subgraph's collections: plan versions, rated charges (append-only revisions), the pricing policy, its
// exceptions and their approvals. Differences against invoices are the invoices subgraph's (it holds the notes).
import type { SpendingAlertDoc, SpendingAlertTriggerDoc } from './spending-alerts';
import type { UsageThreshold, UsageThresholdCrossingDoc } from './usage-thresholds';
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import { RecordLocks, type RecordLockDoc } from '../../lib/record-locks';
import { Outbox } from '../../lib/outbox';
import type { Money, RoundingMode } from '../../lib/money';
import type { BreakdownStep } from './rating';
import { chargeAsStored } from './charge-input';
import type { LineKind, PlanCharge, PlanVersion, RecurringFee } from './rate-subscription-period';

export type { PlanCharge };

export interface PricePlanDoc {
  _id: string;
  key: string;
  version: number;
  name: string;
  currency: string;
  interval: 'MONTHLY';
  /** From this instant this version prices usage and fees (the first version: from the beginning). */
  effectiveFrom: Date;
  charges: PlanCharge[];
  recurringFees: RecurringFee[];
  minimumCommitment: string | null;
  /** Progressive billing: amount thresholds of a period's accrued usage; absent on plans written before them (none). */
  usageThresholds?: UsageThreshold[];
  createdAt: Date;
  correlationId: string;
}

export function planVersionOf(doc: PricePlanDoc): PlanVersion {
  return {
    id: doc._id,
    key: doc.key,
    version: doc.version,
    currency: doc.currency,
    effectiveFrom: doc.effectiveFrom ?? new Date(0),
    charges: doc.charges.map(chargeAsStored),
    recurringFees: doc.recurringFees ?? [],
    minimumCommitment: doc.minimumCommitment ?? null,
  };
}

export interface RatedChargeDoc {
  _id: string;
  /** Same for every revision of this subscription, period and line. */
  chargeKey: string;
  lineKey: string;
  revision: number;
  kind: LineKind;
  /** A line a re-rating no longer produces: kept as a zero revision so the current set is always the latest revisions. */
  voided: boolean;
  subscriptionId: string;
  customerId: string;
  periodKey: string;
  servicePeriod: { from: Date; to: Date };
  usageTypeKey: string | null;
  feeKey: string | null;
  productLine: string;
  unit: string;
  aggregateId: string | null;
  eventCount: number;
  pricePlanId: string | null;
  pricePlanVersion: number | null;
  model: string | null;
  quantity: string;
  includedQuantity: string;
  billableQuantity: string;
  unitPrice: string;
  exactAmount: string;
  amount: Money;
  rounding: RoundingMode;
  termsVersion: number | null;
  breakdown: BreakdownStep[];
  explanation: string;
  /** What the amount depends on; an unchanged hash means re-rating is a no-op. */
  inputsHash: string;
  ratedAt: Date;
  correlationId: string;
}

/** Finance's limits on negotiated terms. */
export interface PricingPolicyDoc {
  _id: 'policy';
  maxDiscountPercent: string | null;
  unitPriceRanges: Array<{ usageTypeKey: string; minimum: string | null; maximum: string | null }>;
  updatedAt: Date;
}

export interface PolicyViolation {
  field: string;
  reason: string;
  allowed: string;
}

/** A contract outside policy: its charges are held until finance approves these terms or the terms are corrected. */
export interface PricingExceptionDoc {
  _id: string;
  subscriptionId: string;
  customerId: string;
  termsVersion: number;
  violations: PolicyViolation[];
  status: 'OPEN' | 'APPROVED' | 'RESOLVED';
  /** Periods whose rating waits on this exception. */
  heldPeriods: string[];
  createdAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  correlationId: string;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'spending_alerts', keys: { customerId: 1 } },
  { collection: 'spending_alert_triggers', keys: { alertId: 1, periodKey: 1 } },
  { collection: 'price_plans', keys: { key: 1, version: 1 }, options: { unique: true } },
  { collection: 'usage_threshold_crossings', keys: { subscriptionId: 1, periodKey: 1 } },
  { collection: 'rated_charges', keys: { chargeKey: 1, revision: 1 }, options: { unique: true } },
  { collection: 'rated_charges', keys: { subscriptionId: 1, periodKey: 1 } },
  { collection: 'rated_charges', keys: { aggregateId: 1 } },
  // Reconciliation reads a whole period's charges, a page at a time.
  { collection: 'rated_charges', keys: { periodKey: 1, _id: 1 } },
  { collection: 'pricing_exceptions', keys: { subscriptionId: 1 } },
  // The work queue pages by status, oldest first.
  { collection: 'pricing_exceptions', keys: { status: 1, createdAt: 1, _id: 1 } },
];

export interface PricingStore {
  /** Read-modify-write on one record, exclusive across every process of this subgraph (lib/record-locks.ts). */
  locks: RecordLocks;
  /** Business events raised by this subgraph, forwarded to the events subgraph (lib/outbox.ts). */
  outbox: Outbox;
  pricePlans: Collection<PricePlanDoc>;
  ratedCharges: Collection<RatedChargeDoc>;
  policy: Collection<PricingPolicyDoc>;
  exceptions: Collection<PricingExceptionDoc>;
  spendingAlerts: Collection<SpendingAlertDoc>;
  /** One per alert and period it fired in (the insert that makes it fire once). */
  spendingAlertTriggers: Collection<SpendingAlertTriggerDoc>;
  /** One per subscription, period and threshold crossed (the insert that makes a progressive invoice happen once). */
  usageThresholdCrossings: Collection<UsageThresholdCrossingDoc>;
}

export function pricingStore(db: Db): PricingStore {
  return {
    locks: new RecordLocks(db.collection<RecordLockDoc>('record_locks')),
    outbox: new Outbox(db, 'pricing'),
    pricePlans: db.collection<PricePlanDoc>('price_plans'),
    ratedCharges: db.collection<RatedChargeDoc>('rated_charges'),
    policy: db.collection<PricingPolicyDoc>('pricing_policy'),
    exceptions: db.collection<PricingExceptionDoc>('pricing_exceptions'),
    spendingAlerts: db.collection<SpendingAlertDoc>('spending_alerts'),
    spendingAlertTriggers: db.collection<SpendingAlertTriggerDoc>('spending_alert_triggers'),
    usageThresholdCrossings: db.collection<UsageThresholdCrossingDoc>('usage_threshold_crossings'),
  };
}

/** The latest revision of each charge, from any set of revisions (voided lines included; callers drop them). */
export function currentRevisions(docs: readonly RatedChargeDoc[]): RatedChargeDoc[] {
  const latest = new Map<string, RatedChargeDoc>();
  for (const d of docs) {
    const seen = latest.get(d.chargeKey);
    if (!seen || d.revision > seen.revision) latest.set(d.chargeKey, d);
  }
  return [...latest.values()].sort((a, b) => (a.lineKey ?? a.chargeKey).localeCompare(b.lineKey ?? b.chargeKey));
}
