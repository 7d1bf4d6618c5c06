// The gateway as an operator and a client see it: health, readiness, correlation ids, limits and errors.
import { reloadConfig } from '../lib/config';
import { startGateway, type RunningGateway } from '../gateway/server';
import { freePort } from '../runtime/processes';
import { client, clientAs, gatewayUrl, keyFor, signedSubgraphRequest } from './support';

const base = () => gatewayUrl().replace(/\/graphql$/, '');

it('answers health and readiness, naming every subgraph', async () => {
  const health = await fetch(`${base()}/health`);
  expect(health.status).toBe(200);
  const ready = await fetch(`${base()}/ready`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({
    status: 'ready',
    service: 'gateway',
    // Which process answers: the launcher checks it is the one it started.
    instanceId: expect.stringMatching(/^gateway-/),
    subgraphs: {
      usage: 'ready',
      subscriptions: 'ready',
      pricing: 'ready',
      invoices: 'ready',
      'erp-postings': 'ready',
      access: 'ready',
      events: 'ready',
    },
  });
});

it('returns the caller’s correlation id, makes one when there is none, and replaces one that is unsafe to log', async () => {
  expect((await clientAs('platform', 'case-4711').raw('{ __typename }')).correlationId).toBe('case-4711');
  expect((await client().raw('{ __typename }')).correlationId).toMatch(/^cor-[0-9a-f-]{36}$/);
  expect((await clientAs('platform', 'two words; drop table').raw('{ __typename }')).correlationId).toMatch(/^cor-/);
});

it('passes the correlation id on to the subgraphs, which store it on what they create', async () => {
  const key = `gw-${Date.now().toString(36)}`;
  const r = await clientAs('platform', 'gw-corr-1').raw(
    `mutation { upsertLegalEntity(input: { code: "GW${Date.now().toString(36).toUpperCase()}", name: "gw", functionalCurrency: "EUR" }) { code } upsertCustomer(input: { externalKey: "${key}", name: "gw", currency: "EUR" }) { id } }`,
  );
  expect(r.errors).toBeUndefined();
  // The subscriptions subgraph's own response carries it (asked directly, signed as a subgraph would).
  const direct = await signedSubgraphRequest(process.env.SUBGRAPH_URL_SUBSCRIPTIONS!, '{ __typename }', {
    correlationId: 'gw-corr-2',
  });
  expect(direct.headers.get('x-correlation-id')).toBe('gw-corr-2');
});

it('refuses a body over the limit with a 413 that says the limit', async () => {
  const huge = 'x'.repeat(33 * 1024 * 1024);
  const res = await fetch(gatewayUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${keyFor('platform')}` },
    body: JSON.stringify({ query: '{ __typename }', variables: { huge } }),
  });
  expect(res.status).toBe(413);
  const body = (await res.json()) as any;
  expect(body.errors[0].extensions).toMatchObject({
    code: 'PAYLOAD_TOO_LARGE',
    expected: 'a body of at most 32mb; split the batch',
  });
});

it('reports a malformed query with GraphQL’s own code', async () => {
  const r = await client().raw('{ invoice(id: ) }');
  expect(r.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
});

describe('with a subgraph down', () => {
  let gateway: RunningGateway;
  const saved = process.env.SUBGRAPH_URL_USAGE;

  beforeAll(async () => {
    process.env.SUBGRAPH_URL_USAGE = `http://127.0.0.1:${await freePort()}/graphql`;
    process.env.LOG_LEVEL = 'silent';
    reloadConfig(); // this gateway runs in this process, with this environment
    gateway = await startGateway({ port: 0 });
  });
  afterAll(async () => {
    process.env.SUBGRAPH_URL_USAGE = saved;
    reloadConfig();
    await gateway.stop();
  });

  it('is not ready, and says which subgraph is unreachable', async () => {
    const res = await fetch(gateway.url.replace(/\/graphql$/, '/ready'));
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).subgraphs).toMatchObject({
      usage: 'unreachable',
      pricing: 'ready',
      access: 'ready',
      events: 'ready',
    });
  });

  it('answers queries to that subgraph with SUBGRAPH_UNAVAILABLE and the others normally', async () => {
    const down = await clientAs('platform', undefined, gateway.url).raw('{ usageTypes { nodes { key } } }');
    expect(down.errors?.[0]?.extensions).toMatchObject({
      code: 'SUBGRAPH_UNAVAILABLE',
      serviceName: 'usage',
      retryable: true,
    });
    const up = await clientAs('platform', undefined, gateway.url).raw('{ legalEntities { code } }');
    expect(up.errors).toBeUndefined();
    expect(up.data.legalEntities).toContainEqual({ code: 'DEFAULT' });
  });
});
