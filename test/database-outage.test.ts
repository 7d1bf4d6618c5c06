// The database stops in the middle of ingestion and posting, and comes back about 30 s later: meanwhile every request
// fails with the stable, retryable DATABASE_UNAVAILABLE (never a plain internal error); afterwards everything works
// again without restarting any of our processes, and the retried batches and postings settle exactly once.
// This file runs a system of its own (its launcher waits ~30 s before restarting a dead child), so the outage touches
// no other test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { startSystem, type RunningSystem } from '../runtime/system';
import { graphql, mustGraphql } from '../runtime/graph-client';
import { SUBGRAPH_NAMES } from '../lib/topology';
import { aggregateId } from '../subgraphs/usage/enrichment';
import { eventually, unique } from './support';
import { sendUntilAcknowledged, usageBatches, usageCloudEvent } from './fault-support';

const work = mkdtempSync(join(tmpdir(), 'usagegraph-outage-'));
let system: RunningSystem;
let credential: string;
const ok = <T = any>(query: string, variables: Record<string, unknown> = {}) =>
  mustGraphql<T>(system.gatewayUrl, query, variables, { credential, correlationId: 'outage-test' });
const raw = (query: string, variables: Record<string, unknown> = {}) =>
  graphql(system.gatewayUrl, query, variables, { credential, correlationId: 'outage-test' });

