// Who may see and do what, as an attacker and each kind of user meet it: no credential, a wrong or revoked one, each
// role outside its scope, a subgraph called directly, requests too expensive to run, and a client that gives up.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getNamedType, isNonNullType, isScalarType, isEnumType, type GraphQLField } from 'graphql';
import { graphql } from '../runtime/graph-client';
import { signedHeaders } from '../lib/internal-auth';
import { servicePrincipal } from '../lib/principal';
import { signTestToken } from './oidc-issuer';
import {
  clientAs,
  eventually,
  gatewayUrl,
  keyFor,
  metricValue,
  metricsText,
  signedSubgraphRequest,
  unique,
} from './support';

const post = (body: unknown, headers: Record<string, string> = {}, url = gatewayUrl()) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('authentication', () => {
  it('refuses a request without credentials with 401, a clear message and no data', async () => {
    const res = await post({ query: '{ legalEntities { code } }' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const body = (await res.json()) as any;
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(body.errors[0].message).toMatch(/authorization: Bearer/);
    const events = await fetch(gatewayUrl().replace(/\/graphql$/, '/v1/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: '{}',
    });
    expect(events.status).toBe(401);
  });

  it('refuses an unknown key, a malformed one and a token from another issuer', async () => {
    for (const credential of [
      'ugk_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'ugk_nothex',
      `${keyFor('platform')}x`,
      await signTestToken({ sub: 'mallory', roles: ['platform'] }, { issuer: 'https://evil.example' }),
      await signTestToken({ sub: 'late', roles: ['platform'] }, { expiresIn: '-1m' }),
    ]) {
      const r = await graphql(gatewayUrl(), '{ legalEntities { code } }', {}, { credential });
      expect({ credential: credential.slice(0, 16), status: r.status, data: r.data }).toEqual({
        credential: credential.slice(0, 16),
        status: 401,
        data: undefined,
      });
    }
  });

  it('accepts an OIDC token from the configured issuer, with the roles it carries', async () => {
    const token = await signTestToken({ sub: 'ana', name: 'Ana Analyst', roles: ['finance'] });
    const r = await graphql(
      gatewayUrl(),
      '{ viewer { subject name roles authenticatedBy } }',
      {},
      { credential: token },
    );
    expect(r.data.viewer).toEqual({
      subject: 'oidc:ana',
      name: 'Ana Analyst',
      roles: ['FINANCE'],
      authenticatedBy: 'OIDC',
    });
    const refused = await graphql(
      gatewayUrl(),
      'mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i) { id } }',
      {},
      { credential: token },
    );
    expect(refused.status).toBe(403);
  });

  it('shows a new key once, stores it so that it works, and stops accepting it once revoked', async () => {
    const platform = clientAs('platform');
    const { createApiKey } = await platform.ok(
      `mutation { createApiKey(input: { owner: "${unique('ops')}", roles: [CUSTOMER_SUCCESS] }) { secret apiKey { id prefix status roles } } }`,
    );
    expect(createApiKey.secret).toMatch(/^ugk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    expect(createApiKey.secret.startsWith(createApiKey.apiKey.prefix)).toBe(true);
    const asNewKey = () => graphql(gatewayUrl(), '{ viewer { roles } }', {}, { credential: createApiKey.secret });
    expect((await asNewKey()).data.viewer.roles).toEqual(['CUSTOMER_SUCCESS']);
    // The key is listed without its secret; the secret is nowhere to be read again.
    const listed = await platform.ok(`query($id: ID!) { apiKey(id: $id) { prefix status } }`, {
      id: createApiKey.apiKey.id,
    });
    expect(JSON.stringify(listed)).not.toContain(createApiKey.secret.slice(13));
    const { revokeApiKey } = await platform.ok(
      `mutation($id: ID!) { revokeApiKey(id: $id, reason: "left the team") { status revokedBy } }`,
      { id: createApiKey.apiKey.id },
    );
    expect(revokeApiKey).toEqual({ status: 'REVOKED', revokedBy: `key:key_${keyFor('platform').slice(4, 12)}` });
    // Gateways trust a checked key for USAGEGRAPH_CREDENTIAL_CACHE_MS (1 s in the tests, 30 s by default).
    await eventually('the revoked key to be refused', async () => (await asNewKey()).status === 401, 5_000);
  });

  it('refuses an expired key', async () => {
    const { createApiKey } = await clientAs('platform').ok(
      `mutation($at: DateTime!) { createApiKey(input: { owner: "short-lived", roles: [PRODUCT], expiresAt: $at }) { secret } }`,
      { at: new Date(Date.now() + 1_500).toISOString() },
    );
    expect((await graphql(gatewayUrl(), '{ viewer { name } }', {}, { credential: createApiKey.secret })).status).toBe(
      200,
    );
    await eventually(
      'the key to expire',
      async () =>
        (await graphql(gatewayUrl(), '{ viewer { name } }', {}, { credential: createApiKey.secret })).status === 401,
      6_000,
    );
  });
});

describe('authorization by role', () => {
  const refusal = async (role: Parameters<typeof clientAs>[0], query: string, variables = {}) => {
    const r = await clientAs(role).raw(query, variables);
    return {
      status: r.status,
      code: r.errors?.[0]?.extensions?.code,
      field: r.errors?.[0]?.extensions?.field,
      data: r.data,
    };
  };

  it.each([
    ['customer-success', 'mutation($id: ID!) { postInvoice(invoiceId: $id) { id } }', 'Mutation.postInvoice'],
    [
      'customer-success',
      'mutation { closeAccountingPeriod(key: "2031-02") { key } }',
      'Mutation.closeAccountingPeriod',
    ],
    [
      'customer-success',
      'mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }',
      'Mutation.ingestUsageEvents',
    ],
    ['product', '{ invoices(first: 1) { nodes { id } } }', 'Query.invoices'],
    ['product', '{ usageAggregate(id: "x") { ratedCharges { nodes { id } } } }', 'UsageAggregate.ratedCharges'],
    [
      'finance',
      'mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i) { id } }',
      'Mutation.registerUsageType',
    ],
    ['finance', '{ apiKeys { nodes { id } } }', 'Query.apiKeys'],
    ['internal-tool', 'mutation { closeAccountingPeriod(key: "2031-02") { key } }', 'Mutation.closeAccountingPeriod'],
    ['internal-tool', '{ auditEvents { nodes { id } } }', 'Query.auditEvents'],
  ] as const)('refuses %s: %s, naming %s, with 403 and no data', async (role, query, field) => {
    expect(await refusal(role, query)).toEqual({ status: 403, code: 'FORBIDDEN', field, data: undefined });
  });

  it('lets each role do what it is for', async () => {
    expect(
      (await clientAs('customer-success').raw('{ invoices(first: 1) { nodes { id total { amount } } } }')).errors,
    ).toBeUndefined();
    expect((await clientAs('product').raw('{ usageTypes(first: 1) { nodes { key } } }')).errors).toBeUndefined();
    expect((await clientAs('finance').raw('{ auditEvents(first: 1) { nodes { id } } }')).errors).toBeUndefined();
    // The internal tool's key carries the ingest and billing scopes: it may send usage and read amounts.
    const tool = await clientAs('internal-tool').raw(
      '{ invoices(first: 1) { nodes { total { amount } } } viewer { roles scopes } }',
    );
    expect(tool.errors).toBeUndefined();
    expect(tool.data.viewer).toEqual({ roles: ['INTERNAL_TOOL'], scopes: ['INGEST', 'BILLING'] });
  });

  it('gives customer success no operation that changes anything, whatever it tries', async () => {
    const api = buildSchema(readFileSync(join(__dirname, '..', 'schema', 'api.graphql'), 'utf8'));
    const mutations = Object.values(api.getMutationType()!.getFields());
    expect(mutations.length).toBeGreaterThan(25);
    // One valid document per mutation: required arguments as variables (left unset: refused before they matter).
    const documentFor = (field: GraphQLField<unknown, unknown>) => {
      const required = field.args.filter((a) => isNonNullType(a.type));
      const declared = required.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
      const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
      const returns = getNamedType(field.type);
      const selection = isScalarType(returns) || isEnumType(returns) ? '' : ' { __typename }';
      return `mutation${declared ? `(${declared})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`;
    };
    const outcomes = await Promise.all(
      mutations.map(async (m) => {
        const r = await clientAs('customer-success').raw(documentFor(m));
        return { mutation: m.name, status: r.status, code: r.errors?.[0]?.extensions?.code };
      }),
    );
    expect(outcomes.filter((o) => o.status !== 403 || o.code !== 'FORBIDDEN')).toEqual([]);
  });

  it('allows introspection to platform only', async () => {
    const query = '{ __schema { queryType { name } } }';
    expect((await clientAs('platform').raw(query)).data.__schema.queryType.name).toBe('Query');
    const refused = await clientAs('finance').raw(query);
    expect({ status: refused.status, code: refused.errors?.[0]?.extensions?.code }).toEqual({
      status: 403,
      code: 'FORBIDDEN',
    });
  });
});

describe('subgraphs trust only the gateway', () => {
  const usage = () => process.env.SUBGRAPH_URL_USAGE!;

  it('refuses an unsigned request on every subgraph port with 401', async () => {
    for (const name of ['USAGE', 'SUBSCRIPTIONS', 'PRICING', 'INVOICES', 'ERP_POSTINGS', 'ACCESS']) {
      const res = await post({ query: '{ __typename }' }, {}, process.env[`SUBGRAPH_URL_${name}`]!);
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
    }
    // Health stays open for load balancers.
    expect((await fetch(usage().replace(/\/graphql$/, '/health'))).status).toBe(200);
  });

  it('refuses a signature over another body, another principal, or an old timestamp', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const good = signedHeaders({
      method: 'POST',
      url: usage(),
      body,
      principal: servicePrincipal('test'),
      correlationId: 'sig-1',
    });
    const send = (headers: Record<string, string>, sent = body) =>
      fetch(usage(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-correlation-id': 'sig-1', ...headers },
        body: sent,
      });
    expect((await send(good)).status).toBe(200);
    expect((await send(good, JSON.stringify({ query: '{ usageTypes { totalCount } }' }))).status).toBe(401);
    const other = signedHeaders({
      method: 'POST',
      url: usage(),
      body,
      principal: servicePrincipal('x'),
      correlationId: 'sig-1',
    });
    expect((await send({ ...good, 'x-ug-principal': other['x-ug-principal']! })).status).toBe(401);
    expect((await send({ ...good, 'x-ug-timestamp': String(Date.now() - 10 * 60_000) })).status).toBe(401);
  });

  it('applies the caller’s roles again at the subgraph', async () => {
    const asProduct = {
      subject: 'key:test',
      name: 'product via gateway',
      roles: ['product' as const],
      scopes: [],
      via: 'api-key' as const,
    };
    const res = await signedSubgraphRequest(
      process.env.SUBGRAPH_URL_ERP_POSTINGS!,
      'mutation { closeAccountingPeriod(key: "2031-03") { key } }',
      {
        principal: asProduct,
      },
    );
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).errors[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      field: 'Mutation.closeAccountingPeriod',
    });
  });
});

describe('bounded cost', () => {
  const refusedFast = async (query: string, variables: Record<string, unknown> = {}) => {
    const started = performance.now();
    const r = await clientAs('finance').raw(query, variables);
    return {
      status: r.status,
      code: r.errors?.[0]?.extensions?.code,
      limit: r.errors?.[0]?.extensions?.limit,
      fast: performance.now() - started < 1_000,
    };
  };

  it('refuses too deep a query', async () => {
    const deep = `{ usageEvents(first: 1) { nodes { ${'aggregate { events(first: 1) { nodes { '.repeat(5)} id ${'} } }'.repeat(5)} } } }`;
    expect(await refusedFast(deep)).toEqual({ status: 400, code: 'QUERY_TOO_COMPLEX', limit: 'maxDepth', fast: true });
  });

  it('refuses too many aliases', async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: legalEntities { code }`).join(' ');
    expect(await refusedFast(`{ ${aliases} }`)).toEqual({
      status: 400,
      code: 'QUERY_TOO_COMPLEX',
      limit: 'maxAliases',
      fast: true,
    });
  });

  it('refuses a page larger than allowed', async () => {
    expect(await refusedFast('{ invoices(first: 5000) { nodes { id } } }')).toEqual({
      status: 400,
      code: 'QUERY_TOO_COMPLEX',
      limit: 'maxPageSize',
      fast: true,
    });
  });

  it('refuses a list argument of 200,000 keys before any subgraph sees it', async () => {
    const ids = Array.from({ length: 200_000 }, (_, i) => `k${i}`);
    const r = await refusedFast('mutation($ids: [ID!]!) { replayQuarantinedEvents(ids: $ids) { quarantineId } }', {
      ids,
    });
    expect(r).toEqual({ status: 400, code: 'QUERY_TOO_COMPLEX', limit: 'maxListLength', fast: true });
  });

  it('refuses the nested query that kept the usage subgraph busy for minutes', async () => {
    const nested =
      '{ usageEvents(first: 380) { nodes { aggregate { events(first: 380) { nodes { aggregate { events(first: 380) { nodes { id } } } } } } } } }';
    expect(await refusedFast(nested)).toEqual({ status: 400, code: 'QUERY_TOO_COMPLEX', limit: 'maxCost', fast: true });
  });
});

describe('a client that gives up', () => {
  /**
   * How many requests named `operation` the usage subgraph has finished, by outcome, from its own /metrics (a request's
   * end is recorded once its execution is over: every resolver settled). The subgraph's own account of the work, so
   * the test does not depend on how busy the machine is: two earlier versions measured CPU and runnable time, and CI
   * load made both read the same at rest as on the query.
   */
  const finished = async (operation: string) => {
    const text = await metricsText(process.env.SUBGRAPH_URL_USAGE!);
    const count = (labels: Record<string, string>) =>
      metricValue(text, 'usagegraph_graphql_request_duration_seconds_count', { operation, ...labels }) ?? 0;
    return { all: count({}), ok: count({ outcome: 'ok' }), cancelled: count({ outcome: 'REQUEST_CANCELLED' }) };
  };

  it('stops the subgraph working on an expensive query within seconds of the client cancelling it', async () => {
    // Enough events in one aggregate that walking them to and fro takes minutes.
    const g = clientAs('platform');
    const u = unique('cancel');
    await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
      i: {
        key: u,
        unit: 'call',
        productLine: 'api',
        fields: [{ name: 'n', type: 'INTEGER' }],
        aggregation: { type: 'SUM', field: 'n' },
      },
    });
    const { createPricePlan } = await g.ok(
      `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`,
      {
        i: { key: `${u}-plan`, name: 'p', currency: 'USD', charges: [{ usageTypeKey: u, unitPrice: '0.01' }] },
      },
    );
    await g.ok(`mutation($i: UpsertCustomerInput!) { upsertCustomer(input: $i) { id } }`, {
      i: { externalKey: `${u}-c`, name: u, currency: 'USD' },
    });
    const { createSubscription } = await g.ok(
      `mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }`,
      { i: { customerExternalKey: `${u}-c`, pricePlanId: createPricePlan.id, startsAt: '2026-01-01T00:00:00Z' } },
    );
    const events = Array.from({ length: 400 }, (_, i) => ({
      id: `e${i}`,
      source: u,
      type: u,
      customer: `${u}-c`,
      timestamp: '2026-06-10T10:00:00Z',
      data: { n: 1 },
    }));
    await g.ok(`mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`, { e: events });
    await g.ok(
      `mutation($s: ID!, $u: String!) { aggregateUsage(subscriptionId: $s, period: "2026-06", usageTypeKeys: [$u]) { id } }`,
      {
        s: createSubscription.id,
        u,
      },
    );

    // Straight at the usage subgraph (no gateway limits): 400 × 400 × 400 events to resolve, then the client leaves.
    const operation = 'ClientGivesUp';
    const expensive = `query ${operation} { usageEvents(filter: { usageTypeKey: "${u}" }, first: 400) { nodes { aggregate { events(first: 400) { nodes { aggregate { events(first: 400) { nodes { id data } } } } } } } } }`;
    const body = JSON.stringify({ query: expensive, operationName: operation });
    const url = process.env.SUBGRAPH_URL_USAGE!;
    const before = await finished(operation);
    const abort = new AbortController();
    const request = fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-correlation-id': 'cancel-me',
        ...signedHeaders({
          method: 'POST',
          url,
          body,
          principal: servicePrincipal('test'),
          correlationId: 'cancel-me',
        }),
      },
      body,
      signal: abort.signal,
    }).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    // Two seconds in, the subgraph is still at it: no end of the request recorded (and, below, no answer).
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await finished(operation)).toEqual(before);
    abort.abort();
    const abortedAt = Date.now();
    expect(await request).toBe('AbortError');
    // Within seconds the subgraph has stopped: the request's execution is over (nothing left resolving), and over as
    // cancelled, not answered. Nothing new is read once the caller has gone; the replies the database had already sent
    // are still decoded by the driver (about 4 s of the usage subgraph's CPU here, more on a loaded machine).
    // With the cancellation switched off the test fails: over a minute later the request had not ended, and the busy
    // subgraph did not even answer its /metrics before the test ran out of time.
    await eventually(
      'the usage subgraph to stop working on the cancelled request',
      async () => (await finished(operation)).all > before.all,
      30_000,
    );
    const after = await finished(operation);
    process.stderr.write(
      `[cancel] the subgraph ended the request ${((Date.now() - abortedAt) / 1000).toFixed(1)} s or less after the abort: ${JSON.stringify(after)}\n`,
    );
    expect(after.ok).toBe(before.ok);
    expect(after.cancelled).toBe(before.cancelled + 1);
  }, 90_000);
});

