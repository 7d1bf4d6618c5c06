// The rating engine's pure core: usage + charge → amount, with a breakdown finance can read. No I/O here.
import { Dec, isDecimalString, money, roundToMinorUnit, type Money, type RoundingMode } from '../../lib/money';
import { isFullPeriod, prorateExact } from './proration';

export interface PerUnitCharge {
  model: 'PER_UNIT';
  /** Price of one unit; may carry more decimals than the currency (e.g. 0.00025). */
  unitPrice: string;
  /** Free units before the unit price applies. */
  includedQuantity: string;
}

/** One price step of a tiered charge. */
export interface Tier {
  /** Inclusive upper bound of cumulative units in this tier; null (no bound) only on the last tier. */
  upTo: string | null;
  unitPrice: string;
  /** Charged once when any usage falls in this tier (graduated) or when the total reaches it (volume). */
  flatFee?: string;
}

/** Each unit is priced by the tier it falls in. */
export interface GraduatedCharge {
  model: 'GRADUATED';
  tiers: Tier[];
}

/** Every unit is priced at the tier the total quantity reaches. */
export interface VolumeCharge {
  model: 'VOLUME';
  tiers: Tier[];
}

/** A price per block of units after the free ones; a started block is a whole block. */
export interface PackageCharge {
  model: 'PACKAGE';
  packageSize: string;
  packagePrice: string;
  freeUnits: string;
}

/** A fee per event: a share of the event's amount plus a fixed fee, kept between a minimum and a maximum. */
export interface PercentageCharge {
  model: 'PERCENTAGE';
  /** A fraction: "0.029" is 2.9 %. */
  rate: string;
  fixedFeePerEvent?: string;
  /** The first N events of the period, in time order, cost nothing. */
  freeEvents?: number;
  minPerEvent?: string;
  maxPerEvent?: string;
}

export type ChargeModel = PerUnitCharge | GraduatedCharge | VolumeCharge | PackageCharge | PercentageCharge;

export interface BreakdownStep {
  description: string;
  units: string;
  unitPrice: string;
  amount: string;
}

export interface RatedAmount {
  quantity: string;
  billableQuantity: string;
  /** Exact amount before rounding, for audit. */
  exactAmount: string;
  /** Rounded once, at the line, to the currency's minor unit. */
  amount: Money;
  breakdown: BreakdownStep[];
  explanation: string;
}

export interface RatingRules {
  currency: string;
  rounding: RoundingMode;
}

/** What the period's usage looks like to the rating engine. */
export interface UsageForRating {
  /** Aggregated quantity of the period (units, GB-hours, …). */
  quantity: string;
  /** The period's events in time order; only PERCENTAGE needs them. */
  events?: Array<{ amount: string }>;
}

export function rateCharge(charge: ChargeModel, usage: UsageForRating, rules: RatingRules): RatedAmount {
  switch (charge.model) {
    case 'PER_UNIT':
      return ratePerUnit(charge, usage.quantity, rules);
    case 'GRADUATED':
      return rateGraduated(charge, usage.quantity, rules);
    case 'VOLUME':
      return rateVolume(charge, usage.quantity, rules);
    case 'PACKAGE':
      return ratePackage(charge, usage.quantity, rules);
    case 'PERCENTAGE':
      if (!usage.events)
        throw new RangeError(
          "a PERCENTAGE charge is rated from the period's events; pass usage.events (an empty list when there were none)",
        );
      return ratePercentage(charge, usage.events, rules);
  }
}

