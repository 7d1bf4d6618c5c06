// Usage types declared as schema files, the way product teams change any API: `schema/usage-types/*.graphql`, one
// object type per usage-type version (directives.graphql is the vocabulary). The same validation and compatibility
// rules as registerUsageType decide what is accepted; applying them registers through the graph.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Kind,
  buildASTSchema,
  parse,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type GraphQLError,
  type ObjectTypeDefinitionNode,
  type TypeNode,
} from 'graphql';
import { stableStringify } from '../lib/ids';
import { zodProblems } from '../lib/errors';
import {
  compareVersions,
  definitionFromInput,
  parseVersion,
  schemaChanges,
  usageTypeInput,
  type UsageTypeDefinition,
} from '../subgraphs/usage/usage-type';

export const USAGE_TYPES_DIR = join(__dirname, '..', 'schema', 'usage-types');
const VOCABULARY = 'directives.graphql';
/** What was applied to a system, per key and version: a hash of the definition, so an applied version cannot change. */
export const APPLIED_LOCK = 'applied.json';

const SCALARS: Record<string, string> = {
  Int: 'INTEGER',
  Decimal: 'DECIMAL',
  String: 'STRING',
  Boolean: 'BOOLEAN',
  DateTime: 'TIMESTAMP',
};

export interface DeclaredUsageType {
  file: string;
  /** The GraphQL type that declares it, for messages. */
  typeName: string;
  /** The registerUsageType input it stands for. */
  input: Record<string, unknown>;
  definition: UsageTypeDefinition;
}

export interface UsageTypeFileProblem {
  file: string;
  where: string;
  message: string;
}

const named = (t: TypeNode): string => (t.kind === Kind.NAMED_TYPE ? t.name.value : named(t.type));
const argumentsOf = (d: ConstDirectiveNode | undefined): Record<string, unknown> =>
  Object.fromEntries((d?.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]));

export const definitionHash = (d: UsageTypeDefinition): string =>
  createHash('sha256').update(stableStringify(d)).digest('hex').slice(0, 16);

/** Reads every file; returns the declared versions and every problem (file, type and field named). */
export function readUsageTypeFiles(dir = USAGE_TYPES_DIR): {
  declared: DeclaredUsageType[];
  problems: UsageTypeFileProblem[];
} {
  const declared: DeclaredUsageType[] = [];
  const problems: UsageTypeFileProblem[] = [];
  if (!existsSync(dir)) return { declared, problems };
  const vocabulary = readFileSync(join(dir, VOCABULARY), 'utf8');
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.graphql') && f !== VOCABULARY)
    .sort()) {
    let document: DocumentNode;
    try {
      document = parse(readFileSync(join(dir, file), 'utf8'));
      // The file must use the vocabulary correctly: known directives, argument types, enum values.
      buildASTSchema(parse(`${vocabulary}\ntype Query { _: Int }\n${readFileSync(join(dir, file), 'utf8')}`));
    } catch (error) {
      const e = error as GraphQLError;
      problems.push({ file, where: e.locations?.[0] ? `line ${e.locations[0].line}` : 'file', message: e.message });
      continue;
    }
    const enums = new Map(
      document.definitions.flatMap((d) =>
        d.kind === Kind.ENUM_TYPE_DEFINITION
          ? [[d.name.value, (d.values ?? []).map((v) => v.name.value)] as const]
          : [],
      ),
    );
    for (const type of document.definitions.filter(
      (d): d is ObjectTypeDefinitionNode => d.kind === Kind.OBJECT_TYPE_DEFINITION,
    )) {
      const directive = type.directives?.find((d) => d.name.value === 'usageType');
      if (!directive) {
        problems.push({ file, where: type.name.value, message: 'an object type here must carry @usageType(...)' });
        continue;
      }
      const args = argumentsOf(directive);
      const fieldProblems: string[] = [];
      const fields = (type.fields ?? []).map((f: FieldDefinitionNode) => {
        const typeName = named(f.type);
        const range = argumentsOf(f.directives?.find((d) => d.name.value === 'range'));
        const allowed = argumentsOf(f.directives?.find((d) => d.name.value === 'allowedValues')).values as
          string[] | undefined;
        const scalar = SCALARS[typeName] ?? (enums.has(typeName) ? 'STRING' : undefined);
        if (!scalar) {
          fieldProblems.push(
            `${f.name.value}: ${typeName} is not a usage field type (use Int, Decimal, String, Boolean, DateTime or an enum${typeName === 'Float' ? '; quantities are exact, so Decimal rather than Float' : ''})`,
          );
        }
        if (
          f.type.kind === Kind.LIST_TYPE ||
          (f.type.kind === Kind.NON_NULL_TYPE && f.type.type.kind === Kind.LIST_TYPE)
        ) {
          fieldProblems.push(`${f.name.value}: lists are not usage fields`);
        }
        return {
          name: f.name.value,
          type: scalar ?? 'STRING',
          required: f.type.kind === Kind.NON_NULL_TYPE,
          ...(f.description ? { description: f.description.value } : {}),
          ...(allowed ? { allowedValues: allowed } : enums.has(typeName) ? { allowedValues: enums.get(typeName) } : {}),
          ...(range.minimum !== undefined ? { minimum: range.minimum } : {}),
          ...(range.maximum !== undefined ? { maximum: range.maximum } : {}),
        };
      });
      const input: Record<string, unknown> = {
        key: args.key,
        version: args.version,
        description: type.description?.value ?? '',
        unit: args.unit,
        productLine: args.productLine,
        fields,
        dimensions: args.dimensions ?? [],
        aggregation: { type: args.aggregation, ...(args.aggregatedField ? { field: args.aggregatedField } : {}) },
      };
      const where = `${type.name.value} (${String(args.key)} ${String(args.version)})`;
      for (const message of fieldProblems) problems.push({ file, where, message });
      const parsed = usageTypeInput.safeParse(input);
      if (!parsed.success) {
        for (const p of zodProblems(parsed.error, ''))
          problems.push({ file, where, message: `${p.field}: ${p.reason}` });
        continue;
      }
      if (fieldProblems.length === 0) {
        declared.push({ file, typeName: type.name.value, input, definition: definitionFromInput(parsed.data) });
      }
    }
  }
  return { declared, problems };
}

