// The whole system on one machine: embedded database, ledger server, the subgraphs and the gateway, each its own
// supervised process. Each child binds its own port and reports it; the launcher checks that what answers there is its
// own child (its instance id) and keeps an address book the children read to find each other.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { config, readConfig } from '../lib/config';
import { ADDRESS_BOOK_ENV, DEFAULT_PORTS, SUBGRAPH_NAMES, subgraphUrlEnv, type SubgraphName } from '../lib/topology';
import { ensureFerretDb, startFerretDb, type Progress } from './ferretdb';
import { ensureHledgerWeb, startHledgerWeb, type RunningLedger } from './hledger';
import { ensureInternalSecretFile, mintApiKey, readSecret, type MintedKey } from './access';
import { clearSystemState, writeSystemState } from './system-state';
import { ensureConsoleBuild } from '../console/build';
import type { Role } from '../lib/principal';
import { ProcessRegistry, spawnManaged, type ManagedProcess } from './processes';
import { DEFAULT_SUPERVISION, Supervisor, type SupervisionPolicy } from './supervisor';
import { ensureKafka, startKafka } from './kafka';

const ROOT = join(__dirname, '..');
/** Run from TypeScript sources (tsx) or from the compiled build (dist/): children are started the same way. */
const COMPILED = __filename.endsWith('.js');

export interface SystemOptions {
  /** Database files, the ledger journal and logs live here. */
  dataDir: string;
  /** A MongoDB to use instead of starting the embedded one. */
  mongoUri?: string;
  /**
   * 'default' prefers the well-known ports (gateway 4000, subgraphs 4001–4007) and lets each child take a free one
   * when its port is taken; 'free' lets every child take any free port.
   */
  ports: 'default' | 'free';
  /** The gateway's port (npm start's PORT): exactly this one, an error when it is taken. */
  gatewayPort?: number;
  dbPrefix?: string;
  /** Extra environment for the subgraphs and gateway (e.g. faster retries in tests). */
  env?: NodeJS.ProcessEnv;
  progress: Progress;
  supervision?: Partial<SupervisionPolicy>;
  /** A child kept crashing; the system stops itself after calling this. */
  onGiveUp?(reason: string): void;
  /** Processes per subgraph (USAGEGRAPH_REPLICAS when not given): the gateway and the subgraphs spread calls over them. */
  replicas?: number;
}

export interface RunningSystem {
  /** Bytes of script and style each console page loads (index.html is the console, explorer.html GraphiQL). */
  consoleBundleBytes: Record<string, number>;
  gatewayUrl: string;
  /** Where each subgraph listens now (a restarted subgraph may have moved); its first replica when there are several. */
  readonly subgraphUrls: Record<SubgraphName, string>;
  /** Every replica of each subgraph, in start order. */
  readonly subgraphReplicaUrls: Record<SubgraphName, string[]>;
  mongoUri: string;
  dbPrefix: string;
  ledger: RunningLedger;
  /** The Kafka brokers ingestion consumes from; undefined when Kafka is off. */
  kafkaBrokers?: string;
  logDir: string;
  /** The environment the processes run with; enough to start one more subgraph by hand. */
  env: NodeJS.ProcessEnv;
  /** The processes running now, in start order. */
  readonly processes: ManagedProcess[];
  /** The process running now under a name: 'ferretdb', 'hledger-web', a subgraph's name, 'gateway'. */
  process(name: string): ManagedProcess | undefined;
  /** Resolves when the named process has been restarted after a crash and is ready again. */
  nextRestart(name: string): Promise<void>;
  /** Creates an API key (the launcher holds the internal secret, so it can ask the access subgraph directly). */
  mintApiKey(input: {
    owner: string;
    description: string;
    roles: Role[];
    scopes?: string[];
    expiresAt?: Date;
  }): Promise<MintedKey>;
  stop(): Promise<void>;
}

