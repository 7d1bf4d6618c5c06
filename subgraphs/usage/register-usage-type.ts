// Use cases: a product team registers a usage type version, then promotes it through its lifecycle.
import { deterministicId, stableStringify } from '../../lib/ids';
import { UserFacingError, parseInput, validationFailed, type Problem } from '../../lib/errors';
import { isDuplicateKeyError } from '../../lib/mongo';
import type { UsageStore, UsageTypeDoc, UsageTypeStatus } from './store';
import {
  compareVersions,
  definitionFromInput,
  parseVersion,
  schemaChanges,
  usageTypeInput,
  type SchemaChange,
  type UsageTypeDefinition,
} from './usage-type';
import { effectiveStatus, type UsageTypeRegistry } from './usage-type-registry';

export function usageTypeId(key: string, version: string): string {
  return deterministicId('ut', key, version);
}

const definitionOf = (d: UsageTypeDoc): UsageTypeDefinition => ({
  key: d.key,
  version: d.version,
  description: d.description,
  unit: d.unit,
  productLine: d.productLine,
  fields: d.fields,
  dimensions: d.dimensions,
  aggregation: d.aggregation,
});

const fieldOfChange = (c: SchemaChange): string => {
  if (c.kind === 'AGGREGATION_CHANGED') return 'input.aggregation';
  if (c.kind === 'UNIT_CHANGED') return 'input.unit';
  if (c.kind === 'PRODUCT_LINE_CHANGED') return 'input.productLine';
  if (c.kind.startsWith('DIMENSION')) return 'input.dimensions';
  return 'input.fields';
};

/**
 * Registers a version as a DRAFT (or ACTIVE with `activate`). A version is checked against the one before it: a
 * breaking change within the same major is refused, naming each change and why. Drafts may be re-registered with
 * changes; a version that was ever active never changes.
 */
export async function registerUsageType(
  store: UsageStore,
  registry: UsageTypeRegistry,
  rawInput: unknown,
  correlationId: string,
  activate = false,
): Promise<UsageTypeDoc> {
  const definition = definitionFromInput(parseInput(usageTypeInput, rawInput, 'input'));
  const { major, minor } = parseVersion(definition.version);
  const id = usageTypeId(definition.key, definition.version);

  const doc = await store.locks.run(`usage-type:${definition.key}`, async () => {
    registry.forget(definition.key);
    const versions = await registry.versionsOf(definition.key);
    const existing = versions.find((v) => v.version === definition.version);
    const same = existing && stableStringify(definitionOf(existing)) === stableStringify(definition);
    if (existing && !same && existing.status !== 'DRAFT') {
      throw new UserFacingError(
        'CONFLICT',
        `usage type ${definition.key} v${definition.version} is ${existing.status.toLowerCase()} with a different definition; a version never changes once active`,
        {
          field: 'input.version',
          expected: `the identical definition, or a new version (the newest is ${versions[0]!.version})`,
        },
      );
    }
    if (existing && same) return existing;

    const previous = versions.find((v) => compareVersions(v.version, definition.version) < 0);
    const changes = previous ? schemaChanges(definitionOf(previous), definition) : [];
    const breaking = changes.filter((c) => c.breaking);
    if (previous && previous.major === major && breaking.length > 0) {
      const problems: Problem[] = breaking.map((c) => ({
        code: 'USAGE_TYPE_BREAKING_CHANGE',
        field: fieldOfChange(c),
        reason: `${c.description} (breaking against ${previous.version})`,
        expected: `register it as a new major version, e.g. "${versions[0]!.major + 1}.0", or make the change compatible`,
      }));
      throw validationFailed(problems);
    }
    const now = new Date();
    const doc: UsageTypeDoc = {
      _id: id,
      ...definition,
      major,
      minor,
      status: 'DRAFT',
      sunsetAt: null,
      changes,
      createdAt: existing?.createdAt ?? now,
      activatedAt: null,
      deprecatedAt: null,
      retiredAt: null,
      correlationId,
    };
    if (existing) {
      await store.usageTypes.replaceOne({ _id: id }, doc);
    } else {
      try {
        await store.usageTypes.insertOne(doc);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        // Registered at the same moment by another process: the stored one is the one to compare with.
        const stored = (await store.usageTypes.findOne({ _id: id }))!;
        if (stableStringify(definitionOf(stored)) !== stableStringify(definition))
          throw new UserFacingError(
            'CONFLICT',
            `usage type ${definition.key} v${definition.version} was registered concurrently with a different definition`,
            { field: 'input.version' },
          );
        return stored;
      }
    }
    registry.forget(definition.key);
    return doc;
  });
  return activate && doc.status === 'DRAFT'
    ? changeLifecycle(store, registry, definition.key, definition.version, 'ACTIVE')
    : doc;
}

const ALLOWED: Record<UsageTypeStatus, UsageTypeStatus[]> = {
  DRAFT: ['ACTIVE'],
  ACTIVE: ['DEPRECATED'],
  DEPRECATED: ['RETIRED', 'DEPRECATED'],
  RETIRED: [],
};
const HOW: Record<UsageTypeStatus, string> = {
  DRAFT: 'register it again',
  ACTIVE: 'activateUsageType on a DRAFT',
  DEPRECATED: 'deprecateUsageType on an ACTIVE version, with a sunset date',
  RETIRED: 'retireUsageType on a DEPRECATED version',
};

/** DRAFT → ACTIVE → DEPRECATED (with a sunset) → RETIRED; repeating a step is a no-op. */
export async function changeLifecycle(
  store: UsageStore,
  registry: UsageTypeRegistry,
  key: string,
  version: string,
  to: UsageTypeStatus,
  sunsetAt?: Date,
): Promise<UsageTypeDoc> {
  const id = usageTypeId(key, /^\d+\.\d+$/.test(version) ? version : `${version}.0`);
  return store.locks.run(`usage-type:${key}`, async () => {
    const doc = await store.usageTypes.findOne({ _id: id });
    if (!doc)
      throw new UserFacingError('NOT_FOUND', `usage type "${key}" has no version "${version}"`, {
        field: 'version',
        expected: 'a registered version, e.g. "1.0"',
      });
    const from = effectiveStatus(doc);
    if (from === to && (to !== 'DEPRECATED' || !sunsetAt || doc.sunsetAt?.getTime() === sunsetAt.getTime())) return doc;
    if (!ALLOWED[from].includes(to)) {
      throw new UserFacingError(
        'USAGE_TYPE_LIFECYCLE',
        `usage type ${key} v${doc.version} is ${from}; it cannot become ${to}`,
        { field: 'version', expected: HOW[to] },
      );
    }
    const now = new Date();
    const updated: UsageTypeDoc = {
      ...doc,
      status: to,
      ...(to === 'ACTIVE' ? { activatedAt: now } : {}),
      ...(to === 'DEPRECATED' ? { deprecatedAt: doc.deprecatedAt ?? now, sunsetAt: sunsetAt ?? null } : {}),
      ...(to === 'RETIRED' ? { retiredAt: now } : {}),
    };
    await store.usageTypes.replaceOne({ _id: id }, updated);
    registry.forget(key);
    return updated;
  });
}
