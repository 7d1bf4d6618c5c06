// What the end-to-end tests share: the gateway address, a GraphQL client, and unique names per test.
import { randomBytes } from 'node:crypto';
import { graphql, mustGraphql, type GraphQLResult } from '../runtime/graph-client';
import { servicePrincipal, type Principal, type Role } from '../lib/principal';
import { signedHeaders } from '../lib/internal-auth';

export const gatewayUrl = (): string => {
  const url = process.env.USAGEGRAPH_TEST_GATEWAY_URL;
  if (!url) throw new Error('the global setup did not start the system');
  return url;
};

/** A short unique suffix, so tests sharing one system never see each other's data. */
export const unique = (prefix: string): string => `${prefix}_${randomBytes(4).toString('hex')}`;

/** The env var a test reads for a role's key: USAGEGRAPH_TEST_KEY_CUSTOMER_SUCCESS, … (minted by the global setup). */
export const keyEnv = (role: Role): string => `USAGEGRAPH_TEST_KEY_${role.toUpperCase().replace(/-/g, '_')}`;

/** The test suite's API key for a role. */
export function keyFor(role: Role): string {
  const key = process.env[keyEnv(role)];
  if (!key) throw new Error(`the global setup minted no key for ${role}`);
  return key;
}

/** A client of the gateway acting with a role's key (platform by default: it may do everything). */
export function clientAs(role: Role, correlationId?: string, url = gatewayUrl()) {
  const credential = keyFor(role);
  return {
    raw: <T = any>(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResult<T>> =>
      graphql<T>(url, query, variables, { correlationId, credential }),
    ok: <T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> =>
      mustGraphql<T>(url, query, variables, { correlationId, credential }),
  };
}

export const client = (correlationId?: string) => clientAs('platform', correlationId);

/** A request straight to a subgraph, signed with the system's internal secret as another subgraph would sign it. */
export async function signedSubgraphRequest(
  url: string,
  query: string,
  options: {
    variables?: Record<string, unknown>;
    correlationId?: string;
    principal?: Principal;
    headers?: Record<string, string>;
  } = {},
): Promise<Response> {
  const correlationId = options.correlationId ?? `test-${randomBytes(4).toString('hex')}`;
  const body = JSON.stringify({ query, variables: options.variables ?? {} });
  return fetch(url, {
    method: 'POST',
    headers: {
      ...options.headers,
      'content-type': 'application/json',
      'x-correlation-id': correlationId,
      ...signedHeaders({
        method: 'POST',
        url,
        body,
        principal: options.principal ?? servicePrincipal('test'),
        correlationId,
      }),
    },
    body,
  });
}

/** A client that talks to one subgraph directly (as another subgraph would: signed), bypassing the gateway. */
export function subgraphClient(url: string, correlationId?: string) {
  const raw = async <T = any>(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResult<T>> => {
    const response = await signedSubgraphRequest(url, query, { variables, correlationId });
    const body = (await response.json()) as Omit<GraphQLResult<T>, 'status' | 'correlationId'>;
    return { ...body, status: response.status, correlationId: response.headers.get('x-correlation-id') };
  };
  return {
    raw,
    ok: async <T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
      const result = await raw<T>(query, variables);
      if (result.errors?.length || !result.data) {
        throw new Error(`GraphQL request failed (HTTP ${result.status}): ${JSON.stringify(result.errors)}`);
      }
      return result.data;
    },
  };
}

/** The first error of a result, failing loudly when there is none. */
export function firstError(result: GraphQLResult<unknown>) {
  const error = result.errors?.[0];
  if (!error) throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
  return error;
}

/**
 * Sets up a customer with one usage type, plan and subscription, ingests usage for a period, rates it and returns
 * the draft invoice. Amount: `calls` × 0.01 USD (nothing included).
 */
export async function draftInvoice(
  prefix: string,
  calls: number,
  options: { period?: string; legalEntityCode?: string } = {},
): Promise<{ invoiceId: string; subscriptionId: string }> {
  const period = options.period ?? '2026-08';
  const u = unique(prefix);
  const g = client(`setup-${u}`);
  await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
    i: {
      key: `${u}_calls`,
      unit: 'call',
      productLine: 'api',
      fields: [{ name: 'calls', type: 'INTEGER' }],
      aggregation: { type: 'SUM', field: 'calls' },
    },
  });
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: {
      key: `${u}-plan`.toLowerCase(),
      name: 'plan',
      currency: 'USD',
      charges: [{ usageTypeKey: `${u}_calls`, unitPrice: '0.01' }],
    },
  });
  await g.ok(`mutation($i: UpsertCustomerInput!) { upsertCustomer(input: $i) { id } }`, {
    i: {
      externalKey: `${u}-c`,
      name: `Customer ${u}`,
      currency: 'USD',
      legalEntityCode: options.legalEntityCode ?? 'DEFAULT',
    },
  });
  const { createSubscription } = await g.ok(
    `mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }`,
    {
      i: { customerExternalKey: `${u}-c`, pricePlanId: createPricePlan.id, startsAt: '2026-01-01T00:00:00Z' },
    },
  );
  await g.ok(`mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`, {
    e: [
      {
        id: 'e1',
        source: u,
        type: `${u}_calls`,
        customer: `${u}-c`,
        timestamp: `${period}-10T10:00:00Z`,
        data: { calls },
      },
    ],
  });
  await g.ok(
    `mutation($s: ID!, $p: String!) { rateBillingPeriod(subscriptionId: $s, period: $p) { total { amount } } }`,
    { s: createSubscription.id, p: period },
  );
  const { generateInvoice } = await g.ok(
    `mutation($s: ID!, $p: String!) { generateInvoice(subscriptionId: $s, period: $p) { id } }`,
    { s: createSubscription.id, p: period },
  );
  return { invoiceId: generateInvoice.id, subscriptionId: createSubscription.id };
}

