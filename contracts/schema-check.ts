// What `npm run schema:check` decides: the supergraph composes the same with both composers, every contract composes,
// every schema rule holds, the committed artefacts are current, and no change breaks a released contract version or,
// on the unversioned full graph, an operation clients really sent.
import { diff, CriticalityLevel, type Change } from '@graphql-inspector/core';
import {
  buildSchema,
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  type GraphQLSchema,
} from 'graphql';
import { commonSdl, ownSubgraphSdl } from '../lib/schema-files';
import { SUBGRAPH_NAMES } from '../lib/topology';
import { AUDIENCES } from './audiences';
import { composeContracts, composeSupergraph, composerDisagreements, subgraphServices } from './composition';
import { latestRelease, supportedReleases } from './releases';
import { schemaRuleViolations } from './schema-rules';
import { checkUsageTypeFiles } from './usage-type-files';

/** An operation clients sent, as the access subgraph's operationUsage returns it. */
export interface RecordedOperation {
  signature: string;
  operationName: string | null;
  coordinates: string[];
  client: string;
  contract: string;
  count: number;
  lastSeen: string;
}

export interface SchemaCheckReport {
  /** Each makes the check fail. */
  failures: string[];
  /** Changes that need a reviewer's eye but break nothing (a new enum value, a new union member). */
  dangerous: string[];
  /** Breaking changes to the full graph that no recorded operation uses. */
  safe: string[];
  notes: string[];
  /** Composed current contracts, by audience (for a release). */
  contracts: Record<string, string>;
  apiSdl: string;
}

/** Schema coordinates an operation record can hold for a change's path: `A.b`, `A.b.arg`, `Input.field`. */
function usageKeys(op: RecordedOperation): string[] {
  return op.coordinates.map((c) => c.replace(/\((\w+):\)$/, '.$1'));
}

/** Coordinates whose type is `typeName` (for a removed enum value: who reads or sends that enum). */
function coordinatesOfType(schema: GraphQLSchema, typeName: string): string[] {
  const out: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const f of Object.values(type.getFields())) {
        if (getNamedType(f.type).name === typeName) out.push(`${type.name}.${f.name}`);
        for (const a of f.args)
          if (getNamedType(a.type).name === typeName) out.push(`${type.name}.${f.name}.${a.name}`);
      }
    }
    if (isInputObjectType(type)) {
      for (const f of Object.values(type.getFields())) {
        if (getNamedType(f.type).name === typeName) out.push(`${type.name}.${f.name}`);
      }
    }
  }
  return out;
}

/** The recorded operations a change breaks. */
export function operationsBrokenBy(
  change: Change,
  operations: RecordedOperation[],
  oldSchema: GraphQLSchema,
): RecordedOperation[] {
  const path = change.path ?? '';
  if (!path) return operations; // a change without a path (e.g. the schema's root types): assume everyone
  const targets = [path];
  if (change.type === 'ENUM_VALUE_REMOVED' || change.type === 'ENUM_VALUE_ADDED') {
    targets.push(...coordinatesOfType(oldSchema, path.split('.')[0]!));
  }
  return operations.filter((op) =>
    usageKeys(op).some((key) => targets.some((t) => key === t || key.startsWith(`${t}.`))),
  );
}

const describe = (c: Change) => `${c.criticality.level}: ${c.message}${c.path ? ` (${c.path})` : ''}`;

