// Use case: finance sets a rate of the tax table, effective from a day; a later row for the same key supersedes it.
import { z } from 'zod';
import { parseInput } from '../../lib/errors';
import { deterministicId } from '../../lib/ids';
import { canonicalDecimal, isDecimalString } from '../../lib/money';
import type { InvoicesStore } from './store';
import type { TaxRateDoc } from './tax/engine';

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

const taxRateInput = z.object({
  jurisdiction: z
    .string()
    .regex(/^[A-Z]{2}(-[A-Z0-9]{1,8}){0,3}$/, 'must be a country code, then up to three subdivisions, e.g. "US-CA"'),
  productLine: z.string().regex(/^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$/, 'must be a product line or "*"'),
  name: z.string().trim().min(1, 'must not be empty').max(100),
  ratePercent: z
    .string()
    .refine(isDecimalString, { message: 'is not a decimal number (send it as a string, e.g. "7.25")' })
    .refine((v) => !v.startsWith('-') && Number(v) <= 100, { message: 'must be from 0 to 100' })
    .transform(canonicalDecimal),
  effectiveFrom: z
    .string()
    .regex(DAY, 'must be a day as YYYY-MM-DD')
    .refine(
      (d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
      {
        message: 'is not a day of the calendar',
      },
    ),
});

export async function setTaxRate(
  store: InvoicesStore,
  rawInput: unknown,
  setBy: string,
  correlationId: string,
): Promise<TaxRateDoc> {
  const input = parseInput(taxRateInput, rawInput, 'input');
  const id = deterministicId('txr', input.jurisdiction, input.productLine, input.effectiveFrom);
  return store.locks.run(id, async () => {
    const existing = await store.taxRates.findOne({ _id: id });
    if (existing && existing.name === input.name && existing.ratePercent === input.ratePercent) return existing;
    const doc: TaxRateDoc = { _id: id, ...input, setAt: new Date(), setBy, correlationId };
    await store.taxRates.replaceOne({ _id: id }, doc, { upsert: true });
    return doc;
  });
}
