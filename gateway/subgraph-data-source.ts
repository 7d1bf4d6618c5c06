// How the gateway calls a subgraph: signed with the caller's principal, correlation id forwarded, a timeout (Apollo
// Gateway has none), the client's cancellation passed on, and stable error codes.
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Fetcher, FetcherResponse } from '@apollo/utils.fetcher';
import { GraphQLError } from 'graphql';
import { CORRELATION_HEADER, currentRequestScope } from '../lib/correlation';
import { PRINCIPAL_HEADER, encodePrincipal, signedHeaders } from '../lib/internal-auth';
import type { Principal } from '../lib/principal';
import type { Logger } from '../lib/logger';
import { withClientSpan } from '../lib/tracing';
import { isQueryBody, postToSubgraph } from '../lib/subgraph-http';
import { config } from '../lib/config';

export interface GatewayContext {
  correlationId: string;
  principal: Principal;
  /** The contract path the request came through: `full`, or e.g. `finance/v1`. */
  contract: string;
  /** The client's name (`apollographql-client-name`), for the operation record. */
  clientName?: string;
}

export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    readonly serviceName: string,
    /** Where the subgraph is now: asked on every request, so a subgraph that moved (restarted elsewhere) is followed. */
    currentUrl: () => string,
    timeoutMs: number,
    private readonly log?: Logger,
  ) {
    super({ url: 'http://subgraph.invalid/graphql', fetcher: signingFetcher(serviceName, timeoutMs, currentUrl) });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (!context?.principal) return; // health checks carry no caller; the fetcher signs them as the gateway
    request.http?.headers.set(CORRELATION_HEADER, context.correlationId);
    request.http?.headers.set(PRINCIPAL_HEADER, encodePrincipal(context.principal));
  }

  override didEncounterError(error: Error): void {
    if (error instanceof GraphQLError) throw error;
    const timedOut = error.name === 'TimeoutError' || /aborted due to timeout/i.test(error.message);
    const cancelled = !timedOut && error.name === 'AbortError';
    this.log?.warn(
      {
        serviceName: this.serviceName,
        err: { name: error.name, message: error.message, cause: String(error.cause ?? '') },
      },
      'a subgraph request failed',
    );
    throw new GraphQLError(
      timedOut
        ? `the ${this.serviceName} subgraph did not answer in time`
        : cancelled
          ? `the request to the ${this.serviceName} subgraph was cancelled`
          : `the ${this.serviceName} subgraph is unreachable`,
      {
        extensions: {
          code: timedOut ? 'SUBGRAPH_TIMEOUT' : cancelled ? 'REQUEST_CANCELLED' : 'SUBGRAPH_UNAVAILABLE',
          serviceName: this.serviceName,
          retryable: true,
        },
      },
    );
  }

  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    // A 400/401/403 with a GraphQL body is the subgraph refusing the request: pass its error on.
    const body = (await this.parseBody(response).catch(() => null)) as {
      errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
    } | null;
    const reported = typeof body === 'object' ? body?.errors?.[0] : undefined;
    if (reported) {
      return new GraphQLError(reported.message, {
        extensions: { code: 'BAD_USER_INPUT', ...reported.extensions, serviceName: this.serviceName },
      });
    }
    return new GraphQLError(`the ${this.serviceName} subgraph answered HTTP ${response.status}`, {
      extensions: {
        code: response.status >= 500 ? 'SUBGRAPH_UNAVAILABLE' : 'SUBGRAPH_BAD_RESPONSE',
        serviceName: this.serviceName,
        status: response.status,
        retryable: response.status >= 500,
      },
    });
  }
}

const GATEWAY: Principal = { subject: 'service:gateway', name: 'gateway', roles: [], scopes: [], via: 'service' };

/**
 * Identical queries in flight at the same time are sent once (USAGEGRAPH_DEDUPE_QUERIES, on unless `false`): same
 * subgraph, same caller, same body. Each caller parses its own copy of the answer. Mutations are never merged.
 */
const dedupeQueries = (): boolean => config().USAGEGRAPH_DEDUPE_QUERIES;

/** Signs each request over exactly the bytes sent; a request with no caller (a health check) is the gateway's own. */
function signingFetcher(serviceName: string, timeoutMs: number, currentUrl: () => string): Fetcher {
  return (async (_placeholder: string, init: { method?: string; headers: Record<string, string>; body: string }) => {
    const url = currentUrl();
    const headers = { ...init.headers };
    // The client's request scope carries its abort signal: when the client goes away, so does this fetch.
    const cancel = currentRequestScope()?.signal;
    const correlationId = headers[CORRELATION_HEADER] ?? `gateway-${Date.now()}`;
    headers[CORRELATION_HEADER] = correlationId;
    const principalHeader = headers[PRINCIPAL_HEADER];
    const principal: Principal = principalHeader
      ? (JSON.parse(Buffer.from(principalHeader, 'base64url').toString('utf8')) as Principal)
      : GATEWAY;
    Object.assign(
      headers,
      signedHeaders({ method: init.method ?? 'POST', url, body: init.body, principal, correlationId }),
    );
    const dedupeKey =
      dedupeQueries() && isQueryBody(init.body) ? `${url}\n${principalHeader ?? ''}\n${init.body}` : undefined;
    // The traceparent makes the subgraph's span a child of this one; it is not signed (any gateway may set it).
    return withClientSpan(`POST ${serviceName}`, { 'usagegraph.subgraph': serviceName }, headers, () =>
      postToSubgraph({ url, headers, body: init.body, signal: cancel, dedupeKey, timeoutMs }),
    );
  }) as unknown as Fetcher;
}
