// `npm start`: the whole system on this machine — embedded database, ledger, five subgraphs, gateway — plus demo data.
import { config } from '../lib/config';
import { join } from 'node:path';
import { startSystem, type RunningSystem } from '../runtime/system';
import type { MintedKey } from '../runtime/access';
import { LINEAGE_QUERY, loadDemoData } from './demo-data';

const ROOT = join(__dirname, '..');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const progress = (message: string) => process.stdout.write(`[${elapsed()}] ${message}\n`);

let system: RunningSystem | undefined;
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  progress('stopping every process…');
  await system?.stop();
  progress('stopped; nothing is left running.');
  process.exit(code);
}

async function main(): Promise<void> {
  const dataDir = config().USAGEGRAPH_DATA_DIR ?? join(ROOT, 'data');
  const mongoUri = config().MONGODB_URI;
  progress(
    mongoUri
      ? `using the MongoDB at MONGODB_URI (${redact(mongoUri)})`
      : `using the embedded database, data in ${join(dataDir, 'ferretdb')}`,
  );
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  system = await startSystem({
    dataDir,
    mongoUri,
    ports: 'default',
    gatewayPort: gatewayPortFromEnvironment(),
    dbPrefix: config().USAGEGRAPH_DB_PREFIX,
    progress,
    // A child that crashes is restarted by the launcher; one that keeps crashing stops everything, with the reason.
    onGiveUp: (reason) => {
      progress(`stopping: ${reason}`);
      void stop(1);
    },
  });

  // Every request needs a credential. Each start mints keys valid for a week and shows them this once; only their
  // hashes are stored (in the data folder's database). Operators mint more through the graph (createApiKey).
  const expiresAt = new Date(Date.now() + KEY_DAYS * 86_400_000);
  const keys = {
    platform: await system.mintApiKey({
      owner: 'npm start',
      description: 'platform key printed by npm start',
      roles: ['platform'],
      expiresAt,
    }),
    finance: await system.mintApiKey({
      owner: 'npm start',
      description: 'finance key printed by npm start, for the finance console',
      roles: ['finance'],
      expiresAt,
    }),
  };
  let invoiceNumber: string | undefined;
  if (config().USAGEGRAPH_DEMO !== 'off') {
    progress('loading demo data (idempotent: a second start changes nothing)…');
    const demo = await loadDemoData(system.gatewayUrl, keys.platform.secret, undefined, progress);
    invoiceNumber = demo.invoiceNumbers[0];
    progress(
      `demo data for ${demo.period}: ${demo.events.accepted} events accepted, ${demo.events.duplicates} already there${demo.events.rejected > 0 ? `, ${demo.events.rejected} REJECTED (see quarantinedEvents)` : ''}; invoices ${demo.invoiceNumbers.join(', ')} posted (Acme's taxed, each with a platform fee deferred to next month); credit note ${demo.noteNumbers.join(', ') || 'none'} posted`,
    );
  }
  printBanner(system, invoiceNumber, keys);
}

const KEY_DAYS = 7;

/** PORT is the gateway's port, exactly (an error names it when it is taken); unset, 4000 or the next free one. */
function gatewayPortFromEnvironment(): number | undefined {
  return config().PORT;
}

const kb = (bytes = 0) => `${Math.round(bytes / 1024)} KB`;

function redact(uri: string): string {
  return uri.replace(/\/\/[^@/]*@/, '//***@');
}

function printBanner(
  system: RunningSystem,
  invoiceNumber: string | undefined,
  keys: Record<'platform' | 'finance', MintedKey>,
): void {
  const base = system.gatewayUrl.replace(/\/graphql$/, '');
  const body = JSON.stringify({
    query: LINEAGE_QUERY.replace(/\s+/g, ' '),
    variables: { number: invoiceNumber ?? 'US01-2026-000001' },
  });
  const lines = [
    '',
    `UsageGraph is running (started in ${elapsed()}).`,
    '',
    `  Gateway (GraphQL)   ${system.gatewayUrl}`,
    `  Health / readiness  ${base}/health   ${base}/ready`,
    `  Finance console     ${base}/console   (sign in with the finance key below; ${kb(system.consoleBundleBytes['index.html'])} to load)`,
    `  GraphQL explorer    ${base}/explorer  (GraphiQL, bundled: works offline)`,
    `  Telemetry (bulk)    POST ${base}/v1/events   (CloudEvents or NDJSON)`,
    ...Object.entries(system.subgraphUrls).map(([name, url]) => `  subgraph ${name.padEnd(14)} ${url}`),
    `  Ledger (hledger-web) ${system.ledger.url}/transactions`,
    `  Ledger journal      ${system.ledger.journalPath}   (hledger -f <it> balance)`,
    `  Logs                ${system.logDir}`,
    '',
    `API keys for this start (valid ${KEY_DAYS} days; shown once, stored only as hashes):`,
    `  platform  ${keys.platform.secret}`,
    `  finance   ${keys.finance.secret}   (sign in to the finance console with it)`,
    '',
    `Trace an invoice from its lines back to the usage events and forward to the ERP document:`,
    '',
    `curl -s ${system.gatewayUrl} -H 'content-type: application/json' -H 'x-correlation-id: my-first-trace' \\`,
    `  -H 'authorization: Bearer ${keys.platform.secret}' \\`,
    `  --data '${body}'`,
    '',
    'The same query, for a GraphQL client:',
    '',
    LINEAGE_QUERY,
    `variables: { "number": "${invoiceNumber ?? 'US01-2026-000001'}" }`,
    '',
    'Press Ctrl-C to stop everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().catch((error) => {
  progress(`could not start: ${(error as Error).message}`);
  void stop(1);
});
