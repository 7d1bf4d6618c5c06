// Pure: tax of a document's lines at given rates, rounded at one place (here) with the legal entity's mode and level.
// PER_LINE rounds each line's tax; PER_INVOICE rounds each jurisdiction-and-rate's total once and allocates it to the
// lines by largest remainder, so in both the lines' taxes add up to the document's tax exactly.
import {
  Dec,
  fromMinorUnits,
  minorDigits,
  roundToMinorUnit,
  toMinorUnits,
  type Money,
  type RoundingMode,
} from '../../../lib/money';

export type TaxRoundingLevel = 'PER_LINE' | 'PER_INVOICE';

export interface TaxRounding {
  mode: RoundingMode;
  level: TaxRoundingLevel;
}

/** One rate that applies to a line: a jurisdiction (US-CA), what the tax is called there, and the percent. */
export interface ApplicableRate {
  jurisdiction: string;
  name: string;
  /** A decimal percent, e.g. "7.25". */
  ratePercent: string;
}

export interface TaxableLine {
  lineId: string;
  amount: Money;
  rates: readonly ApplicableRate[];
}

export interface LineTax extends ApplicableRate {
  amount: Money;
}

/** A document's tax for one jurisdiction and rate: what it was charged on, and how much. */
export interface TaxLine extends ApplicableRate {
  taxable: Money;
  amount: Money;
  lineIds: string[];
}

export interface TaxResult {
  /** Every line, in input order, with its taxes (one per applicable rate). */
  lines: Array<{ lineId: string; taxes: LineTax[] }>;
  /** By jurisdiction, then rate, then name. */
  taxLines: TaxLine[];
  total: Money;
}

const groupKey = (r: ApplicableRate) => `${r.jurisdiction}\u001f${r.ratePercent}\u001f${r.name}`;

/** The tax of `lines` in `currency`; a line's amount is never negative (credit notes carry positive amounts too). */
export function computeTax(lines: readonly TaxableLine[], currency: string, rounding: TaxRounding): TaxResult {
  const scale = new Dec(10).pow(minorDigits(currency));
  // Exact tax in minor units, per line and rate, before any rounding.
  const exact = lines.map((line) => {
    if (line.amount.currency !== currency)
      throw new RangeError(`line ${line.lineId} is in ${line.amount.currency}, the document in ${currency}`);
    if (toMinorUnits(line.amount) < 0n) throw new RangeError(`line ${line.lineId} has a negative amount`);
    return line.rates.map((rate) => ({
      rate,
      scaled: new Dec(line.amount.amount).times(rate.ratePercent).dividedBy(100).times(scale),
    }));
  });
  const minor: bigint[][] = exact.map((rates) => rates.map(() => 0n));
  if (rounding.level === 'PER_LINE') {
    exact.forEach((rates, i) =>
      rates.forEach(({ scaled }, j) => {
        minor[i]![j] = BigInt(
          roundToMinorUnit(scaled.dividedBy(scale), currency, rounding.mode).times(scale).toFixed(0),
        );
      }),
    );
  } else {
    // Each jurisdiction-and-rate's total is rounded once, then handed out to its lines by largest remainder.
    const groups = new Map<string, Array<{ i: number; j: number; scaled: Dec }>>();
    exact.forEach((rates, i) =>
      rates.forEach(({ rate, scaled }, j) =>
        groups.set(groupKey(rate), [...(groups.get(groupKey(rate)) ?? []), { i, j, scaled }]),
      ),
    );
    for (const members of groups.values()) {
      const sum = members.reduce((s, m) => s.plus(m.scaled), new Dec(0));
      const total = BigInt(roundToMinorUnit(sum.dividedBy(scale), currency, rounding.mode).times(scale).toFixed(0));
      let handedOut = 0n;
      for (const m of members) {
        minor[m.i]![m.j] = BigInt(m.scaled.floor().toFixed(0));
        handedOut += minor[m.i]![m.j]!;
      }
      const byRemainder = [...members].sort((a, b) =>
        b.scaled.minus(b.scaled.floor()).comparedTo(a.scaled.minus(a.scaled.floor())),
      );
      for (let k = 0n; k < total - handedOut; k++) {
        const m = byRemainder[Number(k)]!;
        minor[m.i]![m.j]! += 1n;
      }
    }
  }
  const out: TaxResult['lines'] = lines.map((line, i) => ({
    lineId: line.lineId,
    taxes: line.rates.map((rate, j) => ({ ...rate, amount: fromMinorUnits(minor[i]![j]!, currency) })),
  }));
  const taxLines = new Map<string, { rate: ApplicableRate; taxable: bigint; amount: bigint; lineIds: string[] }>();
  lines.forEach((line, i) =>
    line.rates.forEach((rate, j) => {
      const g = taxLines.get(groupKey(rate)) ?? { rate, taxable: 0n, amount: 0n, lineIds: [] };
      g.taxable += toMinorUnits(line.amount);
      g.amount += minor[i]![j]!;
      g.lineIds.push(line.lineId);
      taxLines.set(groupKey(rate), g);
    }),
  );
  const total = [...taxLines.values()].reduce((s, g) => s + g.amount, 0n);
  return {
    lines: out,
    taxLines: [...taxLines.values()]
      .map((g) => ({
        ...g.rate,
        taxable: fromMinorUnits(g.taxable, currency),
        amount: fromMinorUnits(g.amount, currency),
        lineIds: g.lineIds,
      }))
      .sort(
        (a, b) =>
          a.jurisdiction.localeCompare(b.jurisdiction) ||
          new Dec(a.ratePercent).comparedTo(b.ratePercent) ||
          a.name.localeCompare(b.name),
      ),
    total: fromMinorUnits(total, currency),
  };
}

/** The jurisdictions a code stands in, widest first: US-CA-SF is taxed by US, US-CA and US-CA-SF. */
export function jurisdictionLevels(code: string): string[] {
  const parts = code.split('-');
  return parts.map((_, i) => parts.slice(0, i + 1).join('-'));
}
