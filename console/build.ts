// The finance console and the GraphQL explorer: built with Vite into static files the gateway serves. The build is
// cached by a digest of its sources and the lockfile (like the database binary), so it runs once per change.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { config } from '../lib/config';
import { cacheDir as cacheRoot } from '../runtime/ferretdb';

export const CONSOLE_SOURCE = __dirname;
const ROOT = join(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name !== 'dist' && name !== 'node_modules')
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? sourceFiles(path) : [path];
    })
    .sort();
}

/** A digest of everything the build reads: the console's sources and the locked dependency versions. */
export function consoleDigest(): string {
  const hash = createHash('sha256');
  for (const file of [...sourceFiles(CONSOLE_SOURCE), join(ROOT, 'package-lock.json')]) {
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** Where the build of the current sources is (or will be): USAGEGRAPH_CONSOLE_DIR, else the cache. */
export function consoleBuildDir(): string {
  return config().USAGEGRAPH_CONSOLE_DIR ?? join(cacheRoot(), `console-${consoleDigest()}`);
}

/** Builds the console unless the current sources are already built; returns where the files are and how it went. */
export async function ensureConsoleBuild(
  progress: (message: string) => void = () => undefined,
): Promise<{ dir: string; built: boolean; bytes: Record<string, number> }> {
  const dir = consoleBuildDir();
  if (!existsSync(join(dir, 'index.html')) || !existsSync(join(dir, 'explorer.html'))) {
    progress('building the finance console and the GraphQL explorer (vite, once per change)…');
    // Built beside and renamed into place, so a gateway never serves half a build.
    const staging = `${dir}.${process.pid}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    // Vite runs as its own process: it is an ES module with its own config, and this keeps the caller lean.
    const result = spawnSync(
      process.execPath,
      [
        // Where Node finds it (beside the sources, or above dist/ in a production build).
        join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js'),
        'build',
        '--config',
        join(CONSOLE_SOURCE, 'vite.config.mjs'),
        '--outDir',
        staging,
        '--emptyOutDir',
        '--logLevel',
        'warn',
      ],
      // A production build whatever the caller runs under (Jest sets NODE_ENV=test, which keeps Preact's debug code).
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } },
    );
    if (result.status !== 0) throw new Error(`the console build failed:\n${result.stdout}\n${result.stderr}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return { dir, built: true, bytes: bundleSizes(dir) };
  }
  return { dir, built: false, bytes: bundleSizes(dir) };
}

/** Bytes of JavaScript and CSS each page loads (what "fast to load" is measured by). */
export function bundleSizes(dir: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const page of ['index.html', 'explorer.html']) {
    const html = readFileSync(join(dir, page), 'utf8');
    const assets = [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
    sizes[page] = assets.reduce((n, a) => n + statSync(join(dir, a)).size, 0);
  }
  return sizes;
}
