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

/**
 * Whether a tiered charge bills the first tier's flat fee when nothing was used. BILLED (the default, as Lago and
 * OpenMeter do): zero usage is in the first tier. NOT_BILLED: zero usage reaches no tier and costs nothing.
 */
export type FlatFeeAtZeroUsage = 'BILLED' | 'NOT_BILLED';

/** Each unit is priced by the tier it falls in. */
export interface GraduatedCharge {
  model: 'GRADUATED';
  tiers: Tier[];
  flatFeeAtZeroUsage?: FlatFeeAtZeroUsage;
}

/** Every unit is priced at the tier the total quantity reaches. */
export interface VolumeCharge {
  model: 'VOLUME';
  tiers: Tier[];
  flatFeeAtZeroUsage?: FlatFeeAtZeroUsage;
}

/** One step of a graduated percentage charge: a rate on the part of the summed amount in the tier. */
export interface PercentageTier {
  /** Inclusive upper bound of the cumulative amount in this tier; null only on the last tier. */
  upTo: string | null;
  /** A fraction: "0.029" is 2.9 %. */
  rate: string;
  flatFee?: string;
}

/** The period's summed amount fills the tiers in order; each tier's part costs its rate, plus its flat fee. */
export interface GraduatedPercentageCharge {
  model: 'GRADUATED_PERCENTAGE';
  tiers: PercentageTier[];
  flatFeeAtZeroUsage?: FlatFeeAtZeroUsage;
}

/** One step of a tiered blocks charge: a price per started block of the charge's block size. */
export interface BlockTier {
  /** Inclusive upper bound of cumulative units, a multiple of the block size; null only on the last tier. */
  upTo: string | null;
  blockPrice: string;
  flatFee?: string;
}

/** Graduated tiers priced per block of `blockSize` units; a started block in a tier counts in full. */
export interface TieredBlocksCharge {
  model: 'TIERED_BLOCKS';
  blockSize: string;
  tiers: BlockTier[];
  flatFeeAtZeroUsage?: FlatFeeAtZeroUsage;
}

/** Each event carries its own price in a field of its data; the charge is their exact sum. */
export interface DynamicCharge {
  model: 'DYNAMIC';
  /** The numeric data field holding each event's price in the plan's currency. */
  priceField: string;
}

/** A price per block of units after the free ones; a started block is a whole block. */
export interface PackageCharge {
  model: 'PACKAGE';
  packageSize: string;
  packagePrice: string;
  freeUnits: string;
}

/**
 * Whether an event of zero amount pays the fixed fee (and the minimum). CHARGED (the default, as Lago and card
 * processors do: the fee is per transaction); WAIVED: an event of zero amount costs nothing.
 */
export type FixedFeeOnZeroAmount = 'CHARGED' | 'WAIVED';

/** A fee per event: a share of the event's amount plus a fixed fee, kept between a minimum and a maximum. */
export interface PercentageCharge {
  model: 'PERCENTAGE';
  /** A fraction: "0.029" is 2.9 %. */
  rate: string;
  fixedFeePerEvent?: string;
  /** The first N events of the period, in time order, cost nothing. */
  freeEvents?: number;
  /** The first X of the period's summed amount, in time order, costs nothing (Lago's free_units_per_total_aggregation). */
  freeAmount?: string;
  minPerEvent?: string;
  maxPerEvent?: string;
  fixedFeeOnZeroAmount?: FixedFeeOnZeroAmount;
}

export type ChargeModel =
  | PerUnitCharge
  | GraduatedCharge
  | VolumeCharge
  | PackageCharge
  | PercentageCharge
  | GraduatedPercentageCharge
  | TieredBlocksCharge
  | DynamicCharge;

export const CHARGE_MODELS = [
  'PER_UNIT',
  'GRADUATED',
  'VOLUME',
  'PACKAGE',
  'PERCENTAGE',
  'GRADUATED_PERCENTAGE',
  'TIERED_BLOCKS',
  'DYNAMIC',
] as const satisfies ReadonlyArray<ChargeModel['model']>;

