// How the gateway calls a subgraph: correlation id forwarded, a timeout (Apollo Gateway has none), stable error codes.
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Fetcher, FetcherResponse } from '@apollo/utils.fetcher';
import { GraphQLError } from 'graphql';
import { CORRELATION_HEADER } from '../lib/correlation';

export interface GatewayContext {
  correlationId: string;
}

export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    readonly serviceName: string,
    url: string,
    timeoutMs: number,
  ) {
    super({ url, fetcher: timedFetcher(timeoutMs) });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (context?.correlationId) request.http?.headers.set(CORRELATION_HEADER, context.correlationId);
  }

  override didEncounterError(error: Error): void {
    if (error instanceof GraphQLError) throw error;
    const timedOut = error.name === 'TimeoutError' || /aborted due to timeout/i.test(error.message);
    throw new GraphQLError(
      timedOut
        ? `the ${this.serviceName} subgraph did not answer in time`
        : `the ${this.serviceName} subgraph is unreachable`,
      {
        extensions: {
          code: timedOut ? 'SUBGRAPH_TIMEOUT' : 'SUBGRAPH_UNAVAILABLE',
          serviceName: this.serviceName,
          retryable: true,
        },
      },
    );
  }

  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    // A 400 with a GraphQL body is the subgraph refusing input (e.g. a Decimal sent as a float): pass its error on.
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

function timedFetcher(timeoutMs: number): Fetcher {
  return ((url: string, init?: RequestInit) =>
    fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })) as unknown as Fetcher;
}
