// Use cases: create or update a legal entity and its policies (rounding, tax, notes); close its billing early.
import { UserFacingError, notFound, parseInput } from '../../lib/errors';
import type { RoundingMode } from '../../lib/money';
import { parsePeriod } from '../../lib/period';
import { legalEntityInput } from './inputs';
import { DEFAULT_NOTE_POLICY, type LegalEntityDoc, type SubscriptionsStore } from './store';

/** Whether the caller sent a field at all: settings left out keep their value. */
const given = (raw: unknown, field: string): boolean =>
  typeof raw === 'object' && raw !== null && field in raw && (raw as Record<string, unknown>)[field] !== undefined;

export async function upsertLegalEntity(store: SubscriptionsStore, rawInput: unknown): Promise<LegalEntityDoc> {
  const input = parseInput(legalEntityInput, rawInput, 'input');
  return store.locks.run(`legal-entity:${input.code}`, async () => {
    const existing = await store.legalEntities.findOne({ _id: input.code });
    const keep = <K extends keyof LegalEntityDoc>(field: K, fallback: LegalEntityDoc[K]) =>
      existing && existing[field] !== undefined ? existing[field] : fallback;
    const wanted = {
      name: input.name,
      functionalCurrency: input.functionalCurrency,
      roundingMode: input.roundingMode as RoundingMode,
      taxRounding:
        given(rawInput, 'taxRounding') && input.taxRounding ? input.taxRounding : keep('taxRounding', 'PER_LINE'),
      notePolicy:
        given(rawInput, 'notePolicy') && input.notePolicy ? input.notePolicy : keep('notePolicy', DEFAULT_NOTE_POLICY),
      billingClosedThrough: keep('billingClosedThrough', null),
      address: given(rawInput, 'address') ? (input.address ?? null) : keep('address', null),
      taxId: given(rawInput, 'taxId') ? input.taxId : keep('taxId', null),
    };
    if (existing && JSON.stringify(pick(existing)) === JSON.stringify(pick(wanted))) return existing;
    const now = new Date();
    const doc: LegalEntityDoc = { _id: input.code, ...wanted, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await store.legalEntities.replaceOne({ _id: input.code }, doc, { upsert: true });
    return doc;
  });
}

/** The settings in a fixed order, to tell an update that changes nothing. */
function pick(e: Omit<LegalEntityDoc, '_id' | 'createdAt' | 'updatedAt'>): unknown[] {
  return [
    e.name,
    e.functionalCurrency,
    e.roundingMode,
    e.taxRounding ?? 'PER_LINE',
    e.notePolicy ?? DEFAULT_NOTE_POLICY,
    e.billingClosedThrough ?? null,
    e.address ?? null,
    e.taxId ?? null,
  ];
}

/** Finance closes billing early: periods up to `periodKey` may be invoiced before they end. Never moves back. */
export async function closeBillingPeriodEarly(
  store: SubscriptionsStore,
  legalEntityCode: string,
  periodKey: string,
): Promise<LegalEntityDoc> {
  const period = parsePeriod(periodKey);
  return store.locks.run(`legal-entity:${legalEntityCode}`, async () => {
    const entity = await store.legalEntities.findOne({ _id: legalEntityCode });
    if (!entity) throw notFound('legal entity', 'legalEntityCode', legalEntityCode);
    if (period.start > new Date()) {
      throw new UserFacingError('VALIDATION_FAILED', `period: ${period.key} has not started; nothing to close`, {
        field: 'period',
        expected: 'the running month or an earlier one',
      });
    }
    if (entity.billingClosedThrough && entity.billingClosedThrough >= period.key) return entity;
    const doc: LegalEntityDoc = { ...entity, billingClosedThrough: period.key, updatedAt: new Date() };
    await store.legalEntities.replaceOne({ _id: legalEntityCode }, doc);
    return doc;
  });
}
