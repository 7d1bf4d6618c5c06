// Tax calculation behind the shape external tax engines have (Avalara AvaTax, Anrok, Stripe Tax): the customer's
// address and jurisdiction and the document's lines in, tax per line and per jurisdiction out. The tax table finance
// keeps in the graph is the built-in implementation; another engine would implement the same interface.
import type { Collection } from 'mongodb';
import { zero, type Money } from '../../../lib/money';
import { computeTax, jurisdictionLevels, type ApplicableRate, type TaxResult, type TaxRounding } from './compute';

export interface TaxAddress {
  line1: string;
  line2: string | null;
  city: string;
  postalCode: string | null;
  region: string | null;
  country: string;
}

export interface TaxExemption {
  reason: 'REVERSE_CHARGE' | 'EXEMPTION_CERTIFICATE' | 'EXEMPT_ORGANIZATION';
  certificateId: string | null;
}

/** What every engine needs: who buys, where, when, and what (Avalara's CreateTransaction, Stripe's calculation). */
export interface TaxRequest {
  /** YYYY-MM-DD the tax is due for (the tax point). */
  taxDate: string;
  currency: string;
  customer: {
    id: string;
    /** The jurisdiction finance set or the address gives, e.g. US-CA-SF. */
    jurisdiction: string | null;
    address: TaxAddress | null;
    exemption: TaxExemption | null;
    taxId: string | null;
  };
  lines: Array<{ lineId: string; productLine: string; amount: Money }>;
  rounding: TaxRounding;
}

export interface TaxEngine {
  /** Recorded on every document it taxed. */
  readonly name: string;
  calculate(request: TaxRequest): Promise<TaxResult>;
}

/** One row of finance's tax table: a rate in a jurisdiction for one product line (or every one, "*") from a day on. */
export interface TaxRateDoc {
  _id: string;
  jurisdiction: string;
  /** A product line, or "*" for every product line without a row of its own. */
  productLine: string;
  name: string;
  ratePercent: string;
  /** YYYY-MM-DD from which the rate applies, until a later row for the same jurisdiction and product line. */
  effectiveFrom: string;
  setAt: Date;
  setBy: string;
  correlationId: string;
}

/** The rates in force on a day for one product line, one per jurisdiction level that has any. */
export function ratesFor(
  rows: readonly TaxRateDoc[],
  jurisdiction: string,
  productLine: string,
  day: string,
): ApplicableRate[] {
  const out: ApplicableRate[] = [];
  for (const level of jurisdictionLevels(jurisdiction)) {
    const inForce = (pl: string) =>
      rows
        .filter((r) => r.jurisdiction === level && r.productLine === pl && r.effectiveFrom <= day)
        .sort((a, b) => b.effectiveFrom.localeCompare(a.effectiveFrom))[0];
    const row = inForce(productLine) ?? inForce('*');
    if (row) out.push({ jurisdiction: level, name: row.name, ratePercent: row.ratePercent });
  }
  return out;
}

export class TaxTableEngine implements TaxEngine {
  readonly name = 'tax-table';

  constructor(private readonly table: Collection<TaxRateDoc>) {}

  async calculate(request: TaxRequest): Promise<TaxResult> {
    const { jurisdiction, exemption } = request.customer;
    // No jurisdiction known, or an exempt customer: the lines carry no tax (the document says why).
    if (!jurisdiction || exemption) {
      return {
        lines: request.lines.map((l) => ({ lineId: l.lineId, taxes: [] })),
        taxLines: [],
        total: zero(request.currency),
      };
    }
    const rows = await this.table.find({ jurisdiction: { $in: jurisdictionLevels(jurisdiction) } }).toArray();
    return computeTax(
      request.lines.map((l) => ({
        lineId: l.lineId,
        amount: l.amount,
        rates: ratesFor(rows, jurisdiction, l.productLine, request.taxDate),
      })),
      request.currency,
      request.rounding,
    );
  }
}
