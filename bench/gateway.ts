// `npm run bench:gateway`: the same plans through our gateway, a bare Apollo Gateway and Hive Gateway (our plugins on
// Hive's runtime), over the same running subgraphs and database, in one run. For each query: requests/s, latency
// percentiles, CPU-ms per request in the gateway and in the subgraphs + database, peak RSS, and the ratios to the bare
// gateway. autocannon drives each engine with BENCH_CONNECTIONS (20) for BENCH_SECONDS (15) after a warm-up.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { LINEAGE_QUERY, loadDemoData } from '../scripts/demo-data';
import { freePort } from '../runtime/processes';
import { cpuByProcess, fmt, freshSystem, peakRssMb, treeCpu } from './support';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const IDLE_SECONDS = 3;
const PROBE_TIMEOUT_MS = 60_000;
const ROOT = join(__dirname, '..');
/** Comma-separated subsets, e.g. BENCH_QUERIES=lineage BENCH_ENGINES=ours,bare — for profiling one pair. */
const only = (setting: string | undefined) => (name: string) =>
  !setting || setting.split(',').some((s) => name.toLowerCase().includes(s.trim().toLowerCase()));
const queryWanted = only(process.env.BENCH_QUERIES);
const engineWanted = only(process.env.BENCH_ENGINES);

