// Exact money: decimal.js for arithmetic, ISO 4217 minor units for rounding, integers (bigint) for sums.
import Decimal from 'decimal.js';

/** A Decimal constructor with enough precision that no rating step ever rounds implicitly. */
export const Dec = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -40, toExpPos: 40 });
export type Dec = Decimal;

export type RoundingMode = 'HALF_UP' | 'HALF_EVEN';
export const ROUNDING_MODES: readonly RoundingMode[] = ['HALF_UP', 'HALF_EVEN'];

/** An amount in one currency, as a canonical decimal string with exactly the currency's minor digits. */
export interface Money {
  amount: string;
  currency: string;
}

// ISO 4217 exponents that are not 2. Every other active code has 2 minor digits.
const NON_TWO_DIGIT: Record<string, number> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};
const KNOWN_CURRENCIES = new Set<string>([...Intl.supportedValuesOf('currency'), ...Object.keys(NON_TWO_DIGIT)]);

export function isCurrency(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && KNOWN_CURRENCIES.has(code);
}

/** Number of minor-unit digits for an ISO 4217 currency (JPY 0, USD 2, KWD 3). */
export function minorDigits(currency: string): number {
  if (!isCurrency(currency)) throw new RangeError(`unknown ISO 4217 currency "${currency}"`);
  return NON_TWO_DIGIT[currency] ?? 2;
}

function decimalRounding(mode: RoundingMode): Decimal.Rounding {
  return mode === 'HALF_EVEN' ? Decimal.ROUND_HALF_EVEN : Decimal.ROUND_HALF_UP;
}

/** The one place amounts are rounded: to the currency's minor unit, with an explicit mode. */
export function roundToMinorUnit(value: Decimal.Value, currency: string, mode: RoundingMode): Dec {
  return new Dec(value).toDecimalPlaces(minorDigits(currency), decimalRounding(mode));
}

/** Builds Money from an exact value; refuses values that need rounding (round first, on purpose). */
export function money(value: Decimal.Value, currency: string): Money {
  const d = new Dec(value);
  const digits = minorDigits(currency);
  if (d.decimalPlaces() > digits) {
    throw new RangeError(`${d.toFixed()} ${currency} has more than ${digits} minor digits; round it first`);
  }
  return { amount: d.toFixed(digits), currency };
}

export function zero(currency: string): Money {
  return money(0, currency);
}

export function toMinorUnits(m: Money): bigint {
  const digits = minorDigits(m.currency);
  const scaled = new Dec(m.amount).times(new Dec(10).pow(digits));
  if (!scaled.isInteger()) throw new RangeError(`${m.amount} ${m.currency} is not a whole number of minor units`);
  return BigInt(scaled.toFixed(0));
}

export function fromMinorUnits(minor: bigint, currency: string): Money {
  const digits = minorDigits(currency);
  return money(new Dec(minor.toString()).dividedBy(new Dec(10).pow(digits)), currency);
}

/** Exact sum; every item must be in `currency`. */
export function sumMoney(items: readonly Money[], currency: string): Money {
  let total = 0n;
  for (const m of items) {
    if (m.currency !== currency) throw new RangeError(`cannot add ${m.currency} to a ${currency} total`);
    total += toMinorUnits(m);
  }
  return fromMinorUnits(total, currency);
}

/** Canonical decimal string for quantities and prices: no exponent, no trailing zeros. */
export function canonicalDecimal(value: Decimal.Value): string {
  const d = new Dec(value);
  if (!d.isFinite()) throw new RangeError(`not a finite decimal: ${String(value)}`);
  return d.toFixed();
}

/** Accepts a decimal literal as a string ("12", "-0.00025"); rejects exponents, floats' artefacts and junk. */
export const DECIMAL_PATTERN = /^-?(0|[1-9]\d*)(\.\d+)?$/;
export function isDecimalString(value: string): boolean {
  return DECIMAL_PATTERN.test(value);
}