/** The models whose tiers carry flat fees, and so a convention for zero usage. */
export const TIERED_MODELS = ['GRADUATED', 'VOLUME', 'GRADUATED_PERCENTAGE', 'TIERED_BLOCKS'] as const;

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
  /** Exact sums of data fields over the period's events; DYNAMIC needs its price field's. */
  fieldTotals?: Record<string, string>;
  /** Events counted; DYNAMIC explains its sum with it. */
  eventCount?: number;
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
    case 'GRADUATED_PERCENTAGE':
      return rateGraduatedPercentage(charge, usage.quantity, rules);
    case 'TIERED_BLOCKS':
      return rateTieredBlocks(charge, usage.quantity, rules);
    case 'DYNAMIC': {
      const total = usage.fieldTotals?.[charge.priceField];
      if (total === undefined)
        throw new RangeError(
          `a DYNAMIC charge is rated from the sum of its price field; pass usage.fieldTotals["${charge.priceField}"]`,
        );
      return rateDynamic(charge, usage.quantity, total, usage.eventCount ?? null, rules);
    }
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
export function rateGraduated(charge: GraduatedCharge, quantity: string, rules: RatingRules): RatedAmount {
  const tiers = checkedTiers(charge.tiers);
  return rateFilledTiers(
    quantity,
    tiers,
    charge.flatFeeAtZeroUsage,
    'graduated',
    (units, tier, i, range) => {
      const amount = units.times(tier.unitPrice);
      return {
        amount,
        step: {
          description: `tier ${i + 1} (${range})`,
          units: units.toFixed(),
          unitPrice: tier.unitPrice.toFixed(),
          amount: amount.toFixed(),
        },
        term: `${units.toFixed()} × ${tier.unitPrice.toFixed()} ${rules.currency} (tier ${i + 1}, ${range})`,
      };
    },
    rules,
  );
}

/** The summed amount fills the tiers in order; each tier's part costs its rate, plus its flat fee once touched. */
export function rateGraduatedPercentage(
  charge: GraduatedPercentageCharge,
  quantity: string,
  rules: RatingRules,
): RatedAmount {
  const tiers = checkedTiers(charge.tiers.map((t) => ({ upTo: t.upTo, unitPrice: t.rate, flatFee: t.flatFee })));
  return rateFilledTiers(
    quantity,
    tiers,
    charge.flatFeeAtZeroUsage,
    'graduated percentage',
    (part, tier, i, range) => {
      const amount = part.times(tier.unitPrice);
      const percent = tier.unitPrice.times(100).toFixed();
      return {
        amount,
        step: {
          description: `tier ${i + 1} (${range}): ${percent} % of the amount in it`,
          units: part.toFixed(),
          unitPrice: tier.unitPrice.toFixed(),
          amount: amount.toFixed(),
        },
        term: `${percent} % × ${part.toFixed()} ${rules.currency} (tier ${i + 1}, ${range})`,
      };
    },
    rules,
  );
}

/** Units fill the tiers in order; each tier's units are sold in blocks, a started block counting in full. */
export function rateTieredBlocks(charge: TieredBlocksCharge, quantity: string, rules: RatingRules): RatedAmount {
  const size = decimal(charge.blockSize, 'blockSize');
  if (size.lte(0)) throw new RangeError(`blockSize must be greater than 0, got ${size.toFixed()}`);
  const tiers = checkedTiers(charge.tiers.map((t) => ({ upTo: t.upTo, unitPrice: t.blockPrice, flatFee: t.flatFee })));
  tiers.forEach((t, i) => {
    if (t.upTo && !t.upTo.mod(size).isZero())
      throw new RangeError(`tier ${i + 1}: upTo ${t.upTo.toFixed()} must be a multiple of blockSize ${size.toFixed()}`);
  });
  return rateFilledTiers(
    quantity,
    tiers,
    charge.flatFeeAtZeroUsage,
    `tiered blocks of ${size.toFixed()}`,
    (units, tier, i, range) => {
      const blocks = units.dividedBy(size).ceil();
      const amount = blocks.times(tier.unitPrice);
      return {
        amount,
        step: {
          description: `tier ${i + 1} (${range}): blocks of ${size.toFixed()} units for ${units.toFixed()} units (a started block counts in full)`,
          units: blocks.toFixed(),
          unitPrice: tier.unitPrice.toFixed(),
          amount: amount.toFixed(),
        },
        term: `${blocks.toFixed()} × ${tier.unitPrice.toFixed()} ${rules.currency} (tier ${i + 1}, ${range}: ${units.toFixed()} units in blocks of ${size.toFixed()})`,
      };
    },
    rules,
  );
}

