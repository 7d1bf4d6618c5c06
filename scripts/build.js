#!/usr/bin/env node
// `npm run build`: compiles the services to JavaScript in dist/ (tsc with tsconfig.build.json) and copies beside them
// what they read at run time: schema files, the finance console, the FerretDB patches, the governed schema/ folder.
// Plain JavaScript, so the build needs nothing beyond TypeScript itself.
'use strict';
const { spawnSync } = require('node:child_process');
const { cpSync, readdirSync, rmSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');
const SOURCES = ['lib', 'gateway', 'subgraphs', 'runtime', 'scripts', 'contracts'];

rmSync(DIST, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

/** Every file the compiler does not produce (not .ts), under the source folders. */
function copyAssets(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) copyAssets(path);
    else if (!entry.name.endsWith('.ts')) cpSync(path, join(DIST, relative(ROOT, path)));
  }
}
for (const dir of SOURCES) copyAssets(join(ROOT, dir));
cpSync(join(ROOT, 'schema'), join(DIST, 'schema'), { recursive: true });
// The finance console is built by Vite at the first start (and cached by a digest of its sources and the lockfile),
// so its sources travel whole.
cpSync(join(ROOT, 'console'), join(DIST, 'console'), {
  recursive: true,
  filter: (src) => !src.includes('node_modules'),
});
cpSync(join(ROOT, 'package.json'), join(DIST, 'package.json'));
cpSync(join(ROOT, 'package-lock.json'), join(DIST, 'package-lock.json'));
const files = (dir) =>
  readdirSync(dir).reduce((n, f) => n + (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : 1), 0);
process.stdout.write(`built dist/ (${files(DIST)} files); run it with \`npm run start:prod\`\n`);
