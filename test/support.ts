// What the end-to-end tests share: the gateway address, a GraphQL client, and unique names per test.
import { randomBytes } from 'node:crypto';
import { graphql, mustGraphql, type GraphQLResult } from '../runtime/graph-client';

export const gatewayUrl = (): string => {
  const url = process.env.USAGEGRAPH_TEST_GATEWAY_URL;
  if (!url) throw new Error('the global setup did not start the system');
  return url;
};

/** A short unique suffix, so tests sharing one system never see each other's data. */
export const unique = (prefix: string): string => `${prefix}_${randomBytes(4).toString('hex')}`;

export function client(correlationId?: string) {
  return {
    raw: <T = any>(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResult<T>> =>
      graphql<T>(gatewayUrl(), query, variables, { correlationId }),
    ok: <T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> =>
      mustGraphql<T>(gatewayUrl(), query, variables, { correlationId }),
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