type TierPricing = (
  units: Dec,
  tier: CheckedTier,
  index: number,
  range: string,
) => { amount: Dec; step: BreakdownStep; term: string };

/**
 * The graduated engine: the quantity fills the tiers in order, each touched tier is priced by `price` and adds its
 * flat fee. Zero usage sits in the first tier when its flat fee is BILLED (the default).
 */
function rateFilledTiers(
  quantity: string,
  tiers: CheckedTier[],
  atZero: FlatFeeAtZeroUsage | undefined,
  name: string,
  price: TierPricing,
  { currency, rounding }: RatingRules,
): RatedAmount {
  const used = decimal(quantity, 'quantity');
  const breakdown: BreakdownStep[] = [];
  const terms: string[] = [];
  let exact = new Dec(0);
  let lowerBound = new Dec(0);
  const flatFee = (tier: CheckedTier, i: number, note: string) => {
    if (!tier.flatFee.gt(0)) return;
    breakdown.push({
      description: `flat fee of tier ${i + 1}${note}`,
      units: '1',
      unitPrice: tier.flatFee.toFixed(),
      amount: tier.flatFee.toFixed(),
    });
    terms.push(`${tier.flatFee.toFixed()} ${currency} flat fee (tier ${i + 1}${note})`);
    exact = exact.plus(tier.flatFee);
  };
  if (used.lte(0)) {
    if ((atZero ?? 'BILLED') === 'BILLED') flatFee(tiers[0]!, 0, ', billed at zero usage');
  } else {
    tiers.forEach((tier, i) => {
      const units = Dec.max(Dec.min(used, tier.upTo ?? used).minus(lowerBound), 0);
      if (units.gt(0)) {
        const priced = price(units, tier, i, tierRange(lowerBound, tier.upTo));
        breakdown.push(priced.step);
        terms.push(priced.term);
        exact = exact.plus(priced.amount);
        flatFee(tier, i, '');
      }
      if (tier.upTo) lowerBound = tier.upTo;
    });
  }
  const amount = money(roundToMinorUnit(exact, currency, rounding), currency);
  const arithmetic = terms.length > 0 ? `${terms.join(' + ')} = ` : '';
  const explanation = `${used.toFixed()} used, ${name}: ${arithmetic}${exact.toFixed()} ${currency}${roundingNote(exact, amount, rounding)}`;
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
  const first = tiers[0]!;
  if (used.lte(0) && ((charge.flatFeeAtZeroUsage ?? 'BILLED') === 'NOT_BILLED' || !first.flatFee.gt(0))) {
    // Nothing is owed: either zero usage reaches no tier by the charge's choice, or its tier has no flat fee.
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
  if (used.lte(0)) {
    const fee = first.flatFee;
    const amount = money(roundToMinorUnit(fee, currency, rounding), currency);
    return {
      quantity: used.toFixed(),
      billableQuantity: '0',
      exactAmount: fee.toFixed(),
      amount,
      breakdown: [
        {
          description: 'flat fee of tier 1, billed at zero usage',
          units: '1',
          unitPrice: fee.toFixed(),
          amount: fee.toFixed(),
        },
      ],
      explanation: `${used.toFixed()} used, volume: zero usage is in tier 1 (${tierRange(new Dec(0), first.upTo)}): ${fee.toFixed()} ${currency} flat fee = ${fee.toFixed()} ${currency}${roundingNote(fee, amount, rounding)}`,
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
 * Events are taken in time order; the free allowance (the first `freeEvents` events and the first `freeAmount` of
 * their summed amounts, whichever runs out first) comes first: an event it covers entirely is free, an event it
 * covers in part pays on the rest. An event of zero amount pays the fixed fee unless the charge waives it.
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
  const freeAmount = charge.freeAmount === undefined ? null : decimal(charge.freeAmount, 'freeAmount');
  const freeEvents = charge.freeEvents ?? null;
  if (freeEvents !== null && (!Number.isSafeInteger(freeEvents) || freeEvents < 0))
    throw new RangeError(`freeEvents must be a whole number ≥ 0, got ${String(charge.freeEvents)}`);
  const waiveZero = charge.fixedFeeOnZeroAmount === 'WAIVED';

  // The free allowance: with only one of the two set, the other does not limit it.
  let freeEventsLeft = freeEvents ?? (freeAmount ? Infinity : 0);
  let freeAmountLeft = freeAmount ?? (freeEvents !== null ? new Dec(Infinity) : new Dec(0));
  let freeCount = 0;
  let coveredAmount = new Dec(0);
  let zeroWaived = 0;
  const paying: Dec[] = [];
  events.forEach((e, i) => {
    const eventAmount = decimal(e.amount, `events[${i}].amount`);
    let billable = eventAmount;
    if (freeEventsLeft > 0 && freeAmountLeft.gt(0)) {
      const covered = Dec.min(Dec.max(eventAmount, 0), freeAmountLeft);
      freeEventsLeft -= 1;
      freeAmountLeft = freeAmountLeft.minus(covered);
      coveredAmount = coveredAmount.plus(covered);
      billable = eventAmount.minus(covered);
      if (billable.lte(0)) {
        freeCount += 1;
        return;
      }
    }
    if (waiveZero && eventAmount.isZero()) {
      zeroWaived += 1;
      return;
    }
    paying.push(billable);
  });
  // Events split into three fee groups, so every breakdown step reads as units × unit price = amount.
  let proportionalVolume = new Dec(0);
  let proportionalCount = 0;
  let raisedCount = 0;
  let cappedCount = 0;
  for (const eventAmount of paying) {
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
  if (freeAmount && coveredAmount.gt(0))
    breakdown.push({
      description: `free amount (the first ${freeAmount.toFixed()} ${currency} of the period)`,
      units: coveredAmount.toFixed(),
      unitPrice: '0',
      amount: '0',
    });
  if (zeroWaived > 0)
    breakdown.push({
      description: 'events of zero amount (fixed fee waived)',
      units: String(zeroWaived),
      unitPrice: '0',
      amount: '0',
    });
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
  const freeNote = freeAmount
    ? ` (free amount ${freeAmount.toFixed()} ${currency}, ${coveredAmount.toFixed()} used)`
    : '';
  const zeroNote = zeroWaived > 0 ? ` − ${zeroWaived} of zero amount` : '';
  const explanation = `${eventCount(events.length)} − ${freeCount} free${zeroNote} = ${paying.length} billable${freeNote}: ${arithmetic}${exact.toFixed()} ${currency}${roundingNote(exact, amount, rounding)}`;
  return {
    quantity: String(events.length),
    billableQuantity: String(paying.length),
    exactAmount: exact.toFixed(),
    amount,
    breakdown,
    explanation,
  };
}

/**
 * The events' own prices, summed exactly and rounded once. A negative sum (credits exceeding charges) bills zero,
 * as every other model does with negative usage.
 */
export function rateDynamic(
  charge: DynamicCharge,
  quantity: string,
  total: string,
  events: number | null,
  { currency, rounding }: RatingRules,
): RatedAmount {
  const used = decimal(quantity, 'quantity');
  const sum = new Dec(isDecimalString(total) ? total : 'NaN');
  if (!sum.isFinite()) throw new RangeError(`the total of "${charge.priceField}": "${total}" is not a decimal number`);
  const exact = Dec.max(sum, 0);
  const amount = money(roundToMinorUnit(exact, currency, rounding), currency);
  const counted = events === null ? 'the events' : eventCount(events);
  const breakdown: BreakdownStep[] = exact.gt(0)
    ? [
        {
          description: `prices carried by ${counted} (field "${charge.priceField}")`,
          units: '1',
          unitPrice: exact.toFixed(),
          amount: exact.toFixed(),
        },
      ]
    : [];
  const floor = sum.lt(0) ? ` (negative, billed as 0)` : '';
  const explanation = `${used.toFixed()} used, dynamic: the sum of "${charge.priceField}" over ${counted} = ${sum.toFixed()} ${currency}${floor}${roundingNote(exact, amount, rounding)}`;
  return {
    quantity: used.toFixed(),
    billableQuantity: Dec.max(used, 0).toFixed(),
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