/** Included units are free; every unit beyond them costs the unit price. */
export function ratePerUnit(charge: PerUnitCharge, quantity: string, { currency, rounding }: RatingRules): RatedAmount {
  const used = new Dec(quantity);
  const included = new Dec(charge.includedQuantity);
  const price = new Dec(charge.unitPrice);
  const billable = Dec.max(used.minus(included), 0);
  const exact = billable.times(price);
  const amount = money(roundToMinorUnit(exact, currency, rounding), currency);

  const breakdown: BreakdownStep[] = [];
  const freeUnits = Dec.min(Dec.max(used, 0), included);
  if (freeUnits.gt(0))
    breakdown.push({ description: 'included units', units: freeUnits.toFixed(), unitPrice: '0', amount: '0' });
  if (billable.gt(0))
    breakdown.push({
      description: 'units beyond the included quantity',
      units: billable.toFixed(),
      unitPrice: price.toFixed(),
      amount: exact.toFixed(),
    });

  const explanation =
    `${used.toFixed()} used − ${included.toFixed()} included = ${billable.toFixed()} billable × ${price.toFixed()} ${currency}` +
    ` = ${exact.toFixed()} ${currency}${roundingNote(exact, amount, rounding)}`;
  return {
    quantity: used.toFixed(),
    billableQuantity: billable.toFixed(),
    exactAmount: exact.toFixed(),
    amount,
    breakdown,
    explanation,
  };
}

/** Units fill the tiers in order; each tier's units cost its price, plus its flat fee once it is touched. */
export function rateGraduated(
  charge: GraduatedCharge,
  quantity: string,
  { currency, rounding }: RatingRules,
): RatedAmount {
  const used = decimal(quantity, 'quantity');
  const tiers = checkedTiers(charge.tiers);
  const breakdown: BreakdownStep[] = [];
  const terms: string[] = [];
  let exact = new Dec(0);
  let lowerBound = new Dec(0);
  tiers.forEach((tier, i) => {
    const units = Dec.max(Dec.min(used, tier.upTo ?? used).minus(lowerBound), 0);
    if (units.gt(0)) {
      const tierAmount = units.times(tier.unitPrice);
      const range = tierRange(lowerBound, tier.upTo);
      breakdown.push({
        description: `tier ${i + 1} (${range})`,
        units: units.toFixed(),
        unitPrice: tier.unitPrice.toFixed(),
        amount: tierAmount.toFixed(),
      });
      terms.push(`${units.toFixed()} × ${tier.unitPrice.toFixed()} ${currency} (tier ${i + 1}, ${range})`);
      exact = exact.plus(tierAmount);
      if (tier.flatFee.gt(0)) {
        breakdown.push({
          description: `flat fee of tier ${i + 1}`,
          units: '1',
          unitPrice: tier.flatFee.toFixed(),
          amount: tier.flatFee.toFixed(),
        });
        terms.push(`${tier.flatFee.toFixed()} ${currency} flat fee (tier ${i + 1})`);
        exact = exact.plus(tier.flatFee);
      }
    }
    if (tier.upTo) lowerBound = tier.upTo;
  });
  const amount = money(roundToMinorUnit(exact, currency, rounding), currency);
  const arithmetic = terms.length > 0 ? `${terms.join(' + ')} = ` : '';
  const explanation = `${used.toFixed()} used, graduated: ${arithmetic}${exact.toFixed()} ${currency}${roundingNote(exact, amount, rounding)}`;
  return {
    quantity: used.toFixed(),
    billableQuantity: Dec.max(used, 0).toFixed(),
    exactAmount: exact.toFixed(),
    amount,
    breakdown,
    explanation,
  };
}