beforeAll(async () => {
  const started = Date.now();
  system = await startSystem({
    dataDir: work,
    ports: 'free',
    dbPrefix: 'outage',
    env: { ERP_POLL_MS: '200', ERP_RETRY_BASE_MS: '200', ERP_LEASE_MS: '10000', LOG_LEVEL: 'info' },
    // The database stays down ~24–36 s before the launcher starts it again: long enough to watch requests fail.
    supervision: { baseDelayMs: 30_000, maxDelayMs: 30_000 },
    progress: (m) => process.stderr.write(`[outage system] ${m}\n`),
  });
  credential = (await system.mintApiKey({ owner: 'outage test', description: 'the outage test', roles: ['platform'] }))
    .secret;
  process.stderr.write(`[outage system] ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}, 180_000);

afterAll(async () => {
  await system?.stop();
  if (process.env.USAGEGRAPH_KEEP_TEST_DATA === '1') process.stderr.write(`[outage system] kept ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
});

/** A finalized invoice of `calls` × 0.01 USD for a new customer on `plan`, billed for `type` in September 2026. */
async function finalizedInvoice(type: string, planId: string, calls: number): Promise<string> {
  const customer = unique('outage-c');
  await ok(
    `mutation { upsertCustomer(input: { externalKey: "${customer}", name: "Outage", currency: "USD" }) { id } }`,
  );
  const { createSubscription: sub } = await ok(
    `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${customer}", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
    { p: planId },
  );
  await ok(`mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`, {
    e: [{ id: 'e1', source: customer, type, customer, timestamp: '2026-09-10T10:00:00Z', data: { calls } }],
  });
  await ok(`mutation($s: ID!) { rateBillingPeriod(subscriptionId: $s, period: "2026-09") { total { amount } } }`, {
    s: sub.id,
  });
  const { generateInvoice } = await ok(
    `mutation($s: ID!) { generateInvoice(subscriptionId: $s, period: "2026-09") { id } }`,
    { s: sub.id },
  );
  await ok(`mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number } }`, { id: generateInvoice.id });
  return generateInvoice.id;
}

it('answers DATABASE_UNAVAILABLE while the database is down, then settles every batch and posting exactly once', async () => {
  const TOTAL = 20_000;
  const type = unique('outage_calls');
  await ok(
    `mutation { registerUsageType(input: { key: "${type}", unit: "call", productLine: "outage", fields: [{ name: "calls", type: INTEGER }], aggregation: { type: SUM, field: "calls" } }, activate: true) { key } }`,
  );
  const { createPricePlan: plan } = await ok(
    `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`,
    {
      i: {
        key: unique('outage-plan'),
        name: 'Outage',
        currency: 'USD',
        charges: [{ usageTypeKey: type, unitPrice: '0.01' }],
      },
    },
  );
  const invoices = await Promise.all([11, 12, 13, 14].map((calls) => finalizedInvoice(type, plan.id, calls)));
  const customer = unique('outage-stream');
  await ok(
    `mutation { upsertCustomer(input: { externalKey: "${customer}", name: "Stream", currency: "USD" }) { id } }`,
  );
  const { createSubscription: stream } = await ok(
    `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${customer}", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
    { p: plan.id },
  );

  const ours = () => [...SUBGRAPH_NAMES, 'gateway'].map((n) => system.process(n)!.child.pid);
  const pidsBefore = ours();
  const source = `outage/${type}`;
  const batches = usageBatches(TOTAL, 500, (i) => usageCloudEvent(source, type, customer, `o${i}`));
  let outage: Promise<{ ingest: any; post: any }> | undefined;
  let restart: Promise<void> | undefined;
  // The senders keep retrying through the outage: this resolves once every batch is acknowledged.
  const report = await sendUntilAcknowledged(
    system.gatewayUrl.replace(/\/graphql$/, '/v1/events'),
    credential,
    batches,
    {
      concurrency: 2,
      onAcknowledged: (n) => {
        if (restart || n < batches.length / 4) return;
        restart = system.nextRestart('ferretdb');
        system.process('ferretdb')!.child.kill('SIGKILL');
        // While it is down: a GraphQL ingestion and a posting, each answered with the retryable code.
        outage = new Promise((r) => setTimeout(r, 1_000)).then(async () => {
          const [ingest, post] = await Promise.all([
            raw(`mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`, {
              e: [{ id: 'during', source, type, customer, timestamp: '2026-09-11T10:00:00Z', data: { calls: 1 } }],
            }),
            raw(`mutation($id: ID!) { postInvoice(invoiceId: $id) { id status } }`, { id: invoices[0] }),
          ]);
          return { ingest, post };
        });
      },
    },
  );
  expect(restart).toBeDefined();
  await restart;
  const during = await outage!;
  expect(during.ingest.errors?.[0]?.extensions).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retryable: true });
  // A posting is audited before it is done: with the database down the audit trail refuses it first, retryably.
  expect(during.post.errors?.[0]?.extensions).toMatchObject({
    code: expect.stringMatching(/^(DATABASE|AUDIT)_UNAVAILABLE$/),
    retryable: true,
  });

  const failures = [...report.failures.entries()];
  expect(failures.length).toBeGreaterThan(0);
  // Refused while down with a retryable code — the database's, or the gateway's when it cannot check a credential
  // (the access subgraph's database is down too) — or, in the first instant, not answered at all; never a plain 500.
  for (const [why] of failures)
    expect(why).toMatch(/^(503 (DATABASE_UNAVAILABLE|SUBGRAPH_UNAVAILABLE|REQUEST_CANCELLED)|network:)/);
  expect(failures.some(([why]) => why === '503 DATABASE_UNAVAILABLE')).toBe(true);

  // Nothing of ours was restarted: the services reconnected by themselves.
  expect(ours()).toEqual(pidsBefore);

  const mongo = await MongoClient.connect(system.mongoUri);
  try {
    const stored = await mongo
      .db('outage_usage')
      .collection('usage_events')
      .countDocuments({ aggregateId: aggregateId(stream.id, type, '2026-09') });
    expect(stored).toBe(TOTAL);
  } finally {
    await mongo.close();
  }

  // Posting, retried by the client after the outage: each invoice in the ledger exactly once.
  const keys = await Promise.all(
    invoices.map((id) =>
      eventually(
        'the invoice to be posted',
        async () => {
          const res = await raw(`mutation($id: ID!) { postInvoice(invoiceId: $id) { postingKey status } }`, { id });
          return res.data?.postInvoice?.status === 'POSTED' ? (res.data.postInvoice.postingKey as string) : undefined;
        },
        90_000,
      ),
    ),
  );
  const transactions = (await (await fetch(`${system.ledger.url}/transactions`)).json()) as Array<{ tcode: string }>;
  for (const key of keys) expect(transactions.filter((t) => t.tcode === key)).toHaveLength(1);
}, 420_000);