interface Engine {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startChild(name: string, script: string, env: NodeJS.ProcessEnv, logDir: string): Promise<Engine> {
  const port = await freePort();
  let stopping = false;
  // BENCH_PROFILE=<folder>: the engines the benchmark starts write V8 CPU profiles there when they stop.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];
  // Hive Gateway logs every subgraph fetch aborted when autocannon stops; keep that out of the report, in a file.
  const logFile = join(logDir, `${name.replace(/\W+/g, '-')}.log`);
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, [...profile, '--import', 'tsx', join(ROOT, script)], {
    cwd: ROOT,
    env: { ...env, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', log, log],
  });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    // The system's folder goes when the run ends: say why the engine stopped now (its log's last lines).
    const tail = readFileSync(logFile, 'utf8')
      // eslint-disable-next-line no-control-regex -- the colour codes of Hive Gateway's log
      .replace(/\x1b\[[0-9;]*m/g, '')
      .slice(-1_500);
    console.error(`  [engine] ${name} exited by itself (code ${code}, signal ${signal}); the end of its log:\n${tail}`);
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    const answered = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ __typename }"}',
    }).then(
      (r) => r.status < 500,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) throw new Error(`${name} did not answer on ${url} within 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    name,
    url,
    pid: child.pid!,
    stop: async () => {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

interface Measurement {
  engine: string;
  query: string;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  gatewayCpuMs: number;
  subgraphCpuMs: number;
  /** The subgraphs' and the database's CPU per request, each. */
  perProcessCpuMs: Record<string, number>;
  peakRssMb: number | null;
}

async function drive(url: string, body: string, credential: string, seconds: number) {
  return autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body,
  });
}

async function main(): Promise<void> {
  console.log(
    `bench:gateway — ${CONNECTIONS} connections, ${SECONDS} s per query and engine after a ${WARMUP_SECONDS} s warm-up`,
  );
  const { system, credential, cleanup } = await freshSystem('gateway');
  const engines: Engine[] = [];
  try {
    const demo = await loadDemoData(system.gatewayUrl, credential, undefined, (m) => console.error(`  [setup] ${m}`));
    const queries: Record<string, { query: string; variables?: Record<string, unknown> }> = {
      lineage: { query: LINEAGE_QUERY, variables: { number: demo.invoiceNumbers[0] } },
      'two-hop list': {
        query: `{ customers(first: 20) { nodes { externalKey invoices(first: 5) { nodes { number status total { amount currency } } } } } }`,
      },
      'one subgraph': { query: `{ legalEntities { code name functionalCurrency } }` },
    };
    const gatewayProcess = system.processes.find((p) => p.name === 'gateway');
    if (!gatewayProcess?.child.pid) throw new Error('the system has no gateway process');
    const env = { ...process.env, ...system.env };
    if (!engineWanted('ours')) {
      // not measured
    } else if (process.env.BENCH_PROFILE) {
      engines.push(await startChild('ours', 'gateway/main.ts', env, system.logDir)); // the same code, profiled
    } else {
      engines.push({
        name: 'ours',
        url: system.gatewayUrl,
        pid: gatewayProcess.child.pid,
        stop: async () => undefined,
      });
    }
    // The same gateway with identical in-flight queries not merged: the like-for-like comparison with the bare one.
    if (engineWanted('ours, no dedupe')) {
      const name = 'ours, no dedupe';
      engines.push(
        await startChild(name, 'gateway/main.ts', { ...env, USAGEGRAPH_DEDUPE_QUERIES: 'false' }, system.logDir),
      );
    }
    if (engineWanted('bare Apollo Gateway')) {
      engines.push(await startChild('bare Apollo Gateway', 'bench/bare-gateway.ts', env, system.logDir));
    }
    if (engineWanted('Hive Gateway')) {
      engines.push(await startChild('Hive Gateway', 'gateway/hive/serve.ts', env, system.logDir));
    }
    // The same plugins on Hive Router's Rust planner and executor (@graphql-hive/router-runtime, a native addon).
    if (engineWanted('Hive Gateway, Rust planner')) {
      engines.push(
        await startChild(
          'Hive Gateway, Rust planner',
          'gateway/hive/serve.ts',
          { ...env, USAGEGRAPH_HIVE_PLANNER: 'rust' },
          system.logDir,
        ),
      );
    }
    const backendProcesses = system.processes.filter((p) => p.name !== 'gateway');
    /** CPU seconds so far of each subgraph and of the database, by process name. */
    const backendCpu = () => cpuByProcess(backendProcesses);

    const results: Measurement[] = [];
    const skipped: string[] = [];
    for (const [queryName, { query, variables }] of Object.entries(queries)) {
      if (!queryWanted(queryName)) continue;
      const body = JSON.stringify({ query, variables });
      for (const engine of engines) {
        if (!engineWanted(engine.name)) continue;
        // One engine that stops answering (Hive Gateway once hung on the two-hop probe after the lineage load) is
        // reported and skipped for that query; it never stalls the run or hides the other engines' figures.
        const probe = await fetch(engine.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
          body,
          signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
        })
          .then((r) => r.json() as Promise<{ data?: unknown; errors?: unknown[] }>)
          .catch((e: unknown) => ({
            errors: [`${String(e)} (${String((e as { cause?: unknown }).cause)})`],
            data: undefined,
          }));
        if (probe.errors?.length || !probe.data) {
          console.error(
            `  [skip] ${queryName} · ${engine.name} did not answer the probe within ${PROBE_TIMEOUT_MS / 1000} s: ${JSON.stringify(probe).slice(0, 400)}`,
          );
          skipped.push(`${queryName} · ${engine.name}`);
          continue;
        }
        await drive(engine.url, body, credential, WARMUP_SECONDS);
        // Background work (webhook deliveries, outbox relays, the demo's postings) is measured idle and taken off.
        const idleStart = backendCpu();
        await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
        const idleEnd = backendCpu();
        const gatewayBefore = treeCpu([engine.pid]);
        const backendBefore = backendCpu();
        const started = performance.now();
        const run = await drive(engine.url, body, credential, SECONDS);
        const requests = run.requests.total || 1;
        const seconds = (performance.now() - started) / 1000;
        const backendAfter = backendCpu();
        const perProcessCpuMs: Record<string, number> = {};
        for (const [name, before] of backendBefore) {
          const idlePerSecond = (idleEnd.get(name)! - idleStart.get(name)!) / IDLE_SECONDS;
          perProcessCpuMs[name] =
            (Math.max(0, backendAfter.get(name)! - before - idlePerSecond * seconds) * 1000) / requests;
        }
        results.push({
          engine: engine.name,
          query: queryName,
          rps: run.requests.average,
          p50: run.latency.p50,
          p95: percentile95(run),
          p99: run.latency.p99,
          errors: run.errors + run.non2xx,
          gatewayCpuMs: ((treeCpu([engine.pid]) - gatewayBefore) * 1000) / requests,
          subgraphCpuMs: Object.values(perProcessCpuMs).reduce((a, b) => a + b, 0),
          perProcessCpuMs,
          peakRssMb: peakRssMb(engine.pid),
        });
        const r = results.at(-1)!;
        console.error(`  [run] ${queryName} · ${engine.name}: ${fmt(r.rps, 1)} req/s, p95 ${r.p95} ms`);
      }
    }
    report(results);
    if (skipped.length) console.log(`not measured (no answer to the probe): ${skipped.join('; ')}`);
  } finally {
    for (const engine of engines) await engine.stop().catch(() => undefined);
    await cleanup();
  }
}

/** autocannon reports p90 and p97.5 but no p95; interpolate between them. */
function percentile95(run: autocannon.Result): number {
  const { p90, p97_5 } = run.latency;
  return Math.round(p90 + ((p97_5 - p90) * (95 - 90)) / (97.5 - 90));
}

function report(results: Measurement[]): void {
  const header = [
    'query',
    'engine',
    'req/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'errors',
    'gw CPU-ms/req',
    'subgraphs+db CPU-ms/req',
    'peak RSS MB',
    'gw CPU ×bare',
  ];
  const rows = results.map((r) => {
    const bare = results.find((b) => b.query === r.query && b.engine === 'bare Apollo Gateway');
    return [
      r.query,
      r.engine,
      fmt(r.rps, 1),
      String(r.p50),
      String(r.p95),
      String(r.p99),
      String(r.errors),
      fmt(r.gatewayCpuMs, 2),
      fmt(r.subgraphCpuMs, 2),
      r.peakRssMb === null ? '–' : String(r.peakRssMb),
      bare ? fmt(r.gatewayCpuMs / bare.gatewayCpuMs, 2) : '–',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  // Where the subgraphs' share goes, on the like-for-like engine (our gateway without deduplication, else ours).
  for (const query of new Set(results.map((r) => r.query))) {
    const r =
      results.find((m) => m.query === query && m.engine === 'ours, no dedupe') ??
      results.find((m) => m.query === query && m.engine === 'ours');
    if (!r) continue;
    const split = Object.entries(r.perProcessCpuMs)
      .filter(([, ms]) => ms >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => `${name} ${fmt(ms, 2)}`);
    console.log(`${query} (${r.engine}): subgraphs + db CPU-ms/request = ${split.join(', ')}`);
  }
  console.log(
    'aims: lineage p95 ≤ 50 ms on the demo data; our gateway CPU per request ≤ 1.1× the bare Apollo Gateway. Hive Router itself (the Rust binary) is not run: it is not installed here (README: faster engines).',
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
