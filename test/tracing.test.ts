// Traces, gateway → subgraph → database, with an in-memory exporter: the gateway and every subgraph run in this test's
// process (against the suite's database, in databases of their own), so one exporter sees every span of one lineage
// query. The spans cross real HTTP between them, carried by the W3C traceparent header.
import { reloadConfig } from '../lib/config';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { CORRELATION_ATTRIBUTE, initTracing } from '../lib/tracing';
import { startSubgraph, type RunningSubgraph } from '../lib/subgraph-server';
import { SUBGRAPH_NAMES, subgraphUrlEnv, type SubgraphName } from '../lib/topology';
import { startGateway, type RunningGateway } from '../gateway/server';
import { mintApiKey, readSecret } from '../runtime/access';
import { graphql } from '../runtime/graph-client';
import { LINEAGE_QUERY, loadDemoData } from '../scripts/demo-data';
import { accessSubgraph } from '../subgraphs/access/index';
import { erpPostingsSubgraph } from '../subgraphs/erp-postings/index';
import { eventsSubgraph } from '../subgraphs/events/index';
import { invoicesSubgraph } from '../subgraphs/invoices/index';
import { pricingSubgraph } from '../subgraphs/pricing/index';
import { subscriptionsSubgraph } from '../subgraphs/subscriptions/index';
import { usageSubgraph } from '../subgraphs/usage/index';
import { signedSubgraphRequest } from './support';

const DEFINITIONS = {
  usage: usageSubgraph,
  subscriptions: subscriptionsSubgraph,
  pricing: pricingSubgraph,
  invoices: invoicesSubgraph,
  'erp-postings': erpPostingsSubgraph,
  access: accessSubgraph,
  events: eventsSubgraph,
} as const;

const exporter = new InMemorySpanExporter();
const savedEnv = { ...process.env };
const subgraphs: RunningSubgraph[] = [];
let gateway: RunningGateway;
let credential: string;
let invoiceNumber: string;

const ledgerDir = mkdtempSync(join(tmpdir(), 'usagegraph-trace-'));

beforeAll(async () => {
  Object.assign(process.env, {
    LOG_LEVEL: 'warn',
    USAGEGRAPH_DB_PREFIX: `ugtrace_${randomBytes(3).toString('hex')}`,
    ERP_JOURNAL_FILE: join(ledgerDir, 'ledger.journal'),
    ERP_POLL_MS: '200',
    USAGEGRAPH_OUTBOX_POLL_MS: '200',
  });
  delete process.env.ERP_HLEDGER_URL;
  delete process.env.USAGEGRAPH_ADDRESS_BOOK;
  reloadConfig(); // these services run in this process, with this environment
  initTracing('test', exporter);
  for (const name of SUBGRAPH_NAMES) {
    const running = await startSubgraph(DEFINITIONS[name] as Parameters<typeof startSubgraph>[0], { port: 0 });
    subgraphs.push(running);
    process.env[subgraphUrlEnv(name)] = running.url;
    reloadConfig();
  }
  gateway = await startGateway({ port: 0 });
  const url = (name: SubgraphName) => subgraphs.find((s) => s.name === name)!.url;
  credential = (
    await mintApiKey(url('access'), readSecret(process.env.USAGEGRAPH_INTERNAL_SECRET_FILE!), {
      owner: 'tracing test',
      description: 'tracing test',
      roles: ['platform'],
    })
  ).secret;
  invoiceNumber = (await loadDemoData(gateway.url, credential)).invoiceNumbers[0]!;
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
  for (const s of subgraphs) await s.stop();
  trace.disable();
  propagation.disable();
  context.disable();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  reloadConfig();
  if (process.env.USAGEGRAPH_KEEP_TEST_DATA !== '1') rmSync(ledgerDir, { recursive: true, force: true, maxRetries: 3 });
});

const attr = (s: ReadableSpan, name: string) => s.attributes[name];
const kind = { SERVER: 1, CLIENT: 2 } as const;

it('traces one lineage query from the gateway through each subgraph to the database, with its correlation id', async () => {
  exporter.reset();
  const correlationId = `trace-${randomBytes(4).toString('hex')}`;
  const result = await graphql(gateway.url, LINEAGE_QUERY, { number: invoiceNumber }, { correlationId, credential });
  expect(result.errors).toBeUndefined();
  expect(result.data.invoiceByNumber.erpPostings[0].status).toBe('POSTED');
  await new Promise((r) => setTimeout(r, 300)); // the last server spans end as their responses finish

  const spans = exporter.getFinishedSpans();
  const root = spans.find((s) => s.kind === kind.SERVER && attr(s, 'usagegraph.service') === 'gateway')!;
  expect(root).toBeDefined();
  expect(root.name).toBe('POST /graphql');
  expect(attr(root, CORRELATION_ATTRIBUTE)).toBe(correlationId);
  expect(attr(root, 'graphql.operation.name')).toBe('Lineage');
  const traceId = root.spanContext().traceId;
  const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
  const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]));
  const ancestors = (s: ReadableSpan): ReadableSpan[] => {
    const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
    return parent ? [parent, ...ancestors(parent)] : [];
  };

  // Gateway → subgraph: each subgraph's server span is the child of the gateway's client span to it.
  const subgraphServers = inTrace.filter((s) => s.kind === kind.SERVER && attr(s, 'usagegraph.service') !== 'gateway');
  const reached = new Set(subgraphServers.map((s) => attr(s, 'usagegraph.service')));
  for (const name of ['invoices', 'pricing', 'usage', 'erp-postings']) expect(reached).toContain(name);
  for (const server of subgraphServers) {
    const parent = byId.get(server.parentSpanId!)!;
    expect(parent.kind).toBe(kind.CLIENT);
    expect(parent.name).toBe(`POST ${attr(server, 'usagegraph.service')}`);
    expect(ancestors(server)).toContain(root);
    expect(attr(server, CORRELATION_ATTRIBUTE)).toBe(correlationId);
  }

  // Subgraph → database: reads of the subgraphs' own collections, inside their server spans.
  const database = inTrace.filter((s) => attr(s, 'db.system') === 'mongodb');
  const collections = new Set(database.map((s) => attr(s, 'db.collection.name')));
  for (const c of ['invoices', 'rated_charges', 'usage_events', 'erp_postings']) expect(collections).toContain(c);
  for (const d of database) expect(ancestors(d).some((a) => subgraphServers.includes(a))).toBe(true);
  // Nothing of this request escaped into another trace.
  expect(
    spans
      .filter((s) => attr(s, CORRELATION_ATTRIBUTE) === correlationId)
      .every((s) => s.spanContext().traceId === traceId),
  ).toBe(true);
}, 60_000);

it('joins the trace of whatever gateway called it: a subgraph honours an incoming traceparent', async () => {
  exporter.reset();
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  const usage = subgraphs.find((s) => s.name === 'usage')!;
  const signed = await signedSubgraphRequest(usage.url, '{ __typename }', {
    headers: { traceparent: `00-${traceId}-${parentId}-01` },
  });
  expect(signed.status).toBe(200);
  await new Promise((r) => setTimeout(r, 100));
  const server = exporter
    .getFinishedSpans()
    .find((s) => s.kind === kind.SERVER && attr(s, 'usagegraph.service') === 'usage')!;
  expect(server.spanContext().traceId).toBe(traceId);
  expect(server.parentSpanId).toBe(parentId);
});