/**
 * The registerUsageType rules across the files: no version declared twice; within a major each version compatible
 * with the one before (every breaking change named, with why); and a version already applied never changes.
 */
export function checkUsageTypeFiles(dir = USAGE_TYPES_DIR): {
  declared: DeclaredUsageType[];
  problems: UsageTypeFileProblem[];
} {
  const { declared, problems } = readUsageTypeFiles(dir);
  const lockFile = join(dir, APPLIED_LOCK);
  const applied = existsSync(lockFile)
    ? (JSON.parse(readFileSync(lockFile, 'utf8')) as Record<string, Record<string, string>>)
    : {};
  const byKey = new Map<string, DeclaredUsageType[]>();
  for (const d of declared) byKey.set(d.definition.key, [...(byKey.get(d.definition.key) ?? []), d]);
  for (const [key, versions] of byKey) {
    versions.sort((a, b) => compareVersions(a.definition.version, b.definition.version));
    for (let i = 0; i < versions.length; i++) {
      const v = versions[i]!;
      const where = `${v.typeName} (${key} ${v.definition.version})`;
      const prev = versions[i - 1];
      if (prev && prev.definition.version === v.definition.version) {
        problems.push({
          file: v.file,
          where,
          message: `${key} ${v.definition.version} is declared twice (also in ${prev.file})`,
        });
        continue;
      }
      const appliedHash = applied[key]?.[v.definition.version];
      if (appliedHash && appliedHash !== definitionHash(v.definition)) {
        problems.push({
          file: v.file,
          where,
          message: `${key} ${v.definition.version} was applied and an applied version never changes: declare the change as a new version`,
        });
      }
      if (prev && parseVersion(prev.definition.version).major === parseVersion(v.definition.version).major) {
        for (const c of schemaChanges(prev.definition, v.definition).filter((x) => x.breaking)) {
          problems.push({
            file: v.file,
            where,
            message: `breaking against ${prev.definition.version}: ${c.description} — make it compatible, or declare it as ${parseVersion(v.definition.version).major + 1}.0`,
          });
        }
      }
    }
  }
  return { declared, problems };
}

export interface AppliedUsageType {
  key: string;
  version: string;
  outcome: 'REGISTERED' | 'UNCHANGED';
  status: string;
}

/**
 * Registers and activates every declared version through the graph, oldest first, as the caller's credential (a
 * product or platform key). Idempotent: a version already active with the same definition is left as it is. Refuses
 * to start when the files break the rules, so nothing is half-applied.
 */
export async function applyUsageTypes(options: {
  dir?: string;
  graphql: <T>(query: string, variables: Record<string, unknown>) => Promise<T>;
  /** Record what was applied in the folder's applied.json (what a team commits); off for the demo. */
  writeLock?: boolean;
}): Promise<AppliedUsageType[]> {
  const dir = options.dir ?? USAGE_TYPES_DIR;
  const { declared, problems } = checkUsageTypeFiles(dir);
  if (problems.length > 0) {
    throw new Error(
      `the usage-type files break the rules:\n${problems.map((p) => `  ${p.file} ${p.where}: ${p.message}`).join('\n')}`,
    );
  }
  const ordered = [...declared].sort(
    (a, b) =>
      a.definition.key.localeCompare(b.definition.key) || compareVersions(a.definition.version, b.definition.version),
  );
  const results: AppliedUsageType[] = [];
  for (const d of ordered) {
    const { usageType: before } = await options.graphql<{ usageType: { status: string } | null }>(
      'query($k: String!, $v: String) { usageType(key: $k, version: $v) { status } }',
      { k: d.definition.key, v: d.definition.version },
    );
    const { registerUsageType } = await options.graphql<{ registerUsageType: { status: string } }>(
      'mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { status } }',
      { i: d.input },
    );
    results.push({
      key: d.definition.key,
      version: d.definition.version,
      outcome: before?.status === 'ACTIVE' ? 'UNCHANGED' : 'REGISTERED',
      status: registerUsageType.status,
    });
  }
  if (options.writeLock !== false) {
    const lock: Record<string, Record<string, string>> = {};
    for (const d of ordered) (lock[d.definition.key] ??= {})[d.definition.version] = definitionHash(d.definition);
    writeFileSync(join(dir, APPLIED_LOCK), `${JSON.stringify(lock, null, 2)}\n`);
  }
  return results;
}
