// Pure: one subscription's billing period → its rated lines (usage charges, recurring fees, commitment true-up).
// Segments follow plan changes and plan versions, so usage is rated against the plan in force when it happened.
// No I/O: the shell (rating-run.ts) loads plans, terms and usage, calls this, and stores what comes back.
import { Dec, money, roundToMinorUnit, sumMoney, type Money, type RoundingMode } from '../../lib/money';
import { periodOf, type BillingPeriod } from '../../lib/period';
import { prorateExact, prorationFactor, isFullPeriod } from './proration';
import { commitmentTrueUp, rateCharge, type BreakdownStep, type ChargeModel } from './rating';

export type PlanCharge = ChargeModel & { usageTypeKey: string };

export interface RecurringFee {
  key: string;
  description: string;
  /** For a full billing period. */
  amount: string;
  timing: 'IN_ADVANCE' | 'IN_ARREARS';
  productLine: string;
}

export interface PlanVersion {
  id: string;
  key: string;
  version: number;
  currency: string;
  effectiveFrom: Date;
  charges: PlanCharge[];
  recurringFees: RecurringFee[];
  minimumCommitment: string | null;
}

export interface Terms {
  minimumCommitment: string | null;
  unitPriceOverrides: Array<{ usageTypeKey: string; unitPrice: string }>;
  discountPercent: string | null;
  version: number;
}

export interface SubscriptionForRating {
  id: string;
  startsAt: Date;
  endsAt: Date | null;
  rounding: RoundingMode;
  /** Each phase with every version of its plan, oldest first. */
  phases: Array<{ startsAt: Date; endsAt: Date | null; planVersions: PlanVersion[] }>;
  terms: Terms | null;
}

export interface Segment {
  from: Date;
  to: Date;
  plan: PlanVersion;
}

export interface UsageSegment {
  usageTypeKey: string;
  from: Date;
  to: Date;
  quantity: string;
  eventCount: number;
  values: string[] | null;
  /** Exact sums of data fields over the segment's events, where rating asked for them (DYNAMIC price fields). */
  fieldTotals?: Record<string, string> | null;
  aggregateId: string;
  productLine: string;
  unit: string;
}

export type LineKind = 'USAGE' | 'FEE' | 'COMMITMENT';

export interface RatedLine {
  /** Stable within a subscription and period: re-rating compares lines by it. */
  lineKey: string;
  kind: LineKind;
  usageTypeKey: string | null;
  feeKey: string | null;
  servicePeriod: { from: Date; to: Date };
  plan: { id: string; version: number } | null;
  model: string | null;
  quantity: string;
  includedQuantity: string;
  billableQuantity: string;
  unitPrice: string;
  exactAmount: string;
  amount: Money;
  breakdown: BreakdownStep[];
  explanation: string;
  productLine: string;
  unit: string;
  aggregateId: string | null;
  eventCount: number;
}

const FOREVER = new Date(8.64e15);

/** The plan version in force at an instant: the newest that took effect by then (the first, before any did). */
export function versionAt(versions: readonly PlanVersion[], at: Date): PlanVersion {
  let found = versions[0]!;
  for (const v of versions) if (v.effectiveFrom <= at) found = v;
  return found;
}

/** The stretches of a period with one plan version each: split at plan changes and at new versions taking effect. */
export function segmentsOf(sub: SubscriptionForRating, period: BillingPeriod): Segment[] {
  const segments: Segment[] = [];
  for (const phase of sub.phases) {
    const from = new Date(Math.max(phase.startsAt.getTime(), period.start.getTime()));
    const to = new Date(
      Math.min((phase.endsAt ?? FOREVER).getTime(), (sub.endsAt ?? FOREVER).getTime(), period.end.getTime()),
    );
    if (from >= to) continue;
    const cuts = phase.planVersions.map((v) => v.effectiveFrom).filter((t) => t > from && t < to);
    const edges = [from, ...cuts.sort((a, b) => a.getTime() - b.getTime()), to];
    for (let i = 0; i < edges.length - 1; i++)
      segments.push({ from: edges[i]!, to: edges[i + 1]!, plan: versionAt(phase.planVersions, edges[i]!) });
  }
  return segments;
}

