// Starts the real system once for the suite: embedded database (or MONGODB_URI), hledger-web, the subgraphs, the
// gateway — secured as in production: a local OIDC issuer, and one API key per role for the tests to act with.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem } from '../runtime/system';
import { SUBGRAPH_NAMES, subgraphUrlEnv } from '../lib/topology';
import { ROLES } from '../lib/principal';
import { TEST_AUDIENCE, startTestIssuer } from './oidc-issuer';
import { keyEnv } from './support';

export default async function globalSetup(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'usagegraph-test-'));
  const started = Date.now();
  const issuer = await startTestIssuer();
  const system = await startSystem({
    dataDir,
    mongoUri: process.env.MONGODB_URI,
    ports: 'free',
    // A run against a shared MongoDB gets databases of its own.
    dbPrefix: `ugtest_${Date.now().toString(36)}`,
    env: {
      ERP_POLL_MS: '200',
      ERP_RETRY_BASE_MS: '200',
      // A posting left SENDING by a killed sender is taken over after this (exactly once still: the ledger is asked).
      ERP_LEASE_MS: '10000',
      USAGE_RELEASE_MS: '300',
      // Off: whether a second batch is late would depend on the keeper's timing. test/aggregate-keeper.test.ts runs one.
      USAGE_AGGREGATE_KEEPER_MS: '0',
      PRICING_RECHECK_MS: '300',
      CREDIT_EXPIRY_MS: '500',
      // Billing runs in pages of 50, and a crashed runner's job resumed within seconds, so tests can watch both.
      PRICING_RUN_PAGE_SIZE: '50',
      USAGEGRAPH_JOB_LEASE_MS: '5000',
      USAGEGRAPH_JOB_POLL_MS: '500',
      // Queue gauges read the database on every scrape, so a test sees what it just did.
      USAGEGRAPH_METRICS_CACHE_MS: '0',
      USAGEGRAPH_OPERATION_FLUSH_MS: '500',
      USAGEGRAPH_OUTBOX_POLL_MS: '200',
      USAGEGRAPH_WEBHOOK_POLL_MS: '200',
      USAGEGRAPH_WEBHOOK_RETRY_BASE_MS: '200',
      USAGEGRAPH_WEBHOOK_MAX_ATTEMPTS: '3',
      // Revocation takes effect within this: short, so a test can watch it happen.
      USAGEGRAPH_CREDENTIAL_CACHE_MS: '1000',
      USAGEGRAPH_OIDC_ISSUER: issuer.issuer,
      USAGEGRAPH_OIDC_JWKS_URL: issuer.jwksUrl,
      USAGEGRAPH_OIDC_AUDIENCE: TEST_AUDIENCE,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      // Every process records the shapes of the queries it sends, for test/query-plans.test.ts.
      USAGEGRAPH_QUERY_SHAPES_DIR: join(dataDir, 'query-shapes'),
    },
    progress: (m) => process.stderr.write(`[test setup] ${m}\n`),
  });
  for (const role of ROLES) {
    const key = await system.mintApiKey({
      owner: `test ${role}`,
      description: `the test suite's ${role} key`,
      roles: [role],
      // The internal-tool key may only send usage and read billing, to test scopes.
      scopes: role === 'internal-tool' ? ['ingest', 'billing'] : [],
    });
    process.env[keyEnv(role)] = key.secret;
  }
  process.stderr.write(
    `[test setup] system ready in ${((Date.now() - started) / 1000).toFixed(1)}s; logs in ${system.logDir}\n`,
  );
  (globalThis as Record<string, unknown>).__USAGEGRAPH_SYSTEM__ = { system, dataDir, issuer };
  // Test workers inherit these.
  process.env.USAGEGRAPH_TEST_GATEWAY_URL = system.gatewayUrl;
  process.env.USAGEGRAPH_TEST_LEDGER_URL = system.ledger.url;
  process.env.USAGEGRAPH_TEST_JOURNAL = system.ledger.journalPath;
  process.env.USAGEGRAPH_TEST_DATA_DIR = dataDir;
  process.env.USAGEGRAPH_TEST_QUERY_SHAPES_DIR = join(dataDir, 'query-shapes');
  // The processes' environment (no secret in it: the secret is a file), for tests that start one more process of it.
  const systemEnvFile = join(dataDir, 'run', 'test-system-env.json');
  writeFileSync(systemEnvFile, JSON.stringify(system.env), { mode: 0o600 });
  process.env.USAGEGRAPH_TEST_SYSTEM_ENV_FILE = systemEnvFile;
  process.env.USAGEGRAPH_TEST_OIDC_ISSUER = issuer.issuer;
  process.env.USAGEGRAPH_TEST_OIDC_PRIVATE_JWK = issuer.privateJwk;
  process.env.USAGEGRAPH_INTERNAL_SECRET_FILE = system.env.USAGEGRAPH_INTERNAL_SECRET_FILE;
  process.env.MONGODB_URI = system.mongoUri;
  process.env.USAGEGRAPH_DB_PREFIX = system.dbPrefix;
  for (const name of SUBGRAPH_NAMES) process.env[subgraphUrlEnv(name)] = system.subgraphUrls[name];
}
