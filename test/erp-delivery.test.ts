// Delivery to the ERP when things go wrong: the ledger down, retries exhausted, a closed period, a lost response.
// This file runs its own erp-postings subgraph (own database, own ledger it can stop and start) beside the system.
import { reloadConfig } from '../lib/config';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSubgraph, type RunningSubgraph } from '../lib/subgraph-server';
import { erpPostingsSubgraph } from '../subgraphs/erp-postings';
import { invoicePostingKey } from '../subgraphs/erp-postings/post-document';
import { toHledgerJson } from '../subgraphs/erp-postings/connectors/hledger-format';
import { startHledgerWeb, type RunningLedger } from '../runtime/hledger';
import { freePort } from '../runtime/processes';
import { eventually, finalizedInvoice, metricValue, metricsText, subgraphClient } from './support';

const dir = mkdtempSync(join(tmpdir(), 'usagegraph-erp-'));
let ledgerPort: number;
let ledger: RunningLedger | undefined;
let postings: RunningSubgraph;
// A second instance on the same database: what running erp-postings in two processes looks like to the database.
let twin: RunningSubgraph;
const ledgerUrl = () => `http://127.0.0.1:${ledgerPort}`;

const startLedger = async () => {
  ledger = await startHledgerWeb('hledger-web', join(dir, 'ledger.journal'), join(dir, 'hledger-web.log'), ledgerPort);
};
const stopLedger = async () => {
  await ledger?.stop();
  ledger = undefined;
};
const transactionsWithCode = async (code: string) =>
  ((await (await fetch(`${ledgerUrl()}/transactions`)).json()) as Array<{ tcode: string }>).filter(
    (t) => t.tcode === code,
  );

const POSTING = `id postingKey status attempts lastError { code kind message remedy } history { outcome code } erpDocument { documentId } journalEntry { accountingPeriod }`;
const call = <T = any>(query: string, variables: Record<string, unknown> = {}) =>
  subgraphClient(postings.url, 'erp-delivery-test').ok<T>(query, variables);
const post = async (invoiceId: string) =>
  (await call(`mutation($id: ID!) { postInvoice(invoiceId: $id) { ${POSTING} } }`, { id: invoiceId })).postInvoice;
const read = async (id: string) =>
  (await call(`query($id: ID!) { erpPosting(id: $id) { ${POSTING} } }`, { id })).erpPosting;

beforeAll(async () => {
  ledgerPort = await freePort();
  const saved = { ...process.env };
  Object.assign(process.env, {
    USAGEGRAPH_DB_PREFIX: `${process.env.USAGEGRAPH_DB_PREFIX}_erpiso`,
    ERP_HLEDGER_URL: ledgerUrl(),
    // Dead letter after ~2 s of retries: long enough to start a ledger in between, short enough to wait for.
    ERP_MAX_ATTEMPTS: '4',
    ERP_RETRY_BASE_MS: '300',
    ERP_POLL_MS: '100',
    HLEDGER_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'silent',
  });
  reloadConfig(); // these services run in this process, with this environment
  postings = await startSubgraph(erpPostingsSubgraph, { port: 0 });
  twin = await startSubgraph(erpPostingsSubgraph, { port: 0 });
  process.env = saved;
  reloadConfig();
});

