// Use case: create or update a legal entity and its rounding policy.
import { parseInput } from '../../lib/errors';
import type { RoundingMode } from '../../lib/money';
import { legalEntityInput } from './inputs';
import type { LegalEntityDoc, SubscriptionsStore } from './store';

export async function upsertLegalEntity(store: SubscriptionsStore, rawInput: unknown): Promise<LegalEntityDoc> {
  const input = parseInput(legalEntityInput, rawInput, 'input');
  const wanted = { name: input.name, functionalCurrency: input.functionalCurrency, roundingMode: input.roundingMode as RoundingMode };
  const existing = await store.legalEntities.findOne({ _id: input.code });
  if (existing && existing.name === wanted.name && existing.functionalCurrency === wanted.functionalCurrency && existing.roundingMode === wanted.roundingMode) {
    return existing;
  }
  const now = new Date();
  const doc = await store.legalEntities.findOneAndUpdate(
    { _id: input.code },
    { $set: { ...wanted, updatedAt: now }, $setOnInsert: { createdAt: now } },
    { upsert: true, returnDocument: 'after' },
  );
  return doc as LegalEntityDoc;
}
