// A small GraphQL-over-HTTP client for the demo loader, the tests and the benchmarks: what any consumer of the graph does.
import { CORRELATION_HEADER } from '../lib/correlation';

export interface GraphQLResult<T> {
  data?: T;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, any> }>;
  status: number;
  correlationId: string | null;
}

export interface GraphQLOptions {
  correlationId?: string;
  /** An API key or OIDC token, sent as `authorization: Bearer …`. */
  credential?: string;
  headers?: Record<string, string>;
}

export async function graphql<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  options: GraphQLOptions = {},
): Promise<GraphQLResult<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.correlationId ? { [CORRELATION_HEADER]: options.correlationId } : {}),
      ...(options.credential ? { authorization: `Bearer ${options.credential}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResult<T>, 'status' | 'correlationId'>;
  return { ...body, status: response.status, correlationId: response.headers.get(CORRELATION_HEADER) };
}

/** Like `graphql`, but any error is thrown with its code and message. */
export async function mustGraphql<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  options: GraphQLOptions = {},
): Promise<T> {
  const result = await graphql<T>(url, query, variables, options);
  if (result.errors?.length || !result.data) {
    const detail = (result.errors ?? []).map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; ');
    throw new Error(`GraphQL request failed (HTTP ${result.status}): ${detail || 'no data'}`);
  }
  return result.data;
}