afterAll(async () => {
  await twin?.stop();
  await postings?.stop();
  await stopLedger();
  if (process.env.USAGEGRAPH_KEEP_TEST_DATA !== '1') rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

it('retries a technical failure with backoff and posts once the ledger is back', async () => {
  const invoice = await finalizedInvoice('erp_retry', 120);
  const first = await post(invoice.invoiceId);
  expect(first).toMatchObject({
    status: 'RETRY_SCHEDULED',
    attempts: 1,
    lastError: { code: 'ERP_UNAVAILABLE', kind: 'TECHNICAL' },
  });

  await startLedger();
  const posted = await eventually('the posting to be delivered', async () => {
    const p = await read(first.id);
    return p.status === 'POSTED' && p;
  });
  expect(posted.history.map((h: any) => h.outcome)).toEqual(expect.arrayContaining(['RETRY_SCHEDULED', 'POSTED']));
  expect(await transactionsWithCode(posted.postingKey)).toHaveLength(1);
  await stopLedger();
});

it('dead-letters after the last retry, and a replay posts it once the ledger is healthy', async () => {
  const invoice = await finalizedInvoice('erp_dead', 75);
  const first = await post(invoice.invoiceId);
  expect(first.status).toBe('RETRY_SCHEDULED');
  const dead = await eventually('the posting to be dead-lettered', async () => {
    const p = await read(first.id);
    return p.status === 'DEAD_LETTER' && p;
  });
  expect(dead.attempts).toBe(4);
  expect(dead.lastError).toMatchObject({
    code: 'ERP_UNAVAILABLE',
    remedy: 'replay it with replayErpPosting once the ERP is healthy',
  });

  // Nothing retries a dead letter by itself.
  await new Promise((r) => setTimeout(r, 500));
  expect((await read(first.id)).status).toBe('DEAD_LETTER');

  await startLedger();
  const { replayErpPosting } = await call(`mutation($id: ID!) { replayErpPosting(id: $id) { ${POSTING} } }`, {
    id: first.id,
  });
  expect(replayErpPosting.status).toBe('POSTED');
  expect(replayErpPosting.history.map((h: any) => h.outcome)).toEqual([
    'RETRY_SCHEDULED',
    'RETRY_SCHEDULED',
    'RETRY_SCHEDULED',
    'DEAD_LETTER',
    'REPLAY_REQUESTED',
    'POSTED',
  ]);
  expect(await transactionsWithCode(replayErpPosting.postingKey)).toHaveLength(1);
});

it('holds a posting dated in a closed period, and sends it by itself when the period reopens', async () => {
  if (!ledger) await startLedger();
  const invoice = await finalizedInvoice('erp_closed', 40);
  const period = new Date().toISOString().slice(0, 7); // invoices are issued today
  await call(`mutation($k: String!) { closeAccountingPeriod(key: $k) { status } }`, { k: period });
  const held = await post(invoice.invoiceId);
  expect(held).toMatchObject({
    status: 'HELD',
    lastError: {
      code: 'PERIOD_CLOSED',
      kind: 'BUSINESS',
      remedy: `finance either books it in the next open period with postInNextOpenPeriod(postingId: "${held.id}"), or reopens ${period} with reopenAccountingPeriod and the posting is sent by itself`,
    },
  });
  expect(await transactionsWithCode(held.postingKey)).toHaveLength(0);

  const { reopenAccountingPeriod } = await call(
    `mutation($k: String!) { reopenAccountingPeriod(key: $k) { key status } }`,
    { k: period },
  );
  expect(reopenAccountingPeriod).toEqual({ key: period, status: 'OPEN' });
  const posted = await eventually('the held posting to be released and posted', async () => {
    const p = await read(held.id);
    return p.status === 'POSTED' && p;
  });
  expect(posted.history.map((h: any) => h.outcome)).toEqual(['HELD', 'RELEASED', 'POSTED']);
  expect(await transactionsWithCode(held.postingKey)).toHaveLength(1);
});

it('does not post again when an earlier attempt reached the ledger but its answer was lost', async () => {
  if (!ledger) await startLedger();
  const invoice = await finalizedInvoice('erp_lost', 33);
  const postingKey = invoicePostingKey(invoice.invoiceId);
  // What a crash right after a successful PUT leaves behind: the transaction in the ledger, no record of it here.
  const entry = {
    documentDate: '2026-11-01',
    postingDate: '2026-11-01',
    accountingPeriod: '2026-11',
    description: 'earlier attempt',
    currency: 'USD',
    lines: [
      {
        lineNo: 1,
        account: 'assets:receivable',
        side: 'DEBIT' as const,
        amount: { amount: '0.33', currency: 'USD' },
        memo: '',
        dimensions: [],
        invoiceLineIds: [],
      },
      {
        lineNo: 2,
        account: 'revenue:usage:api',
        side: 'CREDIT' as const,
        amount: { amount: '0.33', currency: 'USD' },
        memo: '',
        dimensions: [],
        invoiceLineIds: [],
      },
    ],
  };
  const put = await fetch(`${ledgerUrl()}/add`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(toHledgerJson({ postingKey, correlationId: 'lost', entry })),
  });
  expect(put.status).toBe(201);

  const p = await post(invoice.invoiceId);
  expect(p.status).toBe('POSTED');
  expect(p.history.map((h: any) => h.outcome)).toEqual(['ALREADY_IN_ERP']);
  expect(await transactionsWithCode(postingKey)).toHaveLength(1);
});

it('posts once when two erp-postings instances are asked at the same moment', async () => {
  if (!ledger) await startLedger();
  const invoice = await finalizedInvoice('erp_twins', 21);
  const ask = (url: string) =>
    subgraphClient(url).ok(`mutation($id: ID!) { postInvoice(invoiceId: $id) { id postingKey } }`, {
      id: invoice.invoiceId,
    });
  const results = await Promise.all([postings.url, twin.url, postings.url, twin.url, postings.url, twin.url].map(ask));
  expect(new Set(results.map((r) => r.postInvoice.id)).size).toBe(1);
  const { postingKey, id } = results[0].postInvoice;
  await eventually('the posting to be delivered', async () => (await read(id)).status === 'POSTED');
  expect(await transactionsWithCode(postingKey)).toHaveLength(1);
});

it('leaves no entry unseen by the ledger server when two erp-postings processes write to it at once', async () => {
  if (!ledger) await startLedger();
  // hledger-web serves an entry once its reload check sees the file changed; with two writers, an entry appended
  // right after the other's made that check read the coarse file clock too early (measured without turns: 48 of 120
  // entries written in pairs missing from GET /transactions). Each pair is checked before anything else is written.
  const invoices: Array<{ invoiceId: string }> = [];
  for (let i = 0; i < 12; i++) invoices.push(await finalizedInvoice(`erp_pair${i}`, 10 + i));
  // Turns taken, as /metrics tells them (both servers of this file run in this process and share one registry).
  const turnsTaken = async () =>
    metricValue(await metricsText(postings.url), 'usagegraph_ledger_turn_wait_seconds_count', { outcome: 'taken' }) ??
    0;
  const turnsBefore = await turnsTaken();
  const unseen: string[] = [];
  for (let i = 0; i < invoices.length; i += 2) {
    const pair = await Promise.all(
      [postings.url, twin.url].map((url, j) =>
        subgraphClient(url).ok(`mutation($id: ID!) { postInvoice(invoiceId: $id) { id postingKey status } }`, {
          id: invoices[i + j]!.invoiceId,
        }),
      ),
    );
    for (const { postInvoice } of pair)
      await eventually('the posting to be delivered', async () => (await read(postInvoice.id)).status === 'POSTED');
    for (const { postInvoice } of pair)
      if ((await transactionsWithCode(postInvoice.postingKey)).length !== 1) unseen.push(postInvoice.postingKey);
  }
  expect(unseen).toEqual([]);
  expect((await turnsTaken()) - turnsBefore).toBeGreaterThanOrEqual(6); // at least one turn per pair
}, 120_000);

it('explains a replay of a posting that is not stuck', async () => {
  const result = await subgraphClient(postings.url).raw(
    `
      mutation {
        replayErpPosting(id: "post_missing") {
          id
        }
      }
    `,
  );
  expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
});