describe('the audit trail', () => {
  it('records every change with the authenticated subject, the input less secrets, the outcome and the correlation id', async () => {
    const finance = clientAs('finance', unique('audit-corr'));
    const period = `2032-0${1 + Math.floor(Math.random() * 9)}`;
    await finance.ok(`mutation($k: String!) { closeAccountingPeriod(key: $k) { key } }`, { k: period });
    await finance.raw(`mutation { approvePricingException(id: "pex_missing") { id } }`);
    const subject = `key:key_${keyFor('finance').slice(4, 12)}`;
    const { auditEvents } = await finance.ok(
      `query($s: String!) { auditEvents(filter: { subject: $s }, first: 5) { nodes { subject subjectName roles fields variables outcome errorCodes correlationId } } }`,
      { s: subject },
    );
    const [failed, closed] = auditEvents.nodes; // newest first
    expect(closed).toMatchObject({
      subject,
      subjectName: 'test finance',
      roles: ['finance'],
      fields: ['closeAccountingPeriod'],
      variables: { k: period },
      outcome: 'SUCCEEDED',
      errorCodes: [],
    });
    expect(failed).toMatchObject({ fields: ['approvePricingException'], outcome: 'FAILED', errorCodes: ['NOT_FOUND'] });
    expect(closed.correlationId).toMatch(/^audit-corr_/);
    // Keys minted outside the gateway (the launcher minted the tests' keys) are in the trail too.
    const { auditEvents: minted } = await clientAs('platform').ok(
      `{ auditEvents(filter: { subject: "service:launcher", field: "createApiKey" }, first: 10) { nodes { outcome variables } } }`,
    );
    expect(minted.nodes.length).toBeGreaterThanOrEqual(5);
    expect(minted.nodes[0]).toMatchObject({ outcome: 'SUCCEEDED', variables: { input: { roles: expect.any(Array) } } });
    // Reads are not changes; and customer success may not read the trail at all.
    expect((await clientAs('customer-success').raw('{ auditEvents { nodes { id } } }')).status).toBe(403);
  });
});
