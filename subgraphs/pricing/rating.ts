// The rating engine's pure core: quantity + charge → amount, with a breakdown finance can read. No I/O here.
import { Dec, money, roundToMinorUnit, type Money, type RoundingMode } from '../../lib/money';

export interface PerUnitCharge {
  model: 'PER_UNIT';
  /** Price of one unit; may carry more decimals than the currency (e.g. 0.00025). */
  unitPrice: string;
  /** Free units before the unit price applies. */
  includedQuantity: string;
}

export type ChargeModel = PerUnitCharge;

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

export function rateCharge(charge: ChargeModel, quantity: string, rules: RatingRules): RatedAmount {
  switch (charge.model) {
    case 'PER_UNIT':
      return ratePerUnit(charge, quantity, rules);
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
  if (freeUnits.gt(0)) breakdown.push({ description: 'included units', units: freeUnits.toFixed(), unitPrice: '0', amount: '0' });
  if (billable.gt(0)) breakdown.push({ description: 'units beyond the included quantity', units: billable.toFixed(), unitPrice: price.toFixed(), amount: exact.toFixed() });

  const rounded = exact.eq(amount.amount) ? '' : ` → rounded ${rounding === 'HALF_EVEN' ? 'half-even' : 'half-up'} to ${amount.amount}`;
  const explanation =
    `${used.toFixed()} used − ${included.toFixed()} included = ${billable.toFixed()} billable × ${price.toFixed()} ${currency}` +
    ` = ${exact.toFixed()} ${currency}${rounded}`;
  return { quantity: used.toFixed(), billableQuantity: billable.toFixed(), exactAmount: exact.toFixed(), amount, breakdown, explanation };
}
