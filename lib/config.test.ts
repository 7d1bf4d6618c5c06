import { readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, SETTINGS, configurationTable, readConfig } from './config';
import { startSystem } from '../runtime/system';

const ROOT = join(__dirname, '..');

it('converts values and applies defaults', () => {
  const settings = readConfig({ ERP_MAX_ATTEMPTS: '3', USAGEGRAPH_PORT_FALLBACK: '1', PORT: '' });
  expect(settings.ERP_MAX_ATTEMPTS).toBe(3);
  expect(settings.USAGEGRAPH_PORT_FALLBACK).toBe(true);
  expect(settings.PORT).toBeUndefined(); // empty means unset
  expect(settings.ERP_RETRY_BASE_MS).toBe(2_000);
  expect(settings.LOG_LEVEL).toBe('info');
  expect(settings.MONGODB_URI).toBeUndefined();
});

it('stops on a bad value naming the variable, the value and what is accepted — every bad one at once', () => {
  let error: unknown;
  try {
    readConfig({ ERP_MAX_ATTEMPTS: 'abc', PORT: '70000', LOG_LEVEL: 'loud', USAGEGRAPH_KAFKA_BROKERS: 'kafka' });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigurationError);
  const { problems } = error as ConfigurationError;
  expect(problems).toHaveLength(4);
  expect(problems).toContainEqual(
    expect.stringMatching(/^ERP_MAX_ATTEMPTS="abc" is not accepted: expected a whole number from 1 to 100 \(/),
  );
  expect(problems).toContainEqual(expect.stringMatching(/^PORT="70000" is not accepted: expected a port from 0/));
  expect(problems).toContainEqual(expect.stringMatching(/^LOG_LEVEL="loud" is not accepted: expected fatal, error/));
  expect(problems).toContainEqual(
    expect.stringMatching(/^USAGEGRAPH_KAFKA_BROKERS="kafka" is not accepted: expected `embedded` .* or host:port/),
  );
  expect(() => readConfig({ ERP_MAX_ATTEMPTS: '0' })).toThrow(/ERP_MAX_ATTEMPTS="0"/);
  expect(() => readConfig({ ERP_MAX_ATTEMPTS: '2.5' })).toThrow(/ERP_MAX_ATTEMPTS="2.5"/);
});

it('refuses to start the system on a bad value, before anything runs', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'usagegraph-config-'));
  try {
    await expect(
      startSystem({ dataDir, ports: 'free', env: { ERP_MAX_ATTEMPTS: 'abc' }, progress: () => undefined }),
    ).rejects.toThrow(/ERP_MAX_ATTEMPTS="abc" is not accepted: expected a whole number from 1 to 100/);
    expect(readdirSync(dataDir)).toEqual([]);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** Source files of the services, the launcher and the scripts (not tests, not generated code). */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' || name === 'node_modules' ? [] : sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

it('is the only place that reads the environment', () => {
  const readers = ['lib', 'gateway', 'subgraphs', 'runtime', 'scripts', 'contracts']
    .flatMap((d) => sources(join(ROOT, d)))
    .filter((f) => !f.endsWith(join('lib', 'config.ts')))
    .flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        // Passing the whole environment on to a child process is not reading it.
        .filter((line) => /process\.env\b/.test(line) && !/\.\.\.(\(options\.env \?\? )?process\.env\b/.test(line))
        // Apollo's own switch, set (not read) before Apollo loads.
        .filter((line) => !line.includes('process.env.APOLLO_TELEMETRY_DISABLED ??='))
        .map((line) => `${file.slice(ROOT.length + 1)}: ${line.trim()}`),
    );
  expect(readers).toEqual([]);
});

it('is listed in full in the README’s configuration table', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  expect(readme).toContain(configurationTable());
  expect(Object.keys(SETTINGS).length).toBeGreaterThan(50);
});