/**
 * What rating needs from usage for this period: the usage types, where to split, which need per-event values, and
 * which data fields must be summed (the price fields of DYNAMIC charges).
 */
export function usageNeeds(
  sub: SubscriptionForRating,
  period: BillingPeriod,
): {
  usageTypeKeys: string[];
  boundaries: Date[];
  valuesFor: string[];
  fieldTotals?: Array<{ usageTypeKey: string; field: string }>;
  since: Date;
} {
  const segments = segmentsOf(sub, period);
  const charges = segments.flatMap((s) => s.plan.charges);
  const totals = new Map<string, { usageTypeKey: string; field: string }>();
  for (const c of charges)
    if (c.model === 'DYNAMIC')
      totals.set(`${c.usageTypeKey}\u0000${c.priceField}`, { usageTypeKey: c.usageTypeKey, field: c.priceField });
  return {
    usageTypeKeys: [...new Set(charges.map((c) => c.usageTypeKey))],
    boundaries: segments.slice(1).map((s) => s.from),
    valuesFor: [...new Set(charges.filter((c) => c.model === 'PERCENTAGE').map((c) => c.usageTypeKey))],
    // Left out when empty, so a usage request without dynamic charges reads exactly as it always did.
    ...(totals.size > 0 ? { fieldTotals: [...totals.values()] } : {}),
    // Where a recurring usage type's carry begins: no need for the usage subgraph to look it up.
    since: sub.startsAt,
  };
}

const iso = (d: Date) => d.toISOString();
/** An exact value as a person reads it: a long fraction (10/31 of a fee) is cut at 10 places with an ellipsis. */
const shown = (d: Dec) =>
  d.decimalPlaces() > 10 ? `${d.toDecimalPlaces(10, Dec.ROUND_DOWN).toFixed()}…` : d.toFixed();
const day = (d: Date) => iso(d).slice(0, 10);

function withTerms(charge: PlanCharge, terms: Terms | null): { charge: PlanCharge; note: string } {
  const override = terms?.unitPriceOverrides.find((o) => o.usageTypeKey === charge.usageTypeKey);
  if (!override) return { charge, note: '' };
  if (charge.model !== 'PER_UNIT')
    return {
      charge,
      note: ` (the negotiated unit price ${override.unitPrice} does not apply to a ${charge.model.toLowerCase()} charge)`,
    };
  return {
    charge: { ...charge, unitPrice: override.unitPrice },
    note: ` (negotiated unit price; the plan says ${charge.unitPrice})`,
  };
}

/** The contract's discount, applied to the exact amount before the line's one rounding. */
function discounted(
  exact: Dec,
  currency: string,
  rounding: RoundingMode,
  terms: Terms | null,
): { exact: Dec; amount: Money; step: BreakdownStep | null; note: string } {
  const percent = terms?.discountPercent ? new Dec(terms.discountPercent) : new Dec(0);
  if (percent.isZero())
    return { exact, amount: money(roundToMinorUnit(exact, currency, rounding), currency), step: null, note: '' };
  const off = exact.times(percent).dividedBy(100);
  const net = exact.minus(off);
  const amount = money(roundToMinorUnit(net, currency, rounding), currency);
  return {
    exact: net,
    amount,
    step: {
      description: `contract discount ${percent.toFixed()} %`,
      units: '1',
      unitPrice: off.negated().toFixed(),
      amount: off.negated().toFixed(),
    },
    note: `; ${percent.toFixed()} % contract discount −${shown(off)} = ${shown(net)} ${currency}${net.eq(amount.amount) ? '' : ` → ${amount.amount}`}`,
  };
}

