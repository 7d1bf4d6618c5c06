// Two processes of every subgraph on the embedded database, and a gateway spreading its calls over them: the test
// system's own process of each subgraph, plus a second one started here. The second processes and a second gateway
// read an address book that lists both processes of each subgraph, so every call — from the gateway and from one
// subgraph to another — goes to the next process in turn. Concurrent ingestion with duplicates, subscriptions and
// aliases for one customer, billing runs, finalization, note issuance and posting, all at once from both sides:
// nothing lost, nothing counted, numbered or posted twice, no overlapping subscriptions.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { spawnManaged, type ManagedProcess } from '../runtime/processes';
import { nodeEntryArgs } from '../runtime/system';
import { graphql } from '../runtime/graph-client';
import { SUBGRAPH_NAMES, subgraphUrlEnv, type SubgraphName } from '../lib/topology';
import { eventually, keyFor, metricValue, metricsText, unique } from './support';
import { billedCustomer, ledgerTransactions, legalEntity } from './accounting-support';

const work = mkdtempSync(join(tmpdir(), 'usagegraph-replicas-'));
const book = join(work, 'addresses.json');
const started: ManagedProcess[] = [];
const replicaUrls: Partial<Record<SubgraphName, string[]>> = {};
let gatewayUrl = '';
let mongo: MongoClient;

/** A child of ours: its own instance id, any free port, reported in `work/instances/<id>.json`. */
async function startChild(name: string, entry: string, env: NodeJS.ProcessEnv): Promise<string> {
  const instanceId = `${name}-${randomUUID()}`;
  const child = spawnManaged(name, process.execPath, nodeEntryArgs(entry), {
    env: { ...env, PORT: '0', USAGEGRAPH_INSTANCE_ID: instanceId, USAGEGRAPH_RUN_DIR: work },
    logFile: join(work, `${name}.log`),
  });
  started.push(child);
  const report = join(work, 'instances', `${instanceId}.json`);
  await eventually(`${name} to listen`, async () => existsSync(report), 120_000);
  const url = `http://127.0.0.1:${(JSON.parse(readFileSync(report, 'utf8')) as { port: number }).port}/graphql`;
  await eventually(`${name} to be ready`, async () => (await fetch(url.replace(/graphql$/, 'ready'))).ok, 120_000);
  return url;
}

beforeAll(async () => {
  mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  // The test system's environment (database, ledger, secret, the suite's fast retries), without its address book.
  const env: NodeJS.ProcessEnv = JSON.parse(readFileSync(process.env.USAGEGRAPH_TEST_SYSTEM_ENV_FILE!, 'utf8'));
  for (const n of SUBGRAPH_NAMES) {
    delete env[subgraphUrlEnv(n)];
    replicaUrls[n] = [process.env[subgraphUrlEnv(n)]!];
  }
  env.USAGEGRAPH_ADDRESS_BOOK = book;
  writeFileSync(book, JSON.stringify(replicaUrls));
  const second = await Promise.all(SUBGRAPH_NAMES.map((n) => startChild(`${n}.2`, `subgraphs/${n}/main`, env)));
  SUBGRAPH_NAMES.forEach((n, i) => replicaUrls[n]!.push(second[i]!));
  writeFileSync(book, JSON.stringify(replicaUrls));
  gatewayUrl = await startChild('gateway.2', 'gateway/main', env);
}, 300_000);

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop().catch(() => undefined)));
  await mongo?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A GraphQL call through the spreading gateway with the platform key; errors are returned, not thrown. */
const call = (query: string, variables: Record<string, unknown> = {}) =>
  graphql(gatewayUrl, query, variables, { credential: keyFor('platform') });
async function ok<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await call(query, variables);
  if (result.errors?.length) throw new Error(JSON.stringify(result.errors));
  return result.data as T;
}

/** GraphQL requests a process has answered, from its own Prometheus metrics. */
const answered = async (url: string): Promise<number> =>
  metricValue(await metricsText(url), 'usagegraph_graphql_request_duration_seconds_count') ?? 0;

