// The embedded database: FerretDB 1.24 (MongoDB wire protocol, SQLite backend), built once with Go into a cache.
import { config } from '../lib/config';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { FERRETDB_PATCHES, LIBC_PATCH } from './ferretdb-patches';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnManaged, waitForTcp, type ManagedProcess } from './processes';

const run = promisify(execFile);
export const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';
export const FERRETDB_VERSION = 'v1.24.2';

export type Progress = (message: string) => void;

export function cacheDir(): string {
  return config().USAGEGRAPH_CACHE_DIR ?? join(config().XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'usagegraph');
}

/** The patches are part of the build's identity: changing one builds a new binary beside the old. */
const PATCH_ID = createHash('sha256')
  .update(JSON.stringify([FERRETDB_PATCHES, LIBC_PATCH]))
  .digest('hex')
  .slice(0, 10);

export function ferretDbBinaryPath(): string {
  return join(cacheDir(), `ferretdb-${FERRETDB_VERSION}-${PATCH_ID}`, 'ferretdb');
}

function applyPatches(sourceDir: string): void {
  for (const patch of FERRETDB_PATCHES) {
    const path = join(sourceDir, patch.file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(patch.find))
      throw new Error(
        `cannot patch FerretDB: ${patch.file} does not contain the expected code (is this ${FERRETDB_VERSION}?)`,
      );
    // A function, so "$`" and "$'" in the Go code are not read as replacement patterns.
    writeFileSync(
      path,
      text.replace(patch.find, () => patch.replace),
    );
  }
}

/** The cached binary, building it first if needed. Concurrent callers wait for one build. */
export async function ensureFerretDb(progress: Progress): Promise<string> {
  const binary = ferretDbBinaryPath();
  if (existsSync(binary)) return binary;
  const lock = `${binary}.building`;
  mkdirSync(join(binary, '..'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(binary)) return binary;
      if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      progress('another process is building FerretDB; waiting for it…');
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
  try {
    if (existsSync(binary)) return binary;
    await buildFerretDb(binary, progress);
    return binary;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function buildFerretDb(binary: string, progress: Progress): Promise<void> {
  try {
    await run('go', ['version']);
  } catch {
    throw new Error(
      'Go is needed once to build the embedded database (FerretDB). Install Go 1.22 or newer (https://go.dev/dl/, or `apt-get install golang`), or set MONGODB_URI to use a MongoDB server instead.',
    );
  }
  const started = Date.now();
  progress(
    `building the embedded database FerretDB ${FERRETDB_VERSION} (with the _id index fixes in runtime/ferretdb-patches) with Go into ${join(binary, '..')} (first run only; about 1–3 minutes)…`,
  );
  const heartbeat = setInterval(
    () => progress(`  still building FerretDB (${Math.round((Date.now() - started) / 1000)}s)…`),
    15_000,
  );
  const work = join(tmpdir(), `usagegraph-ferretdb-build-${process.pid}`);
  try {
    progress('  downloading the FerretDB module and its dependencies from the Go module proxy…');
    const { stdout } = await run('go', ['mod', 'download', '-json', `${FERRETDB_MODULE}@${FERRETDB_VERSION}`], {
      maxBuffer: 10 * 1024 * 1024,
    });
    const moduleDir = (JSON.parse(stdout) as { Dir: string }).Dir;
    // `go install module@version` panics at start: the release expects build/version/version.txt, which only its own build writes.
    rmSync(work, { recursive: true, force: true });
    cpSync(moduleDir, work, { recursive: true });
    chmodRecursive(work);
    writeFileSync(join(work, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
    applyPatches(work);
    await patchLibc(work);
    progress('  compiling (go build)…');
    await run('go', ['build', '-trimpath', '-o', `${binary}.tmp`, './cmd/ferretdb'], {
      cwd: work,
      env: { ...process.env, CGO_ENABLED: '0' },
      maxBuffer: 10 * 1024 * 1024,
    });
    renameSync(`${binary}.tmp`, binary);
    progress(`built FerretDB in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    clearInterval(heartbeat);
    rmSync(work, { recursive: true, force: true });
  }
}

/** Builds FerretDB against a copy of its libc module with LIBC_PATCH applied (point 8 in ferretdb-patches). */
async function patchLibc(work: string): Promise<void> {
  const { module, signature, fastPath, helperFile, helper } = LIBC_PATCH;
  const version = new RegExp(`^\\s*${module.replace(/\./g, '\\.')} (v\\S+)`, 'm').exec(
    readFileSync(join(work, 'go.mod'), 'utf8'),
  )?.[1];
  if (!version) throw new Error(`cannot patch FerretDB: its go.mod names no ${module}`);
  const { stdout } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
    maxBuffer: 10 * 1024 * 1024,
  });
  const copy = join(work, '_usagegraph', 'libc');
  cpSync((JSON.parse(stdout) as { Dir: string }).Dir, copy, { recursive: true });
  chmodRecursive(copy);
  let patched = 0;
  for (const file of readdirSync(copy).filter((f) => f.endsWith('.go'))) {
    const text = readFileSync(join(copy, file), 'utf8');
    if (!text.includes(signature)) continue;
    writeFileSync(
      join(copy, file),
      text.replace(signature, () => signature + fastPath),
    );
    patched++;
  }
  if (patched === 0) throw new Error(`cannot patch FerretDB: ${module} ${version} has no memcmp of the expected form`);
  writeFileSync(join(copy, helperFile), helper);
  await run('go', ['mod', 'edit', `-replace=${module}=./_usagegraph/libc`], { cwd: work });
}

function chmodRecursive(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) chmodRecursive(p);
    else chmodSync(p, 0o644);
  }
}

export interface RunningDatabase {
  uri: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts FerretDB with its data in `dataDir` on `port` (a restart keeps its address) or a free loopback port;
 * telemetry and the debug listener off.
 */
export async function startFerretDb(
  binary: string,
  dataDir: string,
  logFile: string,
  port?: number,
): Promise<RunningDatabase> {
  mkdirSync(dataDir, { recursive: true });
  port ??= await freePort();
  const proc = spawnManaged(
    'ferretdb',
    binary,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/`,
      `--state-dir=${dataDir}`,
      `--listen-addr=127.0.0.1:${port}`,
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=warn',
    ],
    // Go's collector at its default (GOGC=100) took ~15 % of FerretDB's CPU decoding documents; 400 trades memory
    // (a few hundred MB at most here) for it. A GOGC in the environment wins.
    { logFile, env: { ...process.env, GOGC: process.env.GOGC ?? '400' } },
  );
  await waitForTcp('127.0.0.1', port, proc);
  return { uri: `mongodb://127.0.0.1:${port}/`, port, process: proc, stop: () => proc.stop() };
}