function usageLine(
  segment: Segment,
  full: boolean,
  planCharge: PlanCharge,
  usage: UsageSegment,
  sub: SubscriptionForRating,
): RatedLine {
  const { currency } = segment.plan;
  const { charge, note } = withTerms(planCharge, sub.terms);
  const rated = rateCharge(
    charge,
    {
      quantity: usage.quantity,
      events: usage.values?.map((amount) => ({ amount })),
      fieldTotals: usage.fieldTotals ?? undefined,
      eventCount: usage.eventCount,
    },
    { currency, rounding: sub.rounding },
  );
  const d = discounted(new Dec(rated.exactAmount), currency, sub.rounding, sub.terms);
  const during = full ? '' : `${day(segment.from)} to ${day(new Date(segment.to.getTime() - 1))}: `;
  return {
    lineKey: `USAGE:${planCharge.usageTypeKey}:${iso(segment.from)}`,
    kind: 'USAGE',
    usageTypeKey: planCharge.usageTypeKey,
    feeKey: null,
    servicePeriod: { from: segment.from, to: segment.to },
    plan: { id: segment.plan.id, version: segment.plan.version },
    model: charge.model,
    quantity: rated.quantity,
    includedQuantity:
      charge.model === 'PER_UNIT' ? charge.includedQuantity : charge.model === 'PACKAGE' ? charge.freeUnits : '0',
    billableQuantity: rated.billableQuantity,
    unitPrice: charge.model === 'PER_UNIT' ? charge.unitPrice : charge.model === 'PACKAGE' ? charge.packagePrice : '0',
    exactAmount: d.step ? d.exact.toFixed() : rated.exactAmount,
    amount: d.step ? d.amount : rated.amount,
    breakdown: d.step ? [...rated.breakdown, d.step] : rated.breakdown,
    explanation: `${during}${rated.explanation}${note}${d.note}`,
    productLine: usage.productLine,
    unit: usage.unit,
    aggregateId: usage.aggregateId,
    eventCount: usage.eventCount,
  };
}

function feeLine(
  segment: Segment,
  servicePeriod: BillingPeriod,
  fee: RecurringFee,
  sub: SubscriptionForRating,
): RatedLine {
  const { currency } = segment.plan;
  const factor = prorationFactor(segment.from, segment.to, servicePeriod.start, servicePeriod.end);
  const exact = prorateExact(new Dec(fee.amount), factor);
  const d = discounted(exact, currency, sub.rounding, sub.terms);
  const prorated = isFullPeriod(factor)
    ? ''
    : ` × ${factor} of ${servicePeriod.key} (${day(segment.from)} to ${day(new Date(segment.to.getTime() - 1))}) = ${shown(exact)} ${currency}`;
  const rounded = d.step || exact.eq(d.amount.amount) ? '' : ` → ${d.amount.amount}`;
  return {
    lineKey: `FEE:${fee.key}:${iso(segment.from)}`,
    kind: 'FEE',
    usageTypeKey: null,
    feeKey: fee.key,
    servicePeriod: { from: segment.from, to: segment.to },
    plan: { id: segment.plan.id, version: segment.plan.version },
    model: null,
    // One fee; the share of the period it covers is in the breakdown's description and the explanation.
    quantity: '1',
    includedQuantity: '0',
    billableQuantity: '1',
    unitPrice: fee.amount,
    exactAmount: d.exact.toFixed(),
    amount: d.amount,
    breakdown: [
      {
        description: `${fee.description}${isFullPeriod(factor) ? '' : `, ${factor} of ${servicePeriod.key}`}`,
        units: '1',
        unitPrice: exact.toFixed(),
        amount: exact.toFixed(),
      },
      ...(d.step ? [d.step] : []),
    ],
    explanation: `${fee.description} (${fee.timing === 'IN_ADVANCE' ? 'in advance' : 'in arrears'}) for ${servicePeriod.key}: ${fee.amount} ${currency}${prorated}${rounded}${d.note}`,
    productLine: fee.productLine,
    unit: 'period',
    aggregateId: null,
    eventCount: 0,
  };
}