export async function checkSchema(options: {
  /** The recorded operations of the last N days, when available. */
  operations?: RecordedOperation[];
  days?: number;
  /** Artefacts as committed, to check they are current: path under schema/ → content (undefined if missing). */
  committed?: (path: string) => string | undefined;
  expectedArtefacts?: Record<string, string>;
  /** A release being cut: its contract may break its latest version by starting a new major. */
  cuttingMajor?: string;
  /** Where product teams' usage-type files are (schema/usage-types by default). */
  usageTypesDir?: string;
}): Promise<SchemaCheckReport> {
  const report: SchemaCheckReport = { failures: [], dangerous: [], safe: [], notes: [], contracts: {}, apiSdl: '' };
  const services = subgraphServices();

  for (const name of SUBGRAPH_NAMES) {
    for (const v of schemaRuleViolations(ownSubgraphSdl(name), name)) report.failures.push(v.message);
  }
  for (const v of schemaRuleViolations(commonSdl(), 'lib/graphql/common.graphql')) report.failures.push(v.message);
  for (const p of checkUsageTypeFiles(options.usageTypesDir).problems) {
    report.failures.push(`schema/usage-types/${p.file}: ${p.where}: ${p.message}`);
  }

  const graph = composeSupergraph(services);
  report.apiSdl = graph.apiSdl;
  for (const hint of graph.hints) report.failures.push(`composition hint to act on: ${hint}`);
  report.failures.push(...composerDisagreements(services, graph));
  try {
    report.contracts = composeContracts(services);
  } catch (error) {
    report.failures.push((error as Error).message);
  }

  if (options.committed && options.expectedArtefacts) {
    for (const [path, content] of Object.entries(options.expectedArtefacts)) {
      if (options.committed(path) !== content) {
        report.failures.push(`schema/${path} is not current: run \`npm run schema:compose\` and commit it`);
      }
    }
  }

  const api = buildSchema(graph.apiSdl);
  for (const audience of AUDIENCES) {
    const current = report.contracts[audience.name];
    if (!current) continue;
    const latest = latestRelease(audience.name);
    if (!latest) {
      report.notes.push(`${audience.name}: no version released yet (npm run schema:release ${audience.name})`);
      continue;
    }
    const changes = await contractChanges(`${audience.name} ${latest.version}`, latest.sdl, current);
    if (options.cuttingMajor !== audience.name) {
      for (const b of changes.breaking) {
        report.failures.push(
          `${b} — breaks the released contract; keep it and deprecate it with a sunset, or cut a new major (npm run schema:release ${audience.name} -- --major)`,
        );
      }
    }
    report.dangerous.push(...changes.dangerous);
    if (changes.compatible > 0) {
      report.notes.push(
        `${audience.name}: ${changes.compatible} compatible changes since ${latest.version}, not yet released`,
      );
    }
    // Every supported major is served on today's graph: it must still have everything the major promised.
    for (const release of supportedReleases(audience.name)) {
      for (const c of await diff(buildSchema(release.sdl), api)) {
        if (c.criticality.level === CriticalityLevel.Breaking) {
          report.failures.push(
            `${audience.name} ${release.version} is still served and relies on what the graph no longer has: ${describe(c)}`,
          );
        }
      }
    }
  }

  const baseline = latestRelease('full');
  if (!baseline) {
    report.notes.push('full graph: no baseline released yet (npm run schema:release full)');
  } else {
    const full = await fullGraphChanges(baseline.sdl, graph.apiSdl, options.operations, options.days ?? 30);
    report.failures.push(...full.failures);
    report.safe.push(...full.safe);
    report.dangerous.push(...full.dangerous);
  }
  return report;
}

/**
 * Changes to the unversioned full graph since its baseline: a breaking one fails if a recorded operation uses what it
 * changes (naming the operations and clients), is safe if none did in the last `days`, and fails when there is no
 * record to tell.
 */
export async function fullGraphChanges(
  baselineSdl: string,
  currentApiSdl: string,
  operations: RecordedOperation[] | undefined,
  days: number,
): Promise<{ failures: string[]; safe: string[]; dangerous: string[] }> {
  const out = { failures: [] as string[], safe: [] as string[], dangerous: [] as string[] };
  const old = buildSchema(baselineSdl);
  for (const c of await diff(old, buildSchema(currentApiSdl))) {
    if (c.criticality.level === CriticalityLevel.Dangerous) out.dangerous.push(`full graph: ${describe(c)}`);
    if (c.criticality.level !== CriticalityLevel.Breaking) continue;
    if (!operations) {
      out.failures.push(
        `full graph: ${describe(c)} — no operation record was given, so who it breaks is unknown (pass --operations or --from-database, or accept it with npm run schema:release full)`,
      );
      continue;
    }
    const broken = operationsBrokenBy(c, operations, old);
    if (broken.length === 0) {
      out.safe.push(`full graph: ${describe(c)} — safe: no operation used it in the last ${days} days`);
      continue;
    }
    const who = broken
      .slice(0, 10)
      .map(
        (op) =>
          `${op.operationName ?? op.signature.slice(0, 12)} by ${op.client} via ${op.contract} (${op.count}×, last ${op.lastSeen})`,
      );
    out.failures.push(
      `full graph: ${describe(c)} — breaks ${broken.length} recorded operation(s): ${who.join('; ')}${broken.length > 10 ? '; …' : ''}`,
    );
  }
  return out;
}

/** What a contract's current schema changes against one of its released versions. */
export async function contractChanges(
  contract: string,
  releasedSdl: string,
  currentSdl: string,
): Promise<{ breaking: string[]; dangerous: string[]; compatible: number }> {
  const changes = await diff(buildSchema(releasedSdl), buildSchema(currentSdl));
  const described = (level: CriticalityLevel) =>
    changes.filter((c) => c.criticality.level === level).map((c) => `${contract}: ${describe(c)}`);
  return {
    breaking: described(CriticalityLevel.Breaking),
    dangerous: described(CriticalityLevel.Dangerous),
    compatible: changes.filter((c) => c.criticality.level === CriticalityLevel.NonBreaking).length,
  };
}
