// What the benchmarks share: a fresh system, timing, percentiles, memory readings.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem, type RunningSystem } from '../runtime/system';
import { reloadConfig } from '../lib/config';

export async function freshSystem(
  name: string,
  env: NodeJS.ProcessEnv = {},
  options: { replicas?: number } = {},
): Promise<{ system: RunningSystem; credential: string; cleanup(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), `usagegraph-bench-${name}-`));
  const system = await startSystem({
    dataDir,
    ports: 'free',
    mongoUri: process.env.MONGODB_URI,
    dbPrefix: `bench_${Date.now().toString(36)}`,
    env: { LOG_LEVEL: 'warn', ...env },
    progress: (m) => console.error(`  [setup] ${m}`),
    replicas: options.replicas,
  });
  // The benchmark acts as a platform engineer, and (for its baselines) talks to subgraphs as a subgraph would.
  const { secret: credential } = await system.mintApiKey({
    owner: `bench ${name}`,
    description: 'benchmark',
    roles: ['platform'],
  });
  process.env.USAGEGRAPH_INTERNAL_SECRET_FILE = system.env.USAGEGRAPH_INTERNAL_SECRET_FILE;
  for (const [name, url] of Object.entries(system.subgraphUrls))
    process.env[`SUBGRAPH_URL_${name.toUpperCase().replace(/-/g, '_')}`] = url;
  reloadConfig(); // this process now talks to the subgraphs of the system it started
  // A benchmark stopped from outside (Ctrl-C, kill) stops the system it started: before, its ledger server, database
  // and subgraphs kept running (and loading the machine) after the benchmark was gone.
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`  [cleanup] ${signal}: stopping the benchmark's system`);
    void system.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    system,
    credential,
    async cleanup() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await system.stop();
      if (process.env.BENCH_KEEP === '1') console.error(`  [cleanup] kept ${dataDir}`);
      else rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return 0;
  const i = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1);
  return sortedMs[Math.max(0, i)]!;
}

/** Peak resident memory (VmHWM) of a process, in MB. */
export function peakRssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

export { seededRandom as seeded } from '../runtime/seeded-random';

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime (fields 14, 15)
  } catch {
    return 0;
  }
}

/**
 * Seconds a process's threads have spent on a CPU and runnable but waiting for one (the kernel's per-thread schedstat:
 * run time and run-queue delay, nanoseconds). Over a phase, a server's wall time less both is time it sat idle, waiting
 * for requests.
 */
export function schedSeconds(pid: number): { running: number; waiting: number } {
  let running = 0;
  let waiting = 0;
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    // the process ended
  }
  for (const task of tasks) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ').map(Number);
      running += run ?? 0;
      waiting += wait ?? 0;
    } catch {
      // the thread ended while we looked
    }
  }
  return { running: running / 1e9, waiting: waiting / 1e9 };
}

/** How a server spent `wallMs` since `before` (a schedSeconds reading), in seconds. */
export function schedSince(
  pid: number,
  before: { running: number; waiting: number },
  wallMs: number,
): { running: number; waiting: number; idle: number } {
  const now = schedSeconds(pid);
  const running = now.running - before.running;
  const waiting = now.waiting - before.waiting;
  return { running, waiting, idle: Math.max(0, wallMs / 1000 - running - waiting) };
}

/** Adds a schedSince span to a running total of spans. */
export function addSpan(
  total: { running: number; waiting: number; idle: number },
  span: { running: number; waiting: number; idle: number },
): void {
  total.running += span.running;
  total.waiting += span.waiting;
  total.idle += span.idle;
}

/** A schedSince span as `on a CPU x s, waiting for one y s, idle z s`. */
export const schedText = (s: { running: number; waiting: number; idle: number }): string =>
  `on a CPU ${s.running.toFixed(1)} s, waiting for one ${s.waiting.toFixed(1)} s, idle ${s.idle.toFixed(1)} s`;

/** The process and everything it started (FerretDB's backend, a tsx loader): CPU is counted over the whole tree. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const tree: number[] = [];
  const visit = (pid: number) => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
}

/** CPU seconds used so far by these processes and everything they started. */
export const treeCpu = (pids: number[]) => pids.flatMap(processTree).reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** CPU seconds used so far by each of these processes (with what it started), by name. */
export const cpuByProcess = (processes: ReadonlyArray<{ name: string; child: { pid?: number } }>) =>
  new Map(processes.filter((p) => p.child.pid).map((p) => [p.name, treeCpu([p.child.pid!])]));

/**
 * Waits until the system's processes together use under `idleCores` of a core over a second (at most `maxMs`), so the
 * background work a setup leaves behind (aggregate folds, event forwarding) is not timed as the next phase's. Returns
 * the cores they used over the last second and how long it waited.
 */
export async function waitForQuiet(
  system: RunningSystem,
  { idleCores = 0.05, maxMs = 60_000 } = {},
): Promise<{ cores: number; waitedMs: number }> {
  const started = performance.now();
  const total = () => [...cpuByProcess(system.processes).values()].reduce((a, b) => a + b, 0);
  for (;;) {
    const before = total();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const cores = total() - before;
    const waitedMs = performance.now() - started;
    if (cores < idleCores || waitedMs >= maxMs) return { cores, waitedMs };
  }
}

/** Each process's CPU seconds since `before` (a cpuByProcess reading), largest first, as `name 1.2, …` (≥ 0.05 s). */
export function cpuSinceText(
  processes: ReadonlyArray<{ name: string; child: { pid?: number } }>,
  before: Map<string, number>,
): string {
  const after = cpuByProcess(processes);
  return cpuText(new Map([...before].map(([name, s]) => [name, after.get(name)! - s])));
}

/** Adds each process's CPU seconds since `before` (a cpuByProcess reading) to `total`. */
export function addCpuSince(
  total: Map<string, number>,
  processes: ReadonlyArray<{ name: string; child: { pid?: number } }>,
  before: Map<string, number>,
): void {
  for (const [name, s] of cpuByProcess(processes)) total.set(name, (total.get(name) ?? 0) + s - before.get(name)!);
}

/** CPU seconds by process, largest first, as `name 1.2, …` (≥ 0.05 s). */
export function cpuText(seconds: Map<string, number>): string {
  return [...seconds]
    .filter(([, s]) => s >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${s.toFixed(1)}`)
    .join(', ');
}

/** The JSON log lines a process of the system wrote with this message (its logs: <logDir>/<name>/<name>.<n>.log). */
export function loggedLines<T>(system: RunningSystem, processName: string, msg: string): T[] {
  const folder = join(system.logDir, processName);
  return readdirSync(folder)
    .sort((a, b) => Number(a.split('.').at(-2)) - Number(b.split('.').at(-2)))
    .flatMap((f) => readFileSync(join(folder, f), 'utf8').split('\n'))
    .filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`))
    .map((l) => JSON.parse(l) as T);
}

/** Adds up the `ms` step timings of timing log lines, per step. */
export function sumSteps(lines: ReadonlyArray<{ ms: Record<string, number> }>): Map<string, number> {
  const steps = new Map<string, number>();
  for (const l of lines) for (const [step, v] of Object.entries(l.ms)) steps.set(step, (steps.get(step) ?? 0) + v);
  return steps;
}
