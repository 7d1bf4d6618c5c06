// Pure: the open difference of each line of a finalized invoice — what the line is now, less what the invoice billed,
// less what notes already corrected. One per line, whatever the number of re-ratings: the single source of what a
// credit or debit note must still carry.
import { Dec, fromMinorUnits, toMinorUnits, zero, type Money } from '../../lib/money';
import type { NoteSlotDoc } from './store';

export interface InvoicedLine {
  lineKey: string;
  invoiceLineId: string;
  ratedChargeId: string;
  amount: Money;
}

export interface CurrentLine {
  lineKey: string;
  ratedChargeId: string;
  /** A line re-rating no longer produces: it is zero now. */
  voided: boolean;
  amount: Money;
}

/** A note's correction of one line: debit notes add, credit notes subtract. */
export interface Correction {
  lineKey: string;
  /** Which note slot made it: part of the adjustment's identity. */
  slotId: string;
  signed: Money;
}

export interface OpenDifference {
  lineKey: string;
  invoiceLineId: string | null;
  invoicedRatedChargeId: string | null;
  currentRatedChargeId: string | null;
  invoiced: Money;
  current: Money;
  corrected: Money;
  difference: Money;
  /** The notes that touched the line, in slot order: with the current revision, what the difference is based on. */
  slotIds: string[];
}

/**
 * Every line of the invoice or of the current charges, by line key, with its difference (zero included, so the
 * caller can retire an open adjustment whose line no longer differs). A line absent from `current` is left out:
 * nothing is known about it now.
 */
export function openDifferences(
  invoiced: readonly InvoicedLine[],
  current: readonly CurrentLine[],
  corrections: readonly Correction[],
  currency: string,
): OpenDifference[] {
  const billed = new Map(invoiced.map((l) => [l.lineKey, l]));
  const now = new Map(current.map((l) => [l.lineKey, l]));
  const out: OpenDifference[] = [];
  for (const lineKey of [...new Set([...billed.keys(), ...now.keys()])].sort()) {
    const b = billed.get(lineKey);
    const c = now.get(lineKey);
    if (!c) continue;
    const mine = corrections.filter((x) => x.lineKey === lineKey);
    const invoicedMinor = b ? toMinorUnits(b.amount) : 0n;
    const currentMinor = c.voided ? 0n : toMinorUnits(c.amount);
    const correctedMinor = mine.reduce((s, x) => s + toMinorUnits(x.signed), 0n);
    out.push({
      lineKey,
      invoiceLineId: b?.invoiceLineId ?? null,
      invoicedRatedChargeId: b?.ratedChargeId ?? null,
      currentRatedChargeId: c.voided ? null : c.ratedChargeId,
      invoiced: b ? b.amount : zero(currency),
      current: fromMinorUnits(currentMinor, currency),
      corrected: fromMinorUnits(correctedMinor, currency),
      difference: fromMinorUnits(currentMinor - invoicedMinor - correctedMinor, currency),
      slotIds: mine.map((x) => x.slotId),
    });
  }
  return out;
}

export const isZero = (m: Money): boolean => new Dec(m.amount).isZero();

/** The signed corrections notes made to an invoice's lines: a credit note subtracts, a debit note adds. */
export function correctionsOf(slots: readonly Pick<NoteSlotDoc, '_id' | 'kind' | 'lines'>[]): Correction[] {
  return slots.flatMap((slot) =>
    slot.lines.map((l) => ({
      lineKey: l.lineKey,
      slotId: slot._id,
      signed: slot.kind === 'CREDIT' ? fromMinorUnits(-toMinorUnits(l.amount), l.amount.currency) : l.amount,
    })),
  );
}
