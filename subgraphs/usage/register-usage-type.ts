// Use case: a product team registers a usage type (a contract for its events).
import { deterministicId, stableStringify } from '../../lib/ids';
import { UserFacingError, parseInput } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import type { UsageStore, UsageTypeDoc } from './store';
import { usageTypeInput, type UsageTypeDefinition } from './usage-type';
import type { UsageTypeRegistry } from './usage-type-registry';

export async function registerUsageType(store: UsageStore, registry: UsageTypeRegistry, rawInput: unknown, correlationId: string): Promise<UsageTypeDoc> {
  const input = parseInput(usageTypeInput, rawInput, 'input');
  const definition: UsageTypeDefinition = {
    key: input.key,
    version: input.version,
    description: input.description,
    unit: input.unit,
    productLine: input.productLine,
    fields: input.fields.map((f) => ({ name: f.name, type: f.type, required: f.required, description: f.description ?? null })),
    aggregation: { type: input.aggregation.type, field: input.aggregation.type === 'SUM' ? input.aggregation.field! : null },
  };
  const doc: UsageTypeDoc = { _id: deterministicId('ut', definition.key, definition.version), ...definition, status: 'ACTIVE', createdAt: new Date(), correlationId };
  try {
    await store.usageTypes.insertOne(doc);
    registry.forget(definition.key);
    return doc;
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
  }
  const existing = (await store.usageTypes.findOne({ _id: doc._id }))!;
  const { _id, status, createdAt, correlationId: _c, ...stored } = existing;
  if (stableStringify(stored) === stableStringify(definition)) return existing;
  throw new UserFacingError('CONFLICT', `usage type ${definition.key} v${definition.version} is already registered with a different definition; registered versions never change`, {
    field: 'input.version',
    expected: `the identical definition, or a new version (the newest is v${(await registry.find(definition.key))?.version ?? definition.version})`,
  });
}