/**
 * The lines of one subscription for one period:
 * - usage charges per segment, against that segment's plan version (with negotiated prices and discount);
 * - fees in arrears for this period, and fees in advance for the next one (and, in the first period, for it too),
 *   prorated by day;
 * - a true-up to the minimum commitment (contract terms first, else the plan's), prorated by active days.
 */
export function rateSubscriptionPeriod(
  sub: SubscriptionForRating,
  period: BillingPeriod,
  usage: readonly UsageSegment[],
): RatedLine[] {
  const segments = segmentsOf(sub, period);
  if (segments.length === 0) return [];
  const currency = segments[0]!.plan.currency;
  const lines: RatedLine[] = [];
  const usageOf = (key: string, s: Segment) =>
    usage.find((u) => u.usageTypeKey === key && u.from.getTime() === s.from.getTime()) ??
    usage.find((u) => u.usageTypeKey === key && u.from <= s.from && u.to >= s.to);
  const wholePeriod =
    segments.length === 1 &&
    segments[0]!.from.getTime() === period.start.getTime() &&
    segments[0]!.to.getTime() === period.end.getTime();

  for (const segment of segments) {
    for (const charge of segment.plan.charges) {
      const u = usageOf(charge.usageTypeKey, segment);
      if (!u) throw new Error(`no usage given for ${charge.usageTypeKey} from ${iso(segment.from)}`);
      lines.push(usageLine(segment, wholePeriod, charge, u, sub));
    }
    for (const fee of segment.plan.recurringFees)
      if (fee.timing === 'IN_ARREARS') lines.push(feeLine(segment, period, fee, sub));
  }
  const firstPeriod = sub.startsAt >= period.start && sub.startsAt < period.end;
  const advanceFor = (p: BillingPeriod) =>
    segmentsOf(sub, p).flatMap((s) =>
      s.plan.recurringFees.filter((f) => f.timing === 'IN_ADVANCE').map((f) => feeLine(s, p, f, sub)),
    );
  if (firstPeriod) lines.push(...advanceFor(period));

  const minimum = sub.terms?.minimumCommitment ?? segments[segments.length - 1]!.plan.minimumCommitment;
  if (minimum && !new Dec(minimum).isZero()) {
    const ofThisPeriod = lines.filter((l) => l.servicePeriod.from >= period.start && l.servicePeriod.to <= period.end);
    const ratedTotal = sumMoney(
      ofThisPeriod.map((l) => l.amount),
      currency,
    );
    const factor = prorationFactor(sub.startsAt, sub.endsAt, period.start, period.end);
    const trueUp = commitmentTrueUp({ minimum, currency, rounding: sub.rounding }, ratedTotal, factor);
    if (trueUp) {
      lines.push({
        lineKey: 'COMMITMENT',
        kind: 'COMMITMENT',
        usageTypeKey: null,
        feeKey: null,
        servicePeriod: { from: period.start, to: period.end },
        plan: null,
        model: null,
        quantity: '1',
        includedQuantity: '0',
        billableQuantity: '1',
        unitPrice: trueUp.amount.amount,
        exactAmount: trueUp.amount.amount,
        amount: trueUp.amount,
        breakdown: [
          {
            description: 'minimum commitment true-up',
            units: '1',
            unitPrice: trueUp.amount.amount,
            amount: trueUp.amount.amount,
          },
        ],
        explanation: `${sub.terms?.minimumCommitment ? 'contract' : 'plan'} ${trueUp.explanation}`,
        productLine: 'commitment',
        unit: 'period',
        aggregateId: null,
        eventCount: 0,
      });
    }
  }
  lines.push(...advanceFor(periodOf(period.end)));
  return lines;
}