interface NodeServiceSpec {
  name: string;
  /** Path under the repository without extension, e.g. `subgraphs/usage/main`. */
  entry: string;
  preferredPort: number;
  anyPortOnConflict: boolean;
}

/** Node arguments to run an entry point: through tsx from the sources, or plain node on the compiled build. */
export function nodeEntryArgs(entry: string): string[] {
  const profile = config().USAGEGRAPH_CPU_PROFILE_DIR;
  return [
    ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []),
    ...(COMPILED ? [join(ROOT, `${entry}.js`)] : ['--import', 'tsx', join(ROOT, `${entry}.ts`)]),
  ];
}

/** Why a service said it failed to start (its last fatal log line), to show beside the exit code. */
function startFailure(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').reverse();
    for (const line of lines.slice(0, 50)) {
      if (!line.includes('failed to start')) continue;
      const entry = JSON.parse(line) as { err?: { message?: string } };
      if (entry.err?.message) return `: ${entry.err.message}`;
    }
  } catch {
    // no log, or not JSON: the exit code is all there is
  }
  return '';
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Starts a Node service and waits until it is ready: it reports its port in the run folder under the instance id the
 * launcher gave it, and its /ready must answer with that same id (not another system's process on that port).
 */
async function startNodeService(
  spec: NodeServiceSpec,
  env: NodeJS.ProcessEnv,
  runDir: string,
  logDir: string,
  timeoutMs = config().USAGEGRAPH_READY_TIMEOUT_MS,
): Promise<{ process: ManagedProcess; port: number; url: string }> {
  const instanceId = `${spec.name}-${randomUUID()}`;
  const proc = spawnManaged(spec.name, process.execPath, nodeEntryArgs(spec.entry), {
    env: {
      ...env,
      PORT: String(spec.preferredPort),
      USAGEGRAPH_PORT_FALLBACK: spec.anyPortOnConflict ? '1' : '0',
      USAGEGRAPH_INSTANCE_ID: instanceId,
      USAGEGRAPH_RUN_DIR: runDir,
    },
    cwd: ROOT,
    logFile: join(logDir, `${spec.name}.log`),
    stopWithParent: true,
  });
  let exited: string | undefined;
  void proc.exited.then(
    (code) =>
      (exited = `${spec.name} exited with code ${code} while starting${startFailure(proc.logFile)}; see ${proc.logFile}`),
  );
  const deadline = Date.now() + timeoutMs;
  const reportFile = join(runDir, 'instances', `${instanceId}.json`);
  let report: { port: number; url: string } | undefined;
  while (!report) {
    if (exited) throw new Error(exited);
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`${spec.name} did not report a port within ${timeoutMs / 1000}s; see ${proc.logFile}`);
    }
    if (existsSync(reportFile)) report = JSON.parse(readFileSync(reportFile, 'utf8')) as { port: number; url: string };
    else await sleep(100);
  }
  rmSync(reportFile, { force: true });
  const readyUrl = report.url.replace(/\/graphql$/, '/ready');
  for (;;) {
    if (exited) throw new Error(exited);
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json().catch(() => ({}))) as { instanceId?: string };
      if (body.instanceId !== undefined && body.instanceId !== instanceId) {
        await proc.stop();
        throw new Error(
          `${readyUrl} is answered by another process (instance ${body.instanceId}), not the ${spec.name} just started`,
        );
      }
      if (res.ok) return { process: proc, port: report.port, url: report.url };
    } catch (error) {
      if ((error as Error).message.includes('answered by another process')) throw error;
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`${readyUrl} did not become ready within ${timeoutMs / 1000}s; see ${proc.logFile}`);
    }
    await sleep(150);
  }
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  // The children's configuration is checked once, here, so a bad value stops the start before anything runs.
  const settings = readConfig({ ...process.env, ...options.env });
  const logDir = join(options.dataDir, 'logs');
  const runDir = join(options.dataDir, 'run');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const launcherLog = join(logDir, 'launcher.log');
  const progress: Progress = (message) => {
    appendFileSync(launcherLog, `${new Date().toISOString()} ${message}\n`, { mode: 0o600 });
    options.progress(message);
  };
  const registry = new ProcessRegistry(join(runDir, 'processes.json'));
  await registry.stopLeftovers(progress);
  const addressBookFile = join(runDir, 'addresses.json');
  rmSync(addressBookFile, { force: true });
  const addresses: Partial<Record<SubgraphName, string[]>> = {};
  const writeAddressBook = () => {
    writeFileSync(`${addressBookFile}.tmp`, JSON.stringify(addresses, null, 2));
    renameSync(`${addressBookFile}.tmp`, addressBookFile);
  };

  let stopped: Promise<void> | undefined;
  let gaveUp = false;
  const supervisor = new Supervisor(
    {
      report: progress,
      giveUp: (reason) => {
        gaveUp = true;
        progress(`giving up: ${reason}`);
        void stopAll().then(() => options.onGiveUp?.(reason));
      },
      changed: () => registry.record(supervisor.processes()),
    },
    { ...DEFAULT_SUPERVISION, ...options.supervision },
  );
  const stopAll = (): Promise<void> =>
    (stopped ??= (async () => {
      supervisor.stopSupervising();
      clearSystemState(options.dataDir);
      // Gateway first, database last: nothing is cut off from what it depends on while it drains.
      for (const p of supervisor.processes().reverse()) await p.stop().catch(() => undefined);
      registry.clear();
    })());

  try {
    const [ferretBinary, hledgerBinary, consoleBuild] = await Promise.all([
      options.mongoUri ? Promise.resolve(null) : ensureFerretDb(progress),
      ensureHledgerWeb(progress),
      ensureConsoleBuild(progress),
    ]);
    let mongoUri = options.mongoUri;
    if (ferretBinary) {
      progress('starting the embedded database (FerretDB)…');
      let port: number | undefined;
      await supervisor.add('ferretdb', async () => {
        const database = await startFerretDb(
          ferretBinary,
          join(options.dataDir, 'ferretdb'),
          join(logDir, 'ferretdb.log'),
          port,
        );
        port ??= database.port;
        return database.process;
      });
      mongoUri = `mongodb://127.0.0.1:${port}/`;
      registry.record(supervisor.processes());
    }
    progress('starting the ledger server (hledger-web)…');
    let ledger: RunningLedger | undefined;
    await supervisor.add('hledger-web', async () => {
      const journal = join(options.dataDir, 'ledger', 'usagegraph.journal');
      const port = ledger ? Number(new URL(ledger.url).port) : undefined;
      const started = await startHledgerWeb(hledgerBinary, journal, join(logDir, 'hledger-web.log'), port);
      ledger ??= started;
      return started.process;
    });
    registry.record(supervisor.processes());

    const dbPrefix = options.dbPrefix ?? 'usagegraph';
    // Subgraphs answer only requests signed with this secret: the gateway's, and each other's.
    const secretFile = ensureInternalSecretFile(options.dataDir);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      USAGEGRAPH_INTERNAL_SECRET_FILE: secretFile,
      MONGODB_URI: mongoUri!,
      USAGEGRAPH_DB_PREFIX: dbPrefix,
      ERP_HLEDGER_URL: ledger!.url,
      [ADDRESS_BOOK_ENV]: addressBookFile,
      USAGEGRAPH_CONSOLE_DIR: consoleBuild.dir,
    };
    delete env.USAGEGRAPH_INTERNAL_SECRET; // this system's secret is the file, whatever the caller's environment holds
    delete env.PORT;
    // This system's children find each other in its address book, never through addresses meant for another system.
    for (const n of SUBGRAPH_NAMES) delete env[subgraphUrlEnv(n)];
    Object.assign(env, options.env);

    // Kafka ingestion is optional: USAGEGRAPH_KAFKA_BROKERS names the brokers, or `embedded` starts a local one.
    if (settings.USAGEGRAPH_KAFKA_BROKERS === 'embedded') {
      progress('starting the embedded Kafka broker (KRaft, one node)…');
      const classpath = await ensureKafka(progress);
      let ports: { broker: number; controller: number } | undefined;
      let brokers = '';
      await supervisor.add('kafka', async () => {
        const kafka = await startKafka(classpath, join(options.dataDir, 'kafka'), join(logDir, 'kafka.log'), ports);
        brokers = kafka.brokers;
        ports ??= kafka.ports;
        return kafka.process;
      });
      env.USAGEGRAPH_KAFKA_BROKERS = brokers;
      registry.record(supervisor.processes());
    }

    const supervised = async (spec: NodeServiceSpec, onAddress?: (url: string) => void): Promise<string> => {
      let port = spec.preferredPort;
      let url = '';
      await supervisor.add(spec.name, async () => {
        // A restarted child asks for the port it had, so its address rarely changes; if it must, it reports the new one.
        const started = await startNodeService({ ...spec, preferredPort: port }, env, runDir, logDir);
        port = started.port;
        url = started.url;
        onAddress?.(url);
        return started.process;
      });
      registry.record(supervisor.processes());
      return url;
    };
    const preferred = (name: SubgraphName | 'gateway') => (options.ports === 'default' ? DEFAULT_PORTS[name] : 0);

    const replicas = options.replicas ?? settings.USAGEGRAPH_REPLICAS;
    progress(`starting the ${SUBGRAPH_NAMES.length} subgraphs${replicas > 1 ? ` (${replicas} processes each)` : ''}…`);
    await Promise.all(
      SUBGRAPH_NAMES.flatMap((name) =>
        Array.from({ length: replicas }, (_, replica) =>
          supervised(
            {
              // The first replica keeps the subgraph's own name (and log folder); the others are `<name>.2`, ….
              name: replica === 0 ? name : `${name}.${replica + 1}`,
              entry: `subgraphs/${name}/main`,
              preferredPort: replica === 0 ? preferred(name) : 0,
              anyPortOnConflict: true,
            },
            (url) => {
              (addresses[name] ??= [])[replica] = url;
              writeAddressBook();
            },
          ),
        ),
      ),
    );

    if (env.USAGEGRAPH_KAFKA_BROKERS) {
      progress(`starting Kafka ingestion from ${env.USAGEGRAPH_KAFKA_BROKERS}…`);
      await supervised({
        name: 'usage-kafka',
        entry: 'subgraphs/usage/kafka-main',
        preferredPort: 0,
        anyPortOnConflict: true,
      });
    }

    progress('starting the gateway…');
    const gatewayUrl = await supervised({
      name: 'gateway',
      entry: 'gateway/main',
      preferredPort: options.gatewayPort ?? preferred('gateway'),
      anyPortOnConflict: options.gatewayPort === undefined,
    });
    if (gaveUp) throw new Error('a process kept crashing while the system started; see the launcher log');
    writeSystemState(options.dataDir, {
      gatewayUrl,
      mongoUri: mongoUri!,
      dbPrefix,
      startedAt: new Date().toISOString(),
    });

    return {
      gatewayUrl,
      get subgraphUrls() {
        return Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, addresses[n]![0]])) as Record<SubgraphName, string>;
      },
      get subgraphReplicaUrls() {
        return Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, [...addresses[n]!]])) as Record<SubgraphName, string[]>;
      },
      mongoUri: mongoUri!,
      dbPrefix,
      ledger: ledger!,
      kafkaBrokers: env.USAGEGRAPH_KAFKA_BROKERS,
      logDir,
      env,
      consoleBundleBytes: consoleBuild.bytes,
      get processes() {
        return supervisor.processes();
      },
      process: (name) => supervisor.current(name),
      nextRestart: (name) => supervisor.nextRestart(name),
      mintApiKey: (input) => mintApiKey(addresses.access![0]!, readSecret(secretFile), input),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
