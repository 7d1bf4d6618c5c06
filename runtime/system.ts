// The whole system on one machine: embedded database, ledger server, five subgraphs and the gateway, each its own process.
import { join } from 'node:path';
import { DEFAULT_PORTS, SUBGRAPH_NAMES, subgraphUrlEnv, type SubgraphName } from '../lib/topology';
import { ensureFerretDb, startFerretDb, type Progress, type RunningDatabase } from './ferretdb';
import { ensureHledgerWeb, startHledgerWeb, type RunningLedger } from './hledger';
import { ensureInternalSecretFile, mintApiKey, readSecret, type MintedKey } from './access';
import { clearSystemState, writeSystemState } from './system-state';
import { ensureConsoleBuild } from '../console/build';
import type { Role } from '../lib/principal';
import { ProcessRegistry, freePort, isPortFree, spawnManaged, waitForHttp, type ManagedProcess } from './processes';

const ROOT = join(__dirname, '..');

export interface SystemOptions {
  /** Database files, the ledger journal and logs live here. */
  dataDir: string;
  /** A MongoDB to use instead of starting the embedded one. */
  mongoUri?: string;
  /** 'default' prefers the well-known ports (4000–4005) and falls back to free ones; 'free' always picks free ones. */
  ports: 'default' | 'free';
  dbPrefix?: string;
  /** Extra environment for the subgraphs and gateway (e.g. faster retries in tests). */
  env?: NodeJS.ProcessEnv;
  progress: Progress;
}

export interface RunningSystem {
  /** Bytes of script and style each console page loads (index.html is the console, explorer.html GraphiQL). */
  consoleBundleBytes: Record<string, number>;
  gatewayUrl: string;
  subgraphUrls: Record<SubgraphName, string>;
  mongoUri: string;
  dbPrefix: string;
  ledger: RunningLedger;
  logDir: string;
  /** The environment the processes run with; enough to start one more subgraph by hand. */
  env: NodeJS.ProcessEnv;
  processes: ManagedProcess[];
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

async function choosePort(name: SubgraphName | 'gateway', mode: SystemOptions['ports']): Promise<number> {
  if (mode === 'default' && (await isPortFree(DEFAULT_PORTS[name]))) return DEFAULT_PORTS[name];
  return freePort();
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const { progress } = options;
  const logDir = join(options.dataDir, 'logs');
  const registry = new ProcessRegistry(join(options.dataDir, 'run', 'processes.json'));
  await registry.stopLeftovers(progress);
  const started: ManagedProcess[] = [];
  const stopAll = async () => {
    // Gateway first, database last: nothing is cut off from what it depends on while it drains.
    clearSystemState(options.dataDir);
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    registry.clear();
  };
  try {
    let database: RunningDatabase | undefined;
    const [ferretBinary, hledgerBinary, consoleBuild] = await Promise.all([
      options.mongoUri ? Promise.resolve(null) : ensureFerretDb(progress),
      ensureHledgerWeb(progress),
      ensureConsoleBuild(progress),
    ]);
    if (ferretBinary) {
      progress('starting the embedded database (FerretDB)…');
      database = await startFerretDb(ferretBinary, join(options.dataDir, 'ferretdb'), join(logDir, 'ferretdb.log'));
      started.push(database.process);
      registry.record(started);
    }
    const mongoUri = options.mongoUri ?? database!.uri;
    progress('starting the ledger server (hledger-web)…');
    const ledger = await startHledgerWeb(
      hledgerBinary,
      join(options.dataDir, 'ledger', 'usagegraph.journal'),
      join(logDir, 'hledger-web.log'),
    );
    started.push(ledger.process);
    registry.record(started);

    const ports = Object.fromEntries(
      await Promise.all(
        (['gateway', ...SUBGRAPH_NAMES] as const).map(async (n) => [n, await choosePort(n, options.ports)] as const),
      ),
    ) as Record<SubgraphName | 'gateway', number>;
    const subgraphUrls = Object.fromEntries(
      SUBGRAPH_NAMES.map((n) => [n, `http://127.0.0.1:${ports[n]}/graphql`]),
    ) as Record<SubgraphName, string>;
    const dbPrefix = options.dbPrefix ?? 'usagegraph';
    // Subgraphs answer only requests signed with this secret: the gateway's, and each other's.
    const secretFile = ensureInternalSecretFile(options.dataDir);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      USAGEGRAPH_INTERNAL_SECRET_FILE: secretFile,
      MONGODB_URI: mongoUri,
      USAGEGRAPH_DB_PREFIX: dbPrefix,
      ERP_HLEDGER_URL: ledger.url,
      USAGEGRAPH_CONSOLE_DIR: consoleBuild.dir,
      ...Object.fromEntries(SUBGRAPH_NAMES.map((n) => [subgraphUrlEnv(n), subgraphUrls[n]])),
      ...options.env,
    };
    delete env.USAGEGRAPH_INTERNAL_SECRET; // this system's secret is the file, whatever the caller's environment holds
    const tsNode = (entry: string, name: string, port: number) =>
      spawnManaged(name, process.execPath, ['--import', 'tsx', join(ROOT, entry)], {
        env: { ...env, PORT: String(port) },
        cwd: ROOT,
        logFile: join(logDir, `${name}.log`),
        stopWithParent: true,
      });

    progress(`starting the ${SUBGRAPH_NAMES.length} subgraphs…`);
    const subgraphs = SUBGRAPH_NAMES.map((n) => tsNode(`subgraphs/${n}/main.ts`, n, ports[n]));
    started.push(...subgraphs);
    registry.record(started);
    await Promise.all(
      SUBGRAPH_NAMES.map((n, i) => waitForHttp(subgraphUrls[n].replace(/\/graphql$/, '/ready'), [subgraphs[i]!])),
    );

    progress('starting the gateway…');
    const gateway = tsNode('gateway/main.ts', 'gateway', ports.gateway);
    started.push(gateway);
    registry.record(started);
    const gatewayUrl = `http://127.0.0.1:${ports.gateway}/graphql`;
    await waitForHttp(gatewayUrl.replace(/\/graphql$/, '/ready'), [gateway]);
    writeSystemState(options.dataDir, { gatewayUrl, mongoUri, dbPrefix, startedAt: new Date().toISOString() });

    return {
      gatewayUrl,
      subgraphUrls,
      mongoUri,
      dbPrefix,
      ledger,
      logDir,
      env,
      consoleBundleBytes: consoleBuild.bytes,
      processes: [...started],
      mintApiKey: (input) => mintApiKey(subgraphUrls.access, readSecret(secretFile), input),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
