// The supervisor against real child processes: a crash is restarted after a backoff and reported; a child that keeps
// crashing is given up with the reason; intended stops are not restarts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnManaged } from './processes';
import { Supervisor } from './supervisor';

const dir = mkdtempSync(join(tmpdir(), 'usagegraph-supervisor-'));
const policy = { maxCrashes: 3, windowMs: 10_000, baseDelayMs: 20, maxDelayMs: 100 };
const child = (script: string) => async () =>
  spawnManaged('worker', process.execPath, ['-e', script], { logFile: join(dir, 'worker.log') });
afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }));

it('restarts a child that was killed, says so, and keeps supervising the new one', async () => {
  const reports: string[] = [];
  const supervisor = new Supervisor({ report: (m) => reports.push(m), giveUp: () => undefined }, policy);
  const first = await supervisor.add('worker', child('setInterval(() => {}, 1000)'));
  const restarted = supervisor.nextRestart('worker');
  first.child.kill('SIGKILL');
  await restarted;
  const second = supervisor.current('worker')!;
  expect(second.child.pid).not.toBe(first.child.pid);
  expect(second.child.exitCode).toBeNull();
  expect(reports[0]).toMatch(/^worker stopped unexpectedly \(killed by SIGKILL\); restarting it in \d+\.\ds/);
  expect(reports[1]).toMatch(/^worker restarted \(pid \d+\)/);
  expect(supervisor.restartsOf('worker')).toBe(1);
  supervisor.stopSupervising();
  await second.stop();
  await new Promise((r) => setTimeout(r, 200));
  expect(supervisor.restartsOf('worker')).toBe(1); // an intended stop is not a crash
});

it('gives up a child that keeps crashing, naming it, how often, and its last exit', async () => {
  const reports: string[] = [];
  const gaveUp = new Promise<string>((resolve) => {
    const supervisor = new Supervisor({ report: (m) => reports.push(m), giveUp: resolve }, policy);
    void supervisor.add('worker', child('setTimeout(() => process.exit(3), 50)'));
  });
  const reason = await gaveUp;
  expect(reason).toMatch(/^worker crashed 4 times within 10s \(last: exit code 3\); see .*worker\.\d+\.log$/);
  expect(reports.filter((r) => r.includes('stopped unexpectedly'))).toHaveLength(3);
});
