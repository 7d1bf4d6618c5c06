// A second, independently written engine on the committed supergraph: Hive Gateway with our plugins (gateway/hive/)
// bills through the same subgraphs, answers the lineage query as our gateway does, refuses the same requests, and
// passes the caller's correlation id and principal, signed, to every subgraph it calls.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import { graphql, type GraphQLResult } from '../runtime/graph-client';
import { LINEAGE_QUERY } from '../scripts/demo-data';
import { SUBGRAPH_NAMES, subgraphUrl, subgraphUrlEnv, type SubgraphName } from '../lib/topology';
import { startHiveGateway, type RunningHiveGateway } from '../gateway/hive/serve';
import { TEST_AUDIENCE, signTestToken } from './oidc-issuer';
import { clientAs, gatewayUrl, keyFor, unique } from './support';

/** What one request from Hive Gateway to a subgraph carried. */
interface Seen {
  subgraph: SubgraphName;
  correlationId?: string;
  subject?: string;
  signed: boolean;
}

const seen: Seen[] = [];

/**
 * A pass-through in front of a subgraph: forwards every request byte for byte (the signature covers the path and the
 * body, not the address) and notes the headers the subgraph is about to read.
 */
async function startTap(subgraph: SubgraphName): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(subgraphUrl(subgraph));
  const server = http.createServer((req, res) => {
    const header = (name: string) =>
      typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined;
    const principal = header('x-ug-principal');
    seen.push({
      subgraph,
      correlationId: header('x-correlation-id'),
      subject: principal && JSON.parse(Buffer.from(principal, 'base64url').toString('utf8')).subject,
      signed: Boolean(header('x-ug-signature') && header('x-ug-timestamp')),
    });
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => res.destroy(error));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * `gateway/hive/serve.ts` as an operator runs it, in a process of its own (the Rust planner's addon is loaded with a
 * dynamic import, which Jest's module sandbox does not allow).
 */
async function startHiveProcess(planner: 'rust', subgraphUrls: Record<string, string>): Promise<RunningHiveGateway> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'gateway', 'hive', 'serve.ts')], {
    cwd: join(__dirname, '..'),
    env: { ...process.env, ...subgraphUrls, PORT: '0', LOG_LEVEL: 'info', USAGEGRAPH_HIVE_PLANNER: planner },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; url?: string }) : {};
      if (entry.msg === 'hive gateway ready' && entry.url) resolve(entry.url);
    });
    child.once('exit', (code) => reject(new Error(`hive gateway (${planner} planner) exited ${code} before ready`)));
  });
  const port = Number(new URL(url).port);
  return {
    url,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

let hive: RunningHiveGateway;
/** The same gateway and plugins with Hive Router's Rust query planner (@graphql-hive/router-runtime). */
let hiveRust: RunningHiveGateway;
/** The invoice billed through Hive in the test below, read again through the Rust planner. */
let billedNumber: string | undefined;
let taps: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  const tapped = await Promise.all(SUBGRAPH_NAMES.map(async (name) => [name, await startTap(name)] as const));
  taps = tapped.map(([, tap]) => tap);
  const issuer = process.env.USAGEGRAPH_TEST_OIDC_ISSUER!;
  const options = {
    port: 0,
    subgraphUrls: Object.fromEntries(tapped.map(([name, tap]) => [name, tap.url])),
    oidc: { issuer, jwksUrl: `${issuer}/.well-known/jwks.json`, audience: TEST_AUDIENCE, rolesClaim: 'roles' },
  };
  hive = await startHiveGateway(options);
  hiveRust = await startHiveProcess(
    'rust',
    Object.fromEntries(tapped.map(([name, tap]) => [subgraphUrlEnv(name), tap.url])),
  );
});

afterAll(async () => {
  await hive?.stop();
  await hiveRust?.stop();
  await Promise.all(taps.map((t) => t.close()));
});

/** A correlation id as a client would send it (letters, digits and `._:-`). */
const flowId = (what: string) => `hive-${what}-${randomBytes(4).toString('hex')}`;

const seenFor = (correlationId: string) => seen.filter((s) => s.correlationId === correlationId);

/** Every correlation id stored on the records an answer shows. */
function correlationIds(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => correlationIds(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'correlationId' && typeof v === 'string') found.add(v);
      else correlationIds(v, found);
    }
  }
  return found;
}

const outcome = (r: GraphQLResult<unknown>) => ({
  status: r.status,
  code: r.errors?.[0]?.extensions?.code,
  field: r.errors?.[0]?.extensions?.field,
  message: r.errors?.[0]?.message,
  data: r.data,
});

