// Use case: create or update a legal entity and its rounding policy.
import { parseInput } from '../../lib/errors';
import type { RoundingMode } from '../../lib/money';
import { legalEntityInput } from './inputs';
import type { LegalEntityDoc, SubscriptionsStore } from './store';

export async function upsertLegalEntity(store: SubscriptionsStore, rawInput: unknown): Promise<LegalEntityDoc> {
  const input = parseInput(legalEntityInput, rawInput, 'input');
  const wanted = {
    name: input.name,
    functionalCurrency: input.functionalCurrency,
    roundingMode: input.roundingMode as RoundingMode,
  };
  return store.locks.run(`legal-entity:${input.code}`, async () => {
    const existing = await store.legalEntities.findOne({ _id: input.code });
    if (
      existing &&
      existing.name === wanted.name &&
      existing.functionalCurrency === wanted.functionalCurrency &&
      existing.roundingMode === wanted.roundingMode
    ) {
      return existing;
    }
    const now = new Date();
    const doc: LegalEntityDoc = { _id: input.code, ...wanted, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await store.legalEntities.replaceOne({ _id: input.code }, doc, { upsert: true });
    return doc;
  });
}