/** The total quantity picks one tier; every unit costs that tier's price, plus its flat fee. */
export function rateVolume(charge: VolumeCharge, quantity: string, { currency, rounding }: RatingRules): RatedAmount {
  const used = decimal(quantity, 'quantity');
  const tiers = checkedTiers(charge.tiers);
  if (used.lte(0)) {
    // No usage reaches no tier, so not even the first tier's flat fee is owed.
    const amount = money(0, currency);
    return {
      quantity: used.toFixed(),
      billableQuantity: '0',
      exactAmount: '0',
      amount,
      breakdown: [],
      explanation: `${used.toFixed()} used, volume: no tier reached = 0 ${currency}`,
    };
  }
  const index = tiers.findIndex((t) => t.upTo === null || used.lte(t.upTo));
  const tier = tiers[index]!; // the last tier is open-ended, so one always matches
  const range = tierRange(index === 0 ? new Dec(0) : tiers[index - 1]!.upTo!, tier.upTo);
  const unitsAmount = used.times(tier.unitPrice);
  const exact = unitsAmount.plus(tier.flatFee);
  const amount = money(roundToMinorUnit(exact, currency, rounding), currency);

  const breakdown: BreakdownStep[] = [
    {
      description: `all units at the price of tier ${index + 1} (${range})`,
      units: used.toFixed(),
      unitPrice: tier.unitPrice.toFixed(),
      amount: unitsAmount.toFixed(),
    },
  ];
  let arithmetic = `${used.toFixed()} × ${tier.unitPrice.toFixed()} ${currency}`;
  if (tier.flatFee.gt(0)) {
    breakdown.push({
      description: `flat fee of tier ${index + 1}`,
      units: '1',
      unitPrice: tier.flatFee.toFixed(),
      amount: tier.flatFee.toFixed(),
    });
    arithmetic += ` + ${tier.flatFee.toFixed()} ${currency} flat fee`;
  }
  const explanation = `${used.toFixed()} used, volume: reaches tier ${index + 1} (${range}): ${arithmetic} = ${exact.toFixed()} ${currency}${roundingNote(exact, amount, rounding)}`;
  return {
    quantity: used.toFixed(),
    billableQuantity: used.toFixed(),
    exactAmount: exact.toFixed(),
    amount,
    breakdown,
    explanation,
  };
}

/** Free units first; the rest is sold in whole packages, a started package counting as a full one. */
export function ratePackage(charge: PackageCharge, quantity: string, { currency, rounding }: RatingRules): RatedAmount {
  const used = decimal(quantity, 'quantity');
  const size = decimal(charge.packageSize, 'packageSize');
  const price = decimal(charge.packagePrice, 'packagePrice');
  const free = decimal(charge.freeUnits, 'freeUnits');
  if (size.lte(0)) throw new RangeError(`packageSize must be greater than 0, got ${size.toFixed()}`);
  const billable = Dec.max(used.minus(free), 0);
  const packages = billable.dividedBy(size).ceil();
  const exact = packages.times(price);
  const amount = money(roundToMinorUnit(exact, currency, rounding), currency);

  const breakdown: BreakdownStep[] = [];
  const freeUsed = Dec.min(Dec.max(used, 0), free);
  if (freeUsed.gt(0))
    breakdown.push({ description: 'free units', units: freeUsed.toFixed(), unitPrice: '0', amount: '0' });
  if (packages.gt(0)) {
    breakdown.push({
      description: `packages of ${size.toFixed()} units for ${billable.toFixed()} billable units (a started package counts in full)`,
      units: packages.toFixed(),
      unitPrice: price.toFixed(),
      amount: exact.toFixed(),
    });
  }
  const explanation =
    `${used.toFixed()} used − ${free.toFixed()} free = ${billable.toFixed()} billable → ${packages.toFixed()} × ${size.toFixed()}-unit packages (rounded up)` +
    ` × ${price.toFixed()} ${currency} = ${exact.toFixed()} ${currency}${roundingNote(exact, amount, rounding)}`;
  return {
    quantity: used.toFixed(),
    billableQuantity: billable.toFixed(),
    exactAmount: exact.toFixed(),
    amount,
    breakdown,
    explanation,
  };
}

/**
 * Per billable event: fee = event amount × rate + fixed fee, then raised to the minimum, then capped at the maximum.
 * The charge is the exact sum of those fees, rounded once.
 */
