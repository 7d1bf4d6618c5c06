// What our gateway does for the subgraphs, as Hive Gateway plugins built on the same modules: the credential checked
// (Authenticator), the correlation id accepted or made, the role and cost policy (reviewOperation), and every upstream
// request signed over the exact bytes sent — so a subgraph cannot tell which of the two gateways called it.
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { reviewOperation } from '../../lib/authorization';
import {
  CORRELATION_HEADER,
  acceptCorrelationId,
  identifyRequest,
  newCorrelationId,
  withCorrelationId,
} from '../../lib/correlation';
import { signedHeaders } from '../../lib/internal-auth';
import { limitsFor } from '../../lib/operation-limits';
import { excludedCategories, isPlatform, type Principal } from '../../lib/principal';
import type { Authenticator } from '../authentication';
import type { HivePlugin } from './runtime';

/** What the plugins add to Hive Gateway's GraphQL context, read again when it fetches from a subgraph. */
export interface UsageGraphContext {
  principal: Principal;
  correlationId: string;
}

/** The gateway's own identity, for upstream requests made outside any client request. */
const GATEWAY: Principal = {
  subject: 'service:hive-gateway',
  name: 'hive-gateway',
  roles: [],
  scopes: [],
  via: 'service',
};

const who = (p: Principal) => `${p.name} (roles: ${p.roles.join(', ') || 'none'})`;

/**
 * Authentication and correlation on every GraphQL request: 401 without a valid credential (503 when the access
 * subgraph cannot check it), the caller's correlation id kept when it is safe, else a new one, returned on the response.
 */
export function useAuthenticationAndCorrelation(options: {
  authenticator: Authenticator;
  graphqlEndpoint: string;
}): HivePlugin {
  const callers = new WeakMap<Request, UsageGraphContext>();
  return {
    async onRequest({ request, url, fetchAPI, endResponse }) {
      if (url.pathname !== options.graphqlEndpoint) return;
      const correlationId = acceptCorrelationId(request.headers.get(CORRELATION_HEADER) ?? undefined);
      const headers = { [CORRELATION_HEADER]: correlationId };
      const json = (status: number, body: unknown, extra: Record<string, string> = {}) =>
        new fetchAPI.Response(JSON.stringify(body), {
          status,
          headers: { 'content-type': 'application/json', ...headers, ...extra },
        });
      let result;
      try {
        // The access subgraph is asked under this request's correlation id, as our gateway does.
        result = await withCorrelationId(correlationId, () => {
          identifyRequest('anonymous', 'hive-gateway');
          return options.authenticator.authenticate(Object.fromEntries(request.headers));
        });
      } catch {
        endResponse(
          json(503, {
            errors: [
              {
                message: 'credentials cannot be checked right now; retry shortly',
                extensions: { code: 'SUBGRAPH_UNAVAILABLE', retryable: true },
              },
            ],
          }),
        );
        return;
      }
      if (!result.ok) {
        endResponse(
          json(
            401,
            {
              errors: [
                {
                  message: result.message,
                  extensions: { code: 'UNAUTHENTICATED', expected: 'authorization: Bearer <API key or OIDC token>' },
                },
              ],
            },
            { 'www-authenticate': 'Bearer realm="usagegraph"' },
          ),
        );
        return;
      }
      callers.set(request, { principal: result.principal, correlationId });
    },
    onContextBuilding({ context, extendContext }) {
      const caller = callers.get(context.request);
      if (caller) extendContext(caller);
    },
    onResponse({ request, response }) {
      const caller = callers.get(request);
      if (caller) response.headers.set(CORRELATION_HEADER, caller.correlationId);
    },
  };
}

/**
 * The same review as our gateway's request policy, on the supergraph with its @tag declarations: each field's
 * categories against the caller's roles (403 FORBIDDEN), and the role's cost limits (400 QUERY_TOO_COMPLEX).
 */
export function useRolePolicy(options: { reviewSchema: GraphQLSchema }): HivePlugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const principal = (args.contextValue as Partial<UsageGraphContext>).principal;
      const refuse = (message: string, code: string, status: number, extensions: Record<string, unknown> = {}) =>
        setResultAndStopExecution({
          errors: [new GraphQLError(message, { extensions: { code, ...extensions, http: { status } } })],
        });
      if (!principal) return refuse('authentication required', 'UNAUTHENTICATED', 401);
      const review = reviewOperation({
        schema: options.reviewSchema,
        document: args.document,
        operationName: args.operationName,
        variables: args.variableValues as Record<string, unknown> | undefined,
        excluded: excludedCategories(principal),
        who: who(principal),
        allowIntrospection: isPlatform(principal),
        limits: limitsFor(principal),
      });
      if (review.refusal) {
        const { code, message, field, extensions } = review.refusal;
        refuse(message, code, code === 'FORBIDDEN' ? 403 : 400, { field, ...extensions });
      }
    },
  };
}

/**
 * Signs every request to a subgraph as subgraph-data-source.ts does: the caller's principal, the correlation id, and an
 * HMAC over method, path, time and the exact body bytes. Only the subgraphs' own addresses get a signature.
 *
 * It also ends each of those requests after `timeoutMs`. Hive Gateway's own `upstreamTimeout` is not used: when a
 * subgraph executor answers without a promise (a request whose client had already gone), it leaves the promise its
 * timer rejects unobserved, and that unhandled rejection stopped the process (every bench:gateway run, ~12 s after
 * the lineage load ended).
 */
export function useSubgraphSigning(options: { subgraphUrls: readonly string[]; timeoutMs: number }): HivePlugin {
  const origins = new Set(options.subgraphUrls.map((u) => new URL(u).origin));
  return {
    onFetch({ url, options: init, setOptions, context }) {
      if (!origins.has(new URL(url).origin)) return;
      const caller = (context ?? {}) as Partial<UsageGraphContext>;
      const principal = caller.principal ?? GATEWAY;
      const correlationId = caller.correlationId ?? newCorrelationId();
      const body = init.body ?? undefined;
      if (body !== undefined && typeof body !== 'string') {
        // File uploads (multipart) are off in the config: a body we cannot hash as sent is never sent unsigned.
        throw new GraphQLError('this gateway signs only JSON requests to subgraphs', {
          extensions: { code: 'SUBGRAPH_BAD_REQUEST' },
        });
      }
      const headers = Object.fromEntries(new Headers(init.headers));
      const timeout = AbortSignal.timeout(options.timeoutMs);
      setOptions({
        ...init,
        signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
        headers: {
          ...headers,
          [CORRELATION_HEADER]: correlationId,
          ...signedHeaders({ method: init.method ?? 'GET', url, body, principal, correlationId }),
        },
      });
    },
  };
}
