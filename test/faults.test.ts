// Faults survived, on the real processes of the test system (docs/reliability.md says what each shows): a subgraph
// killed outright in the middle of 100,000 events, killed during posting and finalization, hanging, and stopped
// gracefully under load. Each time: nothing lost, nothing stored, numbered or posted twice.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { spawnManaged, type ManagedProcess } from '../runtime/processes';
import { nodeEntryArgs } from '../runtime/system';
import { aggregateId } from '../subgraphs/usage/enrichment';
import { graphql } from '../runtime/graph-client';
import { client, draftInvoice, eventually, finalizedInvoice, gatewayUrl, keyFor, unique } from './support';
import { pidOf, readyInstance, sendUntilAcknowledged, usageBatches, usageCloudEvent } from './fault-support';

const g = client('faults-test');
const dataDir = () => process.env.USAGEGRAPH_TEST_DATA_DIR!;
const eventsUrl = () => gatewayUrl().replace(/\/graphql$/, '/v1/events');
let mongo: MongoClient;
let usageDb: Db;

beforeAll(async () => {
  mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  usageDb = mongo.db(`${process.env.USAGEGRAPH_DB_PREFIX}_usage`);
});
afterAll(async () => {
  await mongo?.close();
});

/** A usage type and a customer subscribed from January 2026, so September's events are stored (not held). */
async function subscribedCustomer(prefix: string): Promise<{ type: string; customer: string; subscriptionId: string }> {
  const u = unique(prefix);
  const type = `${u}_calls`;
  await g.ok(
    `mutation { registerUsageType(input: { key: "${type}", unit: "call", productLine: "faults", fields: [{ name: "calls", type: INTEGER }], aggregation: { type: SUM, field: "calls" } }, activate: true) { key } }`,
  );
  const { createPricePlan: plan } = await g.ok(
    `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`,
    { i: { key: `${u}-plan`, name: 'Faults', currency: 'USD', charges: [{ usageTypeKey: type, unitPrice: '0.01' }] } },
  );
  await g.ok(
    `mutation { upsertCustomer(input: { externalKey: "${u}-c", name: "Faults ${u}", currency: "USD" }) { id } }`,
  );
  const { createSubscription } = await g.ok(
    `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${u}-c", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
    { p: plan.id },
  );
  return { type, customer: `${u}-c`, subscriptionId: createSubscription.id };
}

/** Waits until the launcher has restarted the subgraph at `url`: a new instance answers /ready. */
async function restarted(url: string, before: string): Promise<string> {
  return eventually(
    'the launcher to restart the subgraph',
    async () => {
      const now = await readyInstance(url);
      return now && now !== before ? now : undefined;
    },
    60_000,
  );
}

const timed = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  try {
    return await work();
  } finally {
    process.stderr.write(`[faults] ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
};

it('stores exactly 100,000 events, none twice, when the usage subgraph is killed outright in the middle', async () => {
  const TOTAL = 100_000;
  const { type, customer, subscriptionId } = await subscribedCustomer('kill_ingest');
  const source = `faults/${type}`;
  const batches = usageBatches(TOTAL, 2_500, (i) => usageCloudEvent(source, type, customer, `k${i}`));
  const usageUrl = process.env.SUBGRAPH_URL_USAGE!;
  const before = (await readyInstance(usageUrl))!;
  let killed = false;
  const report = await timed('100,000 events through a SIGKILL of the usage subgraph', () =>
    sendUntilAcknowledged(eventsUrl(), keyFor('product'), batches, {
      concurrency: 2,
      onAcknowledged: (n) => {
        if (!killed && n >= batches.length / 3) {
          killed = true;
          process.kill(pidOf(dataDir(), 'subgraphs/usage/main'), 'SIGKILL');
        }
      },
    }),
  );
  expect(killed).toBe(true);
  // The kill was felt: some batches went unanswered and were sent again.
  expect([...report.failures.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  expect([...report.failures.keys()].filter((k) => /^5\d\d INTERNAL/.test(k))).toEqual([]);
  expect(await restarted(usageUrl, before)).toMatch(/^usage-/);
  expect(report.rejected).toBe(0);

  const aggregate = aggregateId(subscriptionId, type, '2026-09');
  expect(await usageDb.collection('usage_events').countDocuments({ aggregateId: aggregate })).toBe(TOTAL);
  // Each event is stored under an _id derived from its (source, id): 100,000 documents for 100,000 distinct ids sent
  // means each is there exactly once, whatever the retries sent again.
  expect(report.accepted).toBeLessThanOrEqual(TOTAL);
}, 600_000);

/** The ledger's transactions with this code (the posting key), read from hledger-web. */
async function ledgerTransactions(): Promise<Array<{ tcode: string }>> {
  return (await (await fetch(`${process.env.USAGEGRAPH_TEST_LEDGER_URL}/transactions`)).json()) as Array<{
    tcode: string;
  }>;
}

it('posts every invoice to the ledger exactly once when the posting subgraph is killed outright while posting', async () => {
  const invoices = await timed('12 finalized invoices', async () => {
    const out = [];
    for (let i = 0; i < 12; i += 4)
      out.push(...(await Promise.all([0, 1, 2, 3].map((j) => finalizedInvoice(`kill_post${i + j}`, 10 + i + j)))));
    return out;
  });
  const postingsUrl = process.env.SUBGRAPH_URL_ERP_POSTINGS!;
  const before = (await readyInstance(postingsUrl))!;
  const post = `mutation($id: ID!) { postInvoice(invoiceId: $id) { id postingKey status } }`;
  // Every invoice asked for at once; the subgraph dies while they are being sent to the ledger.
  const asked = invoices.map((inv) => g.raw(post, { id: inv.invoiceId }).catch((e: Error) => ({ errors: [e] })));
  await new Promise((r) => setTimeout(r, 150));
  process.kill(pidOf(dataDir(), 'subgraphs/erp-postings/main'), 'SIGKILL');
  await Promise.all(asked);
  await restarted(postingsUrl, before);

  // The client retries what was not answered; a posting left SENDING is taken over once its sender's lease ends.
  const keys = await timed('every posting POSTED after the kill', () =>
    Promise.all(
      invoices.map((inv) =>
        eventually(
          `invoice ${inv.number} to be posted`,
          async () => {
            const res = await g.raw(post, { id: inv.invoiceId });
            const posting = res.data?.postInvoice;
            return posting?.status === 'POSTED' ? (posting.postingKey as string) : undefined;
          },
          90_000,
        ),
      ),
    ),
  );
  const transactions = await ledgerTransactions();
  for (const key of keys) expect(transactions.filter((t) => t.tcode === key)).toHaveLength(1);
}, 300_000);

it('numbers invoices without gaps or repeats when the invoices subgraph is killed outright while finalizing', async () => {
  const drafts = await timed('10 draft invoices', async () => {
    const out = [];
    for (let i = 0; i < 10; i += 5)
      out.push(...(await Promise.all([0, 1, 2, 3, 4].map((j) => draftInvoice(`kill_fin${i + j}`, 5 + i + j)))));
    return out;
  });
  const invoicesUrl = process.env.SUBGRAPH_URL_INVOICES!;
  const before = (await readyInstance(invoicesUrl))!;
  const finalize = `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { id number status } }`;
  const asked = drafts.map((d) => g.raw(finalize, { id: d.invoiceId }).catch((e: Error) => ({ errors: [e] })));
  await new Promise((r) => setTimeout(r, 100));
  process.kill(pidOf(dataDir(), 'subgraphs/invoices/main'), 'SIGKILL');
  await Promise.all(asked);
  await restarted(invoicesUrl, before);

  const numbers = await Promise.all(
    drafts.map((d) =>
      eventually(
        'the invoice to be finalized',
        async () => {
          const res = await g.raw(finalize, { id: d.invoiceId });
          return res.data?.finalizeInvoice?.status === 'FINALIZED'
            ? (res.data.finalizeInvoice.number as string)
            : undefined;
        },
        60_000,
      ),
    ),
  );
  // One number each, none shared; asking again answers the same number.
  expect(new Set(numbers).size).toBe(drafts.length);
  const again = await Promise.all(drafts.map((d) => g.ok(finalize, { id: d.invoiceId })));
  expect(again.map((r) => r.finalizeInvoice.number)).toEqual(numbers);
}, 300_000);

describe('a subgraph that hangs', () => {
  const work = mkdtempSync(join(tmpdir(), 'usagegraph-hang-'));
  let gateway: ManagedProcess;
  let url: string;
  const TIMEOUT_MS = 3_000;

  beforeAll(async () => {
    // A second gateway over the same subgraphs with a short timeout, so the test need not wait the suite's 30 s.
    const instanceId = `gateway-${randomUUID()}`;
    gateway = spawnManaged('gateway', process.execPath, nodeEntryArgs('gateway/main'), {
      env: {
        ...process.env,
        PORT: '0',
        USAGEGRAPH_INSTANCE_ID: instanceId,
        USAGEGRAPH_RUN_DIR: work,
        USAGEGRAPH_SUBGRAPH_TIMEOUT_MS: String(TIMEOUT_MS),
      },
      logFile: join(work, 'gateway.log'),
    });
    const report = join(work, 'instances', `${instanceId}.json`);
    await eventually('the second gateway to listen', async () => existsSync(report), 60_000);
    url = `http://127.0.0.1:${(JSON.parse(readFileSync(report, 'utf8')) as { port: number }).port}/graphql`;
    await eventually(
      'the second gateway to be ready',
      async () => (await fetch(url.replace(/graphql$/, 'ready'))).ok,
      60_000,
    );
  }, 90_000);
  afterAll(async () => {
    await gateway?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('answers within its timeout with SUBGRAPH_TIMEOUT naming it, the other subgraphs’ data, and cancels its work', async () => {
    const { type } = await subscribedCustomer('hang');
    const hung = pidOf(dataDir(), 'subgraphs/subscriptions/main');
    const lateKey = unique('never-created');
    process.kill(hung, 'SIGSTOP');
    let answer;
    let mutation;
    const started = Date.now();
    try {
      [answer, mutation] = await Promise.all([
        graphql(
          url,
          `
            query ($t: String!) {
              usageType(key: $t) {
                key
              }
              customerByExternalKey(externalKey: "nobody") {
                id
              }
            }
          `,
          { t: type },
          { credential: keyFor('platform') },
        ),
        graphql(
          url,
          `mutation { upsertCustomer(input: { externalKey: "${lateKey}", name: "Late", currency: "USD" }) { id } }`,
          {},
          { credential: keyFor('platform') },
        ),
      ]);
    } finally {
      process.kill(hung, 'SIGCONT');
    }
    const tookMs = Date.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(tookMs).toBeLessThan(TIMEOUT_MS + 5_000);
    expect(answer.data).toEqual({ usageType: { key: type }, customerByExternalKey: null });
    expect(answer.errors).toHaveLength(1);
    expect(answer.errors![0]!.extensions).toMatchObject({ code: 'SUBGRAPH_TIMEOUT', serviceName: 'subscriptions' });
    expect(answer.errors![0]!.message).toBe('the subscriptions subgraph did not answer in time');
    expect(mutation.errors?.[0]?.extensions).toMatchObject({ code: 'SUBGRAPH_TIMEOUT', serviceName: 'subscriptions' });

    // Resumed, the subgraph finds its caller gone and runs nothing of the request it held.
    await new Promise((r) => setTimeout(r, 2_000));
    const { customerByExternalKey } = await g.ok(`query { customerByExternalKey(externalKey: "${lateKey}") { id } }`);
    expect(customerByExternalKey).toBeNull();
  }, 60_000);
});

it('drains on a graceful stop under load: every answered batch whole, the rest retried, exactly once', async () => {
  const TOTAL = 30_000;
  const { type, customer, subscriptionId } = await subscribedCustomer('graceful');
  const source = `faults/${type}`;
  const batches = usageBatches(TOTAL, 1_000, (i) => usageCloudEvent(source, type, customer, `g${i}`));
  const usageUrl = process.env.SUBGRAPH_URL_USAGE!;
  const before = (await readyInstance(usageUrl))!;
  let stopped = false;
  const report = await timed('30,000 events through a SIGTERM of the usage subgraph', () =>
    sendUntilAcknowledged(eventsUrl(), keyFor('product'), batches, {
      concurrency: 3,
      onAcknowledged: (n) => {
        if (!stopped && n >= batches.length / 3) {
          stopped = true;
          process.kill(pidOf(dataDir(), 'subgraphs/usage/main'), 'SIGTERM');
        }
      },
    }),
  );
  expect(stopped).toBe(true);
  await restarted(usageUrl, before);
  // A stop is never a half-done answer: requests were answered whole, or refused to be retried — never a 500.
  expect([...report.failures.keys()].filter((k) => /^500/.test(k))).toEqual([]);
  const aggregate = aggregateId(subscriptionId, type, '2026-09');
  expect(await usageDb.collection('usage_events').countDocuments({ aggregateId: aggregate })).toBe(TOTAL);
  expect(report.rejected).toBe(0);
  const log = readFileSync(join(dataDir(), 'logs', 'launcher.log'), 'utf8');
  expect(log).toMatch(/usage stopped unexpectedly \(exit code 0\); restarting it/);
}, 300_000);
