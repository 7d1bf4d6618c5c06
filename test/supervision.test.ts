// The launcher keeps the system running: a subgraph killed outright is restarted on its address, says so in the
// launcher's log, answers as a new instance, and the graph works through it again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { client } from './support';

const dataDir = () => process.env.USAGEGRAPH_TEST_DATA_DIR!;
const runningProcesses = () =>
  JSON.parse(readFileSync(join(dataDir(), 'run', 'processes.json'), 'utf8')) as Array<{ pid: number; command: string }>;

async function readyInstance(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url.replace(/\/graphql$/, '/ready'), { signal: AbortSignal.timeout(2_000) });
    return res.ok ? ((await res.json()) as { instanceId: string }).instanceId : undefined;
  } catch {
    return undefined;
  }
}

it('restarts a subgraph killed with SIGKILL on the same address, and the graph answers through it again', async () => {
  const url = process.env.SUBGRAPH_URL_EVENTS!;
  const before = await readyInstance(url);
  expect(before).toMatch(/^events-/);
  const victim = runningProcesses().find((p) => p.command.includes('subgraphs/events/main'))!;
  process.kill(victim.pid, 'SIGKILL');

  const launcherLog = () => readFileSync(join(dataDir(), 'logs', 'launcher.log'), 'utf8');
  const deadline = Date.now() + 45_000;
  let after: string | undefined;
  while (Date.now() < deadline) {
    after = await readyInstance(url);
    if (after && after !== before && /events restarted/.test(launcherLog())) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(after).toMatch(/^events-/);
  expect(after).not.toBe(before);
  const log = launcherLog();
  expect(log).toMatch(/events stopped unexpectedly \(killed by SIGKILL\); restarting it in \d+\.\ds/);
  expect(log).toMatch(/events restarted \(pid \d+\) and is ready again/);
  const replacement = runningProcesses().find((p) => p.command.includes('subgraphs/events/main'))!;
  expect(replacement.pid).not.toBe(victim.pid);

  const { businessEvents } = await client().ok('{ businessEvents(first: 1) { nodes { id } } }');
  expect(Array.isArray(businessEvents.nodes)).toBe(true);
}, 60_000);
