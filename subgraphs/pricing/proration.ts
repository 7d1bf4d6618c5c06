// Proration by UTC calendar days: the share of a billing period a subscription (or one plan segment of it) covers.
import { Dec, isDecimalString, money, roundToMinorUnit, type Money, type RoundingMode } from '../../lib/money';

const DAY_MS = 86_400_000;
const FRACTION = /^(0|[1-9]\d*)\/([1-9]\d*)$/;

/**
 * Active days ÷ period days, as an exact reduced fraction string ("0", "1", "10/31"), never a cut-off decimal.
 * Convention: a start counts its whole UTC day, an end excludes its own UTC day — so a plan change on day D bills D to the new plan.
 * `periodEnd` is exclusive, and both period bounds are UTC midnights (as `parsePeriod` makes them); `activeTo` null means still active.
 */
export function prorationFactor(activeFrom: Date, activeTo: Date | null, periodStart: Date, periodEnd: Date): string {
  const periodFirstDay = utcDay(periodStart, 'periodStart', true);
  const periodEndDay = utcDay(periodEnd, 'periodEnd', true);
  const periodDays = periodEndDay - periodFirstDay;
  if (periodDays <= 0)
    throw new RangeError(`periodEnd ${periodEnd.toISOString()} must be after periodStart ${periodStart.toISOString()}`);
  const firstDay = Math.max(utcDay(activeFrom, 'activeFrom', false), periodFirstDay);
  const endDay = Math.min(activeTo === null ? periodEndDay : utcDay(activeTo, 'activeTo', false), periodEndDay);
  return reducedFraction(Math.max(endDay - firstDay, 0), periodDays);
}

/** An amount times a proration factor, rounded once to the currency's minor unit. */
export function prorateAmount(amount: string, factor: string, currency: string, rounding: RoundingMode): Money {
  if (!isDecimalString(amount)) throw new RangeError(`amount: "${amount}" is not a decimal number`);
  return money(roundToMinorUnit(prorateExact(new Dec(amount), factor), currency, rounding), currency);
}

/** The exact prorated value, before any rounding; the factor is a fraction ("10/31") or a decimal ("0.5") from 0 to 1. */
export function prorateExact(amount: Dec, factor: string): Dec {
  const { numerator, denominator } = factorParts(factor);
  // Multiply first, divide last: the quotient is exact whenever the prorated value has a finite decimal form.
  return amount.times(numerator).dividedBy(denominator);
}

export function isFullPeriod(factor: string): boolean {
  const { numerator, denominator } = factorParts(factor);
  return numerator.eq(denominator);
}

function factorParts(factor: string): { numerator: Dec; denominator: Dec } {
  const m = FRACTION.exec(factor);
  const parts = m
    ? { numerator: new Dec(m[1]!), denominator: new Dec(m[2]!) }
    : isDecimalString(factor)
      ? { numerator: new Dec(factor), denominator: new Dec(1) }
      : null;
  if (!parts || parts.numerator.isNegative() || parts.numerator.gt(parts.denominator)) {
    throw new RangeError(`proration factor "${factor}" must be a fraction such as "10/31" or a decimal from 0 to 1`);
  }
  return parts;
}

/** Days since the epoch of the instant's UTC calendar day; period bounds must sit exactly on a midnight. */
function utcDay(instant: Date, what: string, midnight: boolean): number {
  const ms = instant.getTime();
  if (Number.isNaN(ms)) throw new RangeError(`${what} is not a valid date`);
  if (midnight && ms % DAY_MS !== 0) throw new RangeError(`${what} ${instant.toISOString()} must be a UTC midnight`);
  return Math.floor(ms / DAY_MS);
}

function reducedFraction(numerator: number, denominator: number): string {
  if (numerator === 0) return '0';
  const divisor = gcd(numerator, denominator);
  const [n, d] = [numerator / divisor, denominator / divisor];
  return d === 1 ? String(n) : `${n}/${d}`;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