it('stores each event once when three senders send the same events through both processes at once', async () => {
  const b = await billedCustomer('rep_ingest', 'DEFAULT', 1, { finalize: false });
  const events = Array.from({ length: 600 }, (_, i) => ({
    specversion: '1.0',
    id: `r${i}`,
    source: b.customerKey,
    type: b.usageType,
    subject: b.customerKey,
    time: '2026-10-10T10:00:00Z',
    data: { calls: 1 },
  }));
  const send = async (order: object[]) => {
    let accepted = 0;
    for (let i = 0; i < order.length; i += 100) {
      const res = await fetch(gatewayUrl.replace(/graphql$/, 'v1/events'), {
        method: 'POST',
        headers: {
          'content-type': 'application/cloudevents-batch+json',
          authorization: `Bearer ${keyFor('platform')}`,
        },
        body: JSON.stringify(order.slice(i, i + 100)),
      });
      expect(res.status).toBe(200);
      accepted += ((await res.json()) as { accepted: number }).accepted;
    }
    return accepted;
  };
  // Beside them, the same 20 invalid events from three senders, twice each: every arrival counted in the quarantine.
  const invalid = Array.from({ length: 20 }, (_, i) => ({ ...events[i]!, id: `bad${i}`, data: { calls: 'many' } }));
  const [accepted] = await Promise.all([
    Promise.all([send(events), send([...events].reverse()), send(events)]),
    Promise.all([1, 2, 3].map(async () => (await send(invalid)) + (await send(invalid)))),
  ]);
  expect(accepted.reduce((a, c) => a + c, 0)).toBe(600);
  const quarantined = await mongo
    .db(`${process.env.USAGEGRAPH_DB_PREFIX}_usage`)
    .collection('quarantined_events')
    .find({ 'payload.source': b.customerKey })
    .toArray();
  expect(quarantined.map((q) => q.receivedCount)).toEqual(Array(20).fill(6));
  const stored = await mongo
    .db(`${process.env.USAGEGRAPH_DB_PREFIX}_usage`)
    .collection('usage_events')
    .countDocuments({ source: b.customerKey });
  expect(stored).toBe(600);
  // Rated from both processes at once: one current charge of exactly 600 calls.
  const rated = await Promise.all(
    [1, 2, 3, 4].map(() =>
      ok(
        `mutation($s: ID!) { rateBillingPeriod(subscriptionId: $s, period: "2026-10") { ratedCharges { id revision quantity } } }`,
        { s: b.subscriptionId },
      ),
    ),
  );
  const charges = rated.map((r) => r.rateBillingPeriod.ratedCharges[0]);
  expect(new Set(charges.map((c) => c.id)).size).toBe(1);
  expect(charges[0].quantity).toBe('600');
  expect(new Set(charges.map((c) => c.revision)).size).toBe(1);
}, 180_000);

it('creates one subscription and keeps every alias when both processes change one customer at once', async () => {
  const u = unique('rep_sub');
  const { createPricePlan: plan } = await ok(
    `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`,
    {
      i: {
        key: `${u}-plan`,
        name: 'p',
        currency: 'USD',
        charges: [],
        recurringFees: [{ key: 'base', description: 'Base', amount: '10', timing: 'IN_ARREARS', productLine: 'api' }],
      },
    },
  );
  const { upsertCustomer: customer } = await ok(
    `mutation { upsertCustomer(input: { externalKey: "${u}-c", name: "c", currency: "USD" }) { id } }`,
  );
  // Eight overlapping subscriptions (each starting a day later, none ending): exactly one may exist.
  const create = `mutation($p: ID!, $s: DateTime!) { createSubscription(input: { customerExternalKey: "${u}-c", pricePlanId: $p, startsAt: $s }) { id } }`;
  const alias = `mutation($c: ID!, $a: String!) { addCustomerAlias(customerId: $c, alias: $a) { id } }`;
  const results = await Promise.all([
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((d) => call(create, { p: plan.id, s: `2026-01-0${d}T00:00:00Z` })),
    ...[1, 2, 3, 4, 5, 6].map((i) => call(alias, { c: customer.id, a: `${u}-alias-${i}` })),
  ]);
  const created = results.slice(0, 8).filter((r) => !r.errors);
  expect(created).toHaveLength(1);
  for (const r of results.slice(0, 8).filter((r) => r.errors)) expect(r.errors![0]!.extensions?.code).toBe('CONFLICT');
  expect(results.slice(8).every((r) => !r.errors)).toBe(true);
  const { customer: after } = await ok(`query($id: ID!) { customer(id: $id) { aliases subscriptions { id } } }`, {
    id: customer.id,
  });
  expect(after.subscriptions).toHaveLength(1);
  expect(new Set(created.map((r: any) => r.data.createSubscription.id))).toEqual(new Set([after.subscriptions[0].id]));
  expect([...after.aliases].sort()).toEqual([1, 2, 3, 4, 5, 6].map((i) => `${u}-alias-${i}`).sort());
}, 180_000);