export function ratePercentage(
  charge: PercentageCharge,
  events: ReadonlyArray<{ amount: string }>,
  { currency, rounding }: RatingRules,
): RatedAmount {
  const rate = decimal(charge.rate, 'rate');
  const fixed =
    charge.fixedFeePerEvent === undefined ? new Dec(0) : decimal(charge.fixedFeePerEvent, 'fixedFeePerEvent');
  const minimum = charge.minPerEvent === undefined ? null : decimal(charge.minPerEvent, 'minPerEvent');
  const maximum = charge.maxPerEvent === undefined ? null : decimal(charge.maxPerEvent, 'maxPerEvent');
  const freeEvents = charge.freeEvents ?? 0;
  if (!Number.isSafeInteger(freeEvents) || freeEvents < 0)
    throw new RangeError(`freeEvents must be a whole number ≥ 0, got ${String(charge.freeEvents)}`);

  const freeCount = Math.min(freeEvents, events.length);
  const billable = events.slice(freeCount).map((e, i) => decimal(e.amount, `events[${freeCount + i}].amount`));
  // Events split into three fee groups, so every breakdown step reads as units × unit price = amount.
  let proportionalVolume = new Dec(0);
  let proportionalCount = 0;
  let raisedCount = 0;
  let cappedCount = 0;
  for (const eventAmount of billable) {
    const fee = eventAmount.times(rate).plus(fixed);
    const raised = minimum !== null && fee.lt(minimum);
    if (maximum !== null && (raised ? minimum : fee).gt(maximum)) cappedCount += 1;
    else if (raised) raisedCount += 1;
    else {
      proportionalVolume = proportionalVolume.plus(eventAmount);
      proportionalCount += 1;
    }
  }
  const percentAmount = proportionalVolume.times(rate);
  const fixedAmount = fixed.times(proportionalCount);
  const raisedAmount = minimum ? minimum.times(raisedCount) : new Dec(0);
  const cappedAmount = maximum ? maximum.times(cappedCount) : new Dec(0);
  const exact = percentAmount.plus(fixedAmount).plus(raisedAmount).plus(cappedAmount);
  const amount = money(roundToMinorUnit(exact, currency, rounding), currency);

  const percent = rate.times(100).toFixed();
  const breakdown: BreakdownStep[] = [];
  const terms: string[] = [];
  if (freeCount > 0)
    breakdown.push({ description: 'free events', units: String(freeCount), unitPrice: '0', amount: '0' });
  if (proportionalCount > 0) {
    breakdown.push({
      description: `${percent} % of the amounts of ${eventCount(proportionalCount)}`,
      units: proportionalVolume.toFixed(),
      unitPrice: rate.toFixed(),
      amount: percentAmount.toFixed(),
    });
    terms.push(`${percent} % × ${proportionalVolume.toFixed()} ${currency}`);
    if (fixed.gt(0)) {
      breakdown.push({
        description: 'fixed fee per event',
        units: String(proportionalCount),
        unitPrice: fixed.toFixed(),
        amount: fixedAmount.toFixed(),
      });
      terms.push(`${proportionalCount} × ${fixed.toFixed()} ${currency} fixed`);
    }
  }
  if (raisedCount > 0 && minimum) {
    breakdown.push({
      description: 'events raised to the minimum fee',
      units: String(raisedCount),
      unitPrice: minimum.toFixed(),
      amount: raisedAmount.toFixed(),
    });
    terms.push(`${raisedCount} × ${minimum.toFixed()} ${currency} minimum`);
  }
  if (cappedCount > 0 && maximum) {
    breakdown.push({
      description: 'events capped at the maximum fee',
      units: String(cappedCount),
      unitPrice: maximum.toFixed(),
      amount: cappedAmount.toFixed(),
    });
    terms.push(`${cappedCount} × ${maximum.toFixed()} ${currency} maximum`);
  }
  const arithmetic = terms.length > 0 ? `${terms.join(' + ')} = ` : '';
  const explanation = `${eventCount(events.length)} − ${freeCount} free = ${billable.length} billable: ${arithmetic}${exact.toFixed()} ${currency}${roundingNote(exact, amount, rounding)}`;
  return {
    quantity: String(events.length),
    billableQuantity: String(billable.length),
    exactAmount: exact.toFixed(),
    amount,
    breakdown,
    explanation,
  };
}

