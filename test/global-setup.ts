// Starts the real system once for the suite: embedded database (or MONGODB_URI), hledger-web, five subgraphs, gateway.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem } from '../runtime/system';
import { SUBGRAPH_NAMES, subgraphUrlEnv } from '../lib/topology';

export default async function globalSetup(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'usagegraph-test-'));
  const started = Date.now();
  const system = await startSystem({
    dataDir,
    mongoUri: process.env.MONGODB_URI,
    ports: 'free',
    // A run against a shared MongoDB gets databases of its own.
    dbPrefix: `ugtest_${Date.now().toString(36)}`,
    env: {
      ERP_POLL_MS: '200',
      ERP_RETRY_BASE_MS: '200',
      USAGE_RELEASE_MS: '300',
      PRICING_RECHECK_MS: '300',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    },
    progress: (m) => process.stderr.write(`[test setup] ${m}\n`),
  });
  process.stderr.write(
    `[test setup] system ready in ${((Date.now() - started) / 1000).toFixed(1)}s; logs in ${system.logDir}\n`,
  );
  (globalThis as Record<string, unknown>).__USAGEGRAPH_SYSTEM__ = { system, dataDir };
  // Test workers inherit these.
  process.env.USAGEGRAPH_TEST_GATEWAY_URL = system.gatewayUrl;
  process.env.USAGEGRAPH_TEST_LEDGER_URL = system.ledger.url;
  process.env.USAGEGRAPH_TEST_JOURNAL = system.ledger.journalPath;
  process.env.USAGEGRAPH_TEST_DATA_DIR = dataDir;
  process.env.MONGODB_URI = system.mongoUri;
  process.env.USAGEGRAPH_DB_PREFIX = system.dbPrefix;
  for (const name of SUBGRAPH_NAMES) process.env[subgraphUrlEnv(name)] = system.subgraphUrls[name];
}
