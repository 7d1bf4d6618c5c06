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
    raw: <T = any>(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResult<T>> => graphql<T>(gatewayUrl(), query, variables, { correlationId }),
    ok: <T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> => mustGraphql<T>(gatewayUrl(), query, variables, { correlationId }),
  };
}

/** The first error of a result, failing loudly when there is none. */
export function firstError(result: GraphQLResult<unknown>) {
  const error = result.errors?.[0];
  if (!error) throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
  return error;
}