it('numbers, corrects and posts each document once when both processes finalize, issue notes and post at once', async () => {
  const entity = await legalEntity('REP');
  const customers = await Promise.all(
    [100, 200, 300].map((calls) => billedCustomer('rep_doc', entity.code, calls, { finalize: false })),
  );
  // Finalize every invoice twice at once: three numbers, no gap, no repeat.
  const finalized = await Promise.all(
    customers.flatMap((b) =>
      [1, 2].map(() => ok(`mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { id number } }`, { id: b.invoiceId })),
    ),
  );
  const numberOf = new Map<string, Set<string>>();
  for (const f of finalized)
    numberOf.set(f.finalizeInvoice.id, (numberOf.get(f.finalizeInvoice.id) ?? new Set()).add(f.finalizeInvoice.number));
  expect([...numberOf.values()].map((s) => s.size)).toEqual([1, 1, 1]);
  const numbers = [...numberOf.values()].map((s) => [...s][0]!).sort();
  expect(numbers.map((n) => Number(n.split('-').pop()))).toEqual([1, 2, 3]);

  // Late usage, re-rated from both processes at once: one open difference per invoice.
  for (const b of customers)
    await ok(`mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`, {
      e: [
        {
          id: `late-${b.customerKey}`,
          source: 'replicas-test',
          type: b.usageType,
          customer: b.customerKey,
          timestamp: '2026-09-20T10:00:00Z',
          data: { calls: 50 },
        },
      ],
    });
  await Promise.all(
    customers.flatMap((b) =>
      [1, 2].map(() =>
        ok(`mutation($s: ID!) { rateBillingPeriod(subscriptionId: $s, period: "2026-09") { status } }`, {
          s: b.subscriptionId,
        }),
      ),
    ),
  );
  // Notes issued for every invoice twice at once, and every invoice posted twice at once.
  const ids = customers.map((b) => b.invoiceId);
  const [issues] = await Promise.all([
    Promise.all(
      [1, 2].map(() =>
        ok(`mutation($ids: [ID!]!) { issueNotes(invoiceIds: $ids) { invoiceId status notes { id number } } }`, {
          ids,
        }),
      ),
    ),
    Promise.all(
      ids.flatMap((id) => [1, 2].map(() => ok(`mutation($id: ID!) { postInvoice(invoiceId: $id) { id } }`, { id }))),
    ),
  ]);
  const notes = new Map<string, string>();
  for (const r of issues) for (const i of r.issueNotes) for (const n of i.notes) notes.set(n.id, n.number);
  expect(notes.size).toBe(3);
  expect([...notes.values()].map((n) => Number(n.split('-').pop())).sort()).toEqual([1, 2, 3]);

  // One posting per invoice and per note, and each in the ledger exactly once (hledger's code is the posting key).
  const postingKeys: string[] = [];
  for (const b of customers) {
    const { invoice } = await ok(
      `query($id: ID!) { invoice(id: $id) { erpPostings { postingKey } notes { id erpPostings { postingKey } } } }`,
      { id: b.invoiceId },
    );
    expect(invoice.notes).toHaveLength(1);
    expect(invoice.notes[0].erpPostings).toHaveLength(1);
    const invoicePostings = invoice.erpPostings.map((p: any) => p.postingKey);
    expect(
      invoicePostings.filter((k: string) => !invoice.notes[0].erpPostings.some((n: any) => n.postingKey === k)),
    ).toHaveLength(1);
    postingKeys.push(...new Set([...invoicePostings, invoice.notes[0].erpPostings[0].postingKey]));
  }
  expect(new Set(postingKeys).size).toBe(6);
  for (const key of postingKeys)
    expect(
      await eventually(
        `${key} in the ledger`,
        async () => {
          const found = await ledgerTransactions(key);
          return found.length > 0 ? found : undefined;
        },
        120_000,
      ),
    ).toHaveLength(1);
  // Still once after the workers of both processes have had time to retry anything they claimed.
  await new Promise((r) => setTimeout(r, 3_000));
  for (const key of postingKeys) expect(await ledgerTransactions(key)).toHaveLength(1);
}, 300_000);

it('runs one billing run when both processes are asked to start it at once', async () => {
  const starts = await Promise.all(
    [1, 2, 3, 4].map(() => ok(`mutation { startBillingRun(period: "2031-03") { id } }`)),
  );
  expect(new Set(starts.map((s) => s.startBillingRun.id)).size).toBe(1);
  const job = await eventually(
    'the billing run to finish',
    async () => {
      const { billingRunJob } = await ok(
        `query($id: ID!) { billingRunJob(id: $id) { status progress { done total failures } } }`,
        { id: starts[0].startBillingRun.id },
      );
      return billingRunJob.status === 'SUCCEEDED' || billingRunJob.status === 'FAILED' ? billingRunJob : undefined;
    },
    240_000,
  );
  expect(job.status).toBe('SUCCEEDED');
  expect(job.progress.done).toBe(job.progress.total);
}, 300_000);

it('spread the calls over both processes of every subgraph', async () => {
  for (const n of SUBGRAPH_NAMES) {
    const [first, second] = replicaUrls[n]!;
    expect({ subgraph: n, first: (await answered(first!)) > 0, second: (await answered(second!)) > 0 }).toEqual({
      subgraph: n,
      first: true,
      second: true,
    });
  }
});
