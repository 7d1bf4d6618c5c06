// How a subgraph asks another for data it does not own: GraphQL over HTTP to the owner, never its collections.
import { GraphQLError } from 'graphql';
import { CORRELATION_HEADER, currentCorrelationId, currentRequestScope, newCorrelationId } from './correlation';
import { signedHeaders } from './internal-auth';
import { servicePrincipal } from './principal';
import { UserFacingError } from './errors';
import { subgraphUrl, type SubgraphName } from './topology';
import { withClientSpan } from './tracing';
import { postToSubgraph, type SubgraphAnswer } from './subgraph-http';

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: Array<{ message: string; path?: ReadonlyArray<string | number>; extensions?: Record<string, unknown> }>;
}

/**
 * Runs an operation on the owning subgraph with the current correlation id.
 * Business errors from the owner keep their code; an unreachable owner is SUBGRAPH_UNAVAILABLE (retryable).
 */
export async function querySubgraph<T>(
  owner: SubgraphName,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  let url: string;
  try {
    url = subgraphUrl(owner);
  } catch (error) {
    throw new UserFacingError('SUBGRAPH_UNAVAILABLE', `the ${owner} subgraph is unreachable; retry shortly`, {
      serviceName: owner,
      retryable: true,
      cause: (error as Error).message,
    });
  }
  const scope = currentRequestScope();
  const correlationId = currentCorrelationId() ?? newCorrelationId();
  const requestBody = JSON.stringify({ query, variables });
  // A subgraph asks as itself, on behalf of whoever asked it (kept for the audit trail).
  const principal = servicePrincipal(scope?.service ?? 'subgraph', scope?.subject);
  let response: SubgraphAnswer;
  try {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      [CORRELATION_HEADER]: correlationId,
      ...signedHeaders({ method: 'POST', url, body: requestBody, principal, correlationId }),
    };
    response = await withClientSpan(`POST ${owner}`, { 'usagegraph.subgraph': owner }, headers, () =>
      postToSubgraph({ url, headers, body: requestBody, signal: scope?.signal }),
    );
  } catch (error) {
    throw new UserFacingError('SUBGRAPH_UNAVAILABLE', `the ${owner} subgraph is unreachable; retry shortly`, {
      serviceName: owner,
      retryable: true,
      cause: (error as Error).message,
    });
  }
  const body = (await response.json().catch(() => ({}))) as GraphQLResponse<T>;
  const first = body.errors?.[0];
  if (first) {
    const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL_SERVER_ERROR';
    throw new GraphQLError(first.message, { extensions: { ...first.extensions, code, serviceName: owner } });
  }
  if (!response.ok || !body.data) {
    throw new UserFacingError(
      'SUBGRAPH_UNAVAILABLE',
      `the ${owner} subgraph answered HTTP ${response.status}; retry shortly`,
      { serviceName: owner, retryable: true },
    );
  }
  return body.data;
}