export interface MinimumCommitment {
  /** The minimum spend of a full period. */
  minimum: string;
  currency: string;
  rounding: RoundingMode;
}

/**
 * The line that lifts a period's rated usage up to its (prorated) minimum commitment; null when usage covers it.
 * The prorated minimum is rounded once to money, so rated total + true-up is exactly that minimum.
 */
export function commitmentTrueUp(
  { minimum, currency, rounding }: MinimumCommitment,
  ratedTotal: Money,
  prorationFactor: string,
): { amount: Money; explanation: string } | null {
  if (ratedTotal.currency !== currency)
    throw new RangeError(`cannot compare a ${ratedTotal.currency} total with a ${currency} commitment`);
  const full = decimal(minimum, 'minimum');
  const exactCommitted = prorateExact(full, prorationFactor);
  const committed = money(roundToMinorUnit(exactCommitted, currency, rounding), currency);
  const shortfall = new Dec(committed.amount).minus(ratedTotal.amount);
  if (shortfall.lte(0)) return null;
  const amount = money(shortfall, currency);
  const prorated = isFullPeriod(prorationFactor)
    ? ''
    : ` × ${prorationFactor} of the period = ${shown(exactCommitted)} ${currency}`;
  const explanation = `minimum commitment ${full.toFixed()} ${currency}${prorated}${roundingNote(exactCommitted, committed, rounding)} − ${ratedTotal.amount} ${currency} rated usage = ${amount.amount} ${currency} true-up`;
  return { amount, explanation };
}

interface CheckedTier {
  upTo: Dec | null;
  unitPrice: Dec;
  flatFee: Dec;
}

/** Tiers as the engine relies on them: ascending bounds, only the last one open-ended. */
function checkedTiers(tiers: readonly Tier[]): CheckedTier[] {
  if (tiers.length === 0) throw new RangeError('a tiered charge needs at least one tier');
  let previous = new Dec(0);
  return tiers.map((tier, i) => {
    const last = i === tiers.length - 1;
    if (last !== (tier.upTo === null))
      throw new RangeError(`tier ${i + 1}: only the last tier is open-ended (upTo null), and it must be`);
    const upTo = tier.upTo === null ? null : decimal(tier.upTo, `tiers[${i}].upTo`);
    if (upTo && upTo.lte(previous))
      throw new RangeError(`tier ${i + 1}: upTo ${upTo.toFixed()} must be greater than ${previous.toFixed()}`);
    if (upTo) previous = upTo;
    return {
      upTo,
      unitPrice: decimal(tier.unitPrice, `tiers[${i}].unitPrice`),
      flatFee: tier.flatFee === undefined ? new Dec(0) : decimal(tier.flatFee, `tiers[${i}].flatFee`),
    };
  });
}

function tierRange(lowerBound: Dec, upTo: Dec | null): string {
  return upTo === null
    ? `above ${lowerBound.toFixed()}`
    : lowerBound.isZero()
      ? `up to ${upTo.toFixed()}`
      : `above ${lowerBound.toFixed()} up to ${upTo.toFixed()}`;
}

/** A decimal literal as the engine accepts it (no exponents or hex, which Decimal would silently parse). */
function decimal(value: string, what: string): Dec {
  if (!isDecimalString(value)) throw new RangeError(`${what}: "${value}" is not a decimal number`);
  return new Dec(value);
}

function eventCount(n: number): string {
  return n === 1 ? '1 event' : `${n} events`;
}

function roundingNote(exact: Dec, amount: Money, rounding: RoundingMode): string {
  return exact.eq(amount.amount)
    ? ''
    : ` → rounded ${rounding === 'HALF_EVEN' ? 'half-even' : 'half-up'} to ${amount.amount}`;
}

/** Exact values for reading: a fraction of days can give endless decimals, cut with an ellipsis. */
function shown(value: Dec): string {
  return value.decimalPlaces() > 20 ? `${value.toDecimalPlaces(10, Dec.ROUND_DOWN).toFixed()}…` : value.toFixed();
}
