#!/usr/bin/env node
// `npm start` / `npm test` entry: plain JavaScript with no dependencies, because it runs before they are installed.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
const say = (m) => process.stdout.write(`${m}\n`);

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    say(`UsageGraph needs Node.js 20.19 or newer (the MongoDB driver requires it); this is ${process.versions.node}.`);
    process.exit(1);
  }
}

/** Installs the locked dependencies when node_modules is missing or was installed from another lockfile. */
function ensureDependencies() {
  const lock = join(ROOT, 'package-lock.json');
  const marker = join(ROOT, 'node_modules', '.usagegraph-lock-sha256');
  const wanted = createHash('sha256').update(readFileSync(lock)).digest('hex');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) return;
  say('Installing dependencies (npm ci)…');
  const started = Date.now();
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    say('npm ci failed; see the output above.');
    process.exit(result.status ?? 1);
  }
  writeFileSync(marker, wanted);
  say(`Dependencies installed in ${Math.round((Date.now() - started) / 1000)}s.`);
}

function parentOf(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]) || undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a step in the foreground; signals reach it (it handles Ctrl-C itself), and its exit code becomes ours. */
function runStep(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit' });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    // npm 11 exits on a SIGINT sent to it alone without passing it on (a terminal's Ctrl-C reaches us directly).
    // When npm, our parent or its parent (npm runs us through `sh -c`), is gone, stop the step as if Ctrl-C was pressed.
    const ancestors = [process.ppid, parentOf(process.ppid)].filter(Boolean);
    const orphanWatch = setInterval(() => ancestors.some((pid) => !isAlive(pid)) && forward('SIGTERM'), 1000);
    child.on('exit', (code, signal) => {
      clearInterval(orphanWatch);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

async function main() {
  checkNode();
  ensureDependencies();
  const [command, ...rest] = process.argv.slice(2);
  const node = process.execPath;
  if (command === 'start') {
    process.exit(await runStep(node, ['--import', 'tsx', join(ROOT, 'scripts', 'start.ts'), ...rest]));
  }
  if (command === 'test') {
    say('Type-checking (tsc --noEmit)…');
    const tsc = await runStep(node, [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--noEmit',
      '-p',
      join(ROOT, 'tsconfig.json'),
    ]);
    if (tsc !== 0) process.exit(tsc);
    // The console runs in the browser (DOM types, Preact JSX): checked against its own configuration.
    const consoleTsc = await runStep(node, [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--noEmit',
      '-p',
      join(ROOT, 'console', 'tsconfig.json'),
    ]);
    if (consoleTsc !== 0) process.exit(consoleTsc);
    say('Linting (eslint) and checking the format (prettier --check)…');
    const lint = await runStep(node, [join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js'), ROOT]);
    if (lint !== 0) process.exit(lint);
    const format = await runStep(node, [
      join(ROOT, 'node_modules', 'prettier', 'bin', 'prettier.cjs'),
      '--check',
      '--log-level',
      'warn',
      ROOT,
    ]);
    if (format !== 0) {
      say('Run `npm run format` to fix the layout.');
      process.exit(format);
    }
    say('Checking the governed schema (npm run schema:check)…');
    const schema = await runStep(node, ['--import', 'tsx', join(ROOT, 'scripts', 'schema-check.ts')]);
    if (schema !== 0) process.exit(schema);
    const jest = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
    if (rest.length > 0) process.exit(await runStep(node, [jest, ...rest]));
    // The whole suite: the unit tests run beside the end-to-end ones, which spend most of their time waiting on the
    // system they drive; each project prints its own summary, and both must pass.
    say('Running the unit and the end-to-end tests side by side (jest, two projects)…');
    const [unit, e2e] = await Promise.all([
      runStep(node, [jest, '--selectProjects', 'unit']),
      runStep(node, [jest, '--selectProjects', 'e2e']),
    ]);
    say(`unit tests: ${unit === 0 ? 'passed' : 'FAILED'}; end-to-end tests: ${e2e === 0 ? 'passed' : 'FAILED'}`);
    process.exit(unit !== 0 ? unit : e2e);
  }
  if (command === 'bench' && rest[0] && /^[a-z-]+$/.test(rest[0])) {
    process.exit(await runStep(node, ['--import', 'tsx', join(ROOT, 'bench', `${rest[0]}.ts`), ...rest.slice(1)]));
  }
  say('usage: node scripts/bootstrap.js start|test|bench <name>');
  process.exit(2);
}

main();
