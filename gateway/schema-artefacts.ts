// The governed artefacts the gateway serves, read from the schema folder: the supergraph it executes and the released
// contract versions it validates against. Watched while running: a new release is picked up without a restart, after
// it loads and the subgraphs answer; an artefact that fails to load is refused and the old one keeps serving.
import { config } from '../lib/config';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Supergraph } from '@apollo/federation-internals';
import { buildASTSchema, buildSchema, parse, type GraphQLSchema } from 'graphql';
import type { Logger } from '../lib/logger';
import { versionsFile } from '../contracts/releases';

export interface LoadedArtefacts {
  supergraphSdl: string;
  /** The supergraph as a schema that keeps @tag declarations, for authorization. */
  review: GraphQLSchema;
  /** `finance/v1` → the newest released v1.x of the finance contract. */
  contracts: Map<string, { version: string; schema: GraphQLSchema }>;
  fingerprint: string;
}

const VERSION_FILE = /^v(\d+)\.(\d+)\.graphql$/;

/** Released contract versions on disk: `releases/<audience>/v<major>.<minor>.graphql`. */
export function releasedVersions(
  schemaDir: string,
): Array<{ audience: string; major: number; minor: number; file: string }> {
  const root = join(schemaDir, 'releases');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((audience) => statSync(join(root, audience)).isDirectory())
    .flatMap((audience) =>
      readdirSync(join(root, audience)).flatMap((name) => {
        const m = VERSION_FILE.exec(name);
        return m ? [{ audience, major: Number(m[1]), minor: Number(m[2]), file: join(root, audience, name) }] : [];
      }),
    );
}

function fingerprint(schemaDir: string, supergraphPath: string): string {
  const hash = createHash('sha256').update(readFileSync(supergraphPath));
  for (const v of releasedVersions(schemaDir).sort((a, b) => a.file.localeCompare(b.file))) {
    hash.update(v.file).update(readFileSync(v.file));
  }
  return hash.digest('hex');
}

/** Loads and checks every artefact; throws, naming the file, if any fails (so nothing half-loaded is served). */
export function loadArtefacts(
  schemaDir: string,
  supergraphPath = join(schemaDir, 'supergraph.graphql'),
): LoadedArtefacts {
  const print = fingerprint(schemaDir, supergraphPath);
  const supergraphSdl = readFileSync(supergraphPath, 'utf8');
  try {
    Supergraph.build(supergraphSdl, { validateSupergraph: true });
  } catch (error) {
    throw new Error(`${supergraphPath} is not a valid supergraph: ${(error as Error).message}`, { cause: error });
  }
  const review = buildASTSchema(parse(supergraphSdl), { assumeValidSDL: true });
  const newest = new Map<string, { minor: number; file: string }>();
  for (const v of releasedVersions(schemaDir)) {
    const path = `${v.audience}/v${v.major}`;
    const seen = newest.get(path);
    if (!seen || v.minor > seen.minor) newest.set(path, { minor: v.minor, file: v.file });
  }
  const contracts = new Map<string, { version: string; schema: GraphQLSchema }>();
  for (const [path, { minor, file }] of newest) {
    const [audience, major] = path.split('/') as [string, string];
    const sunset = versionsFile(audience, join(schemaDir, 'releases')).sunsets[major.slice(1)];
    if (sunset && new Date(`${sunset}T23:59:59Z`) < new Date()) continue; // past its sunset: no longer served
    try {
      contracts.set(path, { version: `${path}.${minor}`, schema: buildSchema(readFileSync(file, 'utf8')) });
    } catch (error) {
      throw new Error(`${file} does not load: ${(error as Error).message}`, { cause: error });
    }
  }
  return { supergraphSdl, review, contracts, fingerprint: print };
}

const RETRY_AFTER_HEALTH_FAILURE_MS = 5_000;

/** Polls the folder; calls `apply` with new artefacts when they change and load. Returns a stop function. */
export function watchArtefacts(options: {
  schemaDir: string;
  supergraphPath?: string;
  current: () => LoadedArtefacts;
  apply: (next: LoadedArtefacts) => Promise<void>;
  log: Logger;
  intervalMs?: number;
}): () => void {
  let busy = false;
  let refused: string | undefined;
  let retryAt = 0;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const supergraphPath = options.supergraphPath ?? join(options.schemaDir, 'supergraph.graphql');
      const print = fingerprint(options.schemaDir, supergraphPath);
      if (print === options.current().fingerprint || print === refused) return;
      if (Date.now() < retryAt) return;
      let next: LoadedArtefacts;
      try {
        next = loadArtefacts(options.schemaDir, supergraphPath);
      } catch (error) {
        refused = print; // a broken file stays refused until it changes
        options.log.error({ err: error }, 'refused new schema artefacts; the previous ones keep serving');
        return;
      }
      try {
        await options.apply(next);
        refused = undefined;
        options.log.info({ contracts: [...next.contracts.keys()] }, 'serving newly released schema artefacts');
      } catch (error) {
        // A subgraph did not answer the health check: the same release is tried again a little later.
        retryAt = Date.now() + RETRY_AFTER_HEALTH_FAILURE_MS;
        options.log.error({ err: error }, 'new schema artefacts wait: a subgraph did not pass the health check');
      }
    } catch (error) {
      options.log.warn({ err: error }, 'could not read the schema folder; will look again');
    } finally {
      busy = false;
    }
  }, options.intervalMs ?? config().USAGEGRAPH_SCHEMA_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