/** A finalized invoice of `calls` × 0.01 USD; see draftInvoice. */
export async function finalizedInvoice(
  prefix: string,
  calls: number,
  options: { period?: string; legalEntityCode?: string } = {},
): Promise<{ invoiceId: string; number: string; total: string; subscriptionId: string }> {
  const draft = await draftInvoice(prefix, calls, options);
  const { finalizeInvoice } = await client().ok(
    `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { id number total { amount } } }`,
    { id: draft.invoiceId },
  );
  return {
    invoiceId: finalizeInvoice.id,
    number: finalizeInvoice.number,
    total: finalizeInvoice.total.amount,
    subscriptionId: draft.subscriptionId,
  };
}

/** A process's Prometheus metrics (/metrics beside its /graphql). */
export async function metricsText(graphqlUrl: string): Promise<string> {
  const res = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'));
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return res.text();
}

/**
 * The sum of the series `name` whose labels include `labels` (in any order), or undefined when the text has none:
 * with every label given, the one series' value.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const given = (m[2] ?? '').split(',');
    if (Object.entries(labels).every(([k, v]) => given.includes(`${k}="${v}"`))) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a billing run of `period` as a job and waits until it finished; returns the job with its run. */
export async function billingRun(
  g: { ok: <T = any>(query: string, variables?: Record<string, unknown>) => Promise<T> },
  period: string,
  runFields: string,
  timeoutMs = 60_000,
): Promise<{ id: string; status: string; progress: { done: number; total: number; failures: number }; run: any }> {
  const { startBillingRun: job } = await g.ok(`mutation($p: String!) { startBillingRun(period: $p) { id } }`, {
    p: period,
  });
  return eventually(
    `billing run ${job.id} to finish`,
    async () => {
      const { billingRunJob } = await g.ok(
        `query($id: ID!) { billingRunJob(id: $id) { id status error progress { done total failures } run { ${runFields} } } }`,
        { id: job.id },
      );
      if (billingRunJob.status === 'FAILED') throw new Error(`billing run failed: ${billingRunJob.error}`);
      return billingRunJob.status === 'SUCCEEDED' ? billingRunJob : undefined;
    },
    timeoutMs,
  );
}