describe('Hive Gateway on the committed supergraph', () => {
  it('refuses a request without credentials, or with a wrong key, with 401 as our gateway does', async () => {
    const bare = await fetch(hive.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-correlation-id': 'hive-anonymous-1' },
      body: JSON.stringify({ query: '{ legalEntities { code } }' }),
    });
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(bare.headers.get('x-correlation-id')).toBe('hive-anonymous-1');
    const body = (await bare.json()) as any;
    expect(body.data).toBeUndefined();
    const ours = await graphql(gatewayUrl(), '{ legalEntities { code } }');
    expect(body.errors[0]).toMatchObject({
      message: ours.errors![0]!.message,
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const wrong = { credential: `${keyFor('platform')}x` };
    expect(outcome(await graphql(hive.url, '{ legalEntities { code } }', {}, wrong))).toEqual(
      outcome(await graphql(gatewayUrl(), '{ legalEntities { code } }', {}, wrong)),
    );
    expect(seenFor('hive-anonymous-1')).toEqual([]);
  });

  it('bills a period through Hive Gateway; the lineage query then answers the same through both gateways', async () => {
    const flow = flowId('flow');
    const viaHive = clientAs('platform', flow, hive.url);
    const u = unique('hive');
    await viaHive.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
      i: {
        key: `${u}_calls`,
        unit: 'call',
        productLine: 'api',
        fields: [{ name: 'calls', type: 'INTEGER' }],
        aggregation: { type: 'SUM', field: 'calls' },
      },
    });
    const { createPricePlan } = await viaHive.ok(
      `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`,
      {
        i: {
          key: `${u}-plan`.toLowerCase(),
          name: 'plan',
          currency: 'USD',
          charges: [{ usageTypeKey: `${u}_calls`, unitPrice: '0.01' }],
        },
      },
    );
    await viaHive.ok(`mutation($i: UpsertCustomerInput!) { upsertCustomer(input: $i) { id } }`, {
      i: { externalKey: `${u}-c`, name: `Customer ${u}`, currency: 'USD' },
    });
    const { createSubscription } = await viaHive.ok(
      `mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }`,
      { i: { customerExternalKey: `${u}-c`, pricePlanId: createPricePlan.id, startsAt: '2026-01-01T00:00:00Z' } },
    );
    const ingested = await viaHive.ok(
      `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`,
      {
        e: [1200, 34].map((calls, i) => ({
          id: `e${i}`,
          source: u,
          type: `${u}_calls`,
          customer: `${u}-c`,
          timestamp: `2026-08-1${i}T10:00:00Z`,
          data: { calls },
        })),
      },
    );
    expect(ingested.ingestUsageEvents.accepted).toBe(2);
    await viaHive.ok(`mutation($s: ID!) { rateBillingPeriod(subscriptionId: $s, period: "2026-08") { status } }`, {
      s: createSubscription.id,
    });
    const { generateInvoice } = await viaHive.ok(
      `mutation($s: ID!) { generateInvoice(subscriptionId: $s, period: "2026-08") { id } }`,
      { s: createSubscription.id },
    );
    const { finalizeInvoice } = await viaHive.ok(
      `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number total { amount currency } } }`,
      { id: generateInvoice.id },
    );
    expect(finalizeInvoice.total).toEqual({ amount: '12.34', currency: 'USD' });
    billedNumber = finalizeInvoice.number;
    const { postInvoice } = await viaHive.ok(`mutation($id: ID!) { postInvoice(invoiceId: $id) { status } }`, {
      id: generateInvoice.id,
    });
    expect(postInvoice.status).toBe('POSTED');

    // Every business subgraph was called by Hive Gateway under the flow's id, signed, as the platform key's subject.
    const { viewer } = await clientAs('platform').ok('{ viewer { subject } }');
    expect(new Set(seenFor(flow).map((s) => s.subgraph))).toEqual(
      new Set(['usage', 'subscriptions', 'pricing', 'invoices', 'erp-postings']),
    );
    expect(seenFor(flow).filter((s) => !s.signed || s.subject !== viewer.subject)).toEqual([]);

    // The same read, the same credential, through each gateway.
    const read = flowId('lineage');
    const number = { number: finalizeInvoice.number };
    const throughHive = await graphql(hive.url, LINEAGE_QUERY, number, {
      credential: keyFor('platform'),
      correlationId: read,
    });
    const throughOurs = await graphql(gatewayUrl(), LINEAGE_QUERY, number, { credential: keyFor('platform') });
    expect(throughHive.errors).toBeUndefined();
    expect(throughHive.correlationId).toBe(read);
    expect(throughHive.data).toEqual(throughOurs.data);
    const invoice = throughHive.data.invoiceByNumber;
    expect(invoice).toMatchObject({ number: finalizeInvoice.number, total: { amount: '12.34' } });
    expect(invoice.lines[0].ratedCharge.aggregate).toMatchObject({ quantity: '1234', eventCount: 2 });
    expect(invoice.erpPostings[0].entry.totalDebits).toEqual(invoice.erpPostings[0].entry.totalCredits);
    // Each record on the way, written by a different subgraph, keeps the id Hive Gateway passed on when it was made.
    expect(correlationIds(throughHive.data)).toEqual(new Set([flow]));
    // And the read itself reached each subgraph it needed with the caller's id and principal, signed.
    expect(new Set(seenFor(read).map((s) => s.subgraph))).toEqual(
      new Set(['invoices', 'pricing', 'usage', 'erp-postings']),
    );
    expect(seenFor(read).filter((s) => !s.signed || s.subject !== viewer.subject)).toEqual([]);
  });

  it("answers the lineage query the same with Hive Router's Rust planner, every subgraph request signed", async () => {
    expect(billedNumber).toBeDefined(); // billed through Hive by the test above
    const read = flowId('rust');
    const number = { number: billedNumber };
    const throughRust = await graphql(hiveRust.url, LINEAGE_QUERY, number, {
      credential: keyFor('platform'),
      correlationId: read,
    });
    const throughOurs = await graphql(gatewayUrl(), LINEAGE_QUERY, number, { credential: keyFor('platform') });
    expect(throughRust.errors).toBeUndefined();
    expect(throughRust.correlationId).toBe(read);
    expect(throughRust.data).toEqual(throughOurs.data);
    expect(throughRust.data.invoiceByNumber.lines[0].ratedCharge.aggregate).toMatchObject({ eventCount: 2 });
    const { viewer } = await clientAs('platform').ok('{ viewer { subject } }');
    // The new process checks the key at the access subgraph once (nothing cached yet), then the plan's subgraphs.
    expect(new Set(seenFor(read).map((s) => s.subgraph))).toEqual(
      new Set(['access', 'invoices', 'pricing', 'usage', 'erp-postings']),
    );
    const [keyChecks, planned] = [
      seenFor(read).filter((s) => s.subgraph === 'access'),
      seenFor(read).filter((s) => s.subgraph !== 'access'),
    ];
    expect(planned.filter((s) => !s.signed || s.subject !== viewer.subject)).toEqual([]);
    // The key itself is checked by the gateway as a service, as our gateway does.
    expect(keyChecks.every((s) => s.signed && s.subject === 'service:hive-gateway')).toBe(true);
    // The role policy is ours, whichever planner runs: a product key may not read invoices.
    const refused = await graphql(hiveRust.url, LINEAGE_QUERY, number, { credential: keyFor('product') });
    expect(outcome(refused)).toEqual(
      outcome(await graphql(gatewayUrl(), LINEAGE_QUERY, number, { credential: keyFor('product') })),
    );
  });

  it('makes a correlation id when the caller sends none or an unsafe one, and uses it at every subgraph', async () => {
    for (const sent of [undefined, 'no spaces allowed']) {
      const r = await graphql(
        hive.url,
        '{ viewer { name } usageTypes(first: 1) { nodes { key } } }',
        {},
        {
          credential: keyFor('product'),
          headers: sent ? { 'x-correlation-id': sent } : {},
        },
      );
      expect(r.errors).toBeUndefined();
      expect(r.correlationId).toMatch(/^cor-[0-9a-f-]{36}$/);
      expect(new Set(seenFor(r.correlationId!).map((s) => s.subgraph))).toEqual(new Set(['access', 'usage']));
    }
  });

  it('accepts an OIDC token and passes its principal to the subgraphs', async () => {
    const token = await signTestToken({ sub: 'hive-ana', name: 'Ana via Hive', roles: ['finance'] });
    const query = '{ viewer { subject name roles authenticatedBy } }';
    const r = await graphql(hive.url, query, {}, { credential: token, correlationId: 'hive-oidc-1' });
    expect(r.data).toEqual((await graphql(gatewayUrl(), query, {}, { credential: token })).data);
    expect(r.data.viewer).toMatchObject({ subject: 'oidc:hive-ana', roles: ['FINANCE'], authenticatedBy: 'OIDC' });
    expect(seenFor('hive-oidc-1')).toEqual([
      { subgraph: 'access', correlationId: 'hive-oidc-1', subject: 'oidc:hive-ana', signed: true },
    ]);
  });

  it.each([
    ['mutation { finalizeInvoice(invoiceId: "inv_missing") { id } }', {}],
    [
      'mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i) { id } }',
      { i: { key: 'Bad Key!', unit: 'call', productLine: 'api', fields: [], aggregation: { type: 'COUNT' } } },
    ],
  ])('passes a subgraph’s refusal of bad input on as our gateway does: %s', async (query, variables) => {
    const r = await clientAs('platform', undefined, hive.url).raw(query, variables);
    expect(r.errors?.[0]?.extensions?.code).toMatch(/^(NOT_FOUND|VALIDATION_FAILED)$/);
    expect({ status: r.status, data: r.data, errors: r.errors }).toEqual(
      await clientAs('platform')
        .raw(query, variables)
        .then((ours) => ({ status: ours.status, data: ours.data, errors: ours.errors })),
    );
  });

  it.each([
    ['product', '{ invoices(first: 1) { nodes { id } } }'],
    ['customer-success', 'mutation { postInvoice(invoiceId: "inv_x") { id } }'],
    ['finance', '{ apiKeys { nodes { id } } }'],
    ['finance', '{ __schema { queryType { name } } }'],
    ['customer-success', '{ invoices(first: 501) { nodes { id } } }'],
  ] as const)('refuses %s %s as our gateway does, before any subgraph is asked', async (role, query) => {
    const id = flowId('refused');
    const r = await clientAs(role, id, hive.url).raw(query);
    expect(outcome(r)).toEqual(outcome(await clientAs(role).raw(query)));
    expect([403, 400]).toContain(r.status);
    expect(seenFor(id)).toEqual([]);
  });
});
