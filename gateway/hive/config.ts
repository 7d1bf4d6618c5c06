// Hive Gateway on our committed supergraph, unchanged: where each subgraph really is (the file names the default
// ports), and our plugins for what the subgraphs depend on — the caller authenticated, the correlation id, the role
// policy, every upstream request signed.
import { config } from '../../lib/config';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildASTSchema, parse } from 'graphql';
import { SUBGRAPH_NAMES, subgraphUrl, type SubgraphName } from '../../lib/topology';
import { Authenticator, oidcSettingsFromEnvironment, type OidcSettings } from '../authentication';
import { useAuthenticationAndCorrelation, useRolePolicy, useSubgraphSigning } from './plugins';
import type { HiveGatewayConfig } from './runtime';

/** The HTTP transport, given rather than looked up by name at run time (which fails where it is not installed). */
const httpTransport: unknown = require('@graphql-mesh/transport-http');

/** The one export of @graphql-hive/router-runtime we use (its own declarations bring the DOM library, as runtime.ts says). */
interface RouterRuntime {
  unifiedGraphHandler: unknown;
}

export const SUPERGRAPH_PATH = join(__dirname, '..', '..', 'schema', 'supergraph.graphql');
const GRAPHQL_ENDPOINT = '/graphql';

export interface HiveGatewayOptions {
  supergraphPath?: string;
  /** Where each subgraph listens; by default SUBGRAPH_URL_<NAME> or the default port, as for our gateway. */
  subgraphUrls?: Partial<Record<SubgraphName, string>>;
  /** The OIDC issuer whose tokens are accepted; by default from USAGEGRAPH_OIDC_* as for our gateway. */
  oidc?: OidcSettings;
  /** Per subgraph request; USAGEGRAPH_SUBGRAPH_TIMEOUT_MS or 30 s, as for our gateway. */
  timeoutMs?: number;
  /**
   * `rust`: Hive Router's query planner and executor (npm `@graphql-hive/router-runtime`, a native addon) in place of
   * Hive Gateway's JavaScript one; our plugins stay the same.
   */
  planner?: 'javascript' | 'rust';
}

export function hiveGatewayConfig(options: HiveGatewayOptions = {}): HiveGatewayConfig {
  const supergraphSdl = readFileSync(options.supergraphPath ?? SUPERGRAPH_PATH, 'utf8');
  const urls = SUBGRAPH_NAMES.map((name) => [name, options.subgraphUrls?.[name] ?? subgraphUrl(name)] as const);
  const authenticator = new Authenticator(options.oidc ?? oidcSettingsFromEnvironment());
  // The supergraph with its @tag declarations: the categories the role policy reads (as schema-artefacts.ts builds it).
  const reviewSchema = buildASTSchema(parse(supergraphSdl), { assumeValidSDL: true });
  return {
    supergraph: supergraphSdl,
    transports: { http: httpTransport },
    transportEntries: Object.fromEntries(
      urls.map(([name, location]) => [
        name,
        // Hive merges identical in-flight queries before signing: a caller could get the answer to another's request.
        { location, options: { deduplicateInflightRequests: false } },
      ]),
    ),
    ...(options.planner === 'rust'
      ? { unifiedGraphHandler: (require('@graphql-hive/router-runtime') as RouterRuntime).unifiedGraphHandler }
      : {}),
    plugins: () => [
      useAuthenticationAndCorrelation({ authenticator, graphqlEndpoint: GRAPHQL_ENDPOINT }),
      useRolePolicy({ reviewSchema }),
      useSubgraphSigning({
        subgraphUrls: urls.map(([, url]) => url),
        timeoutMs: options.timeoutMs ?? config().USAGEGRAPH_SUBGRAPH_TIMEOUT_MS,
      }),
    ],
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    // Subgraph timeouts: useSubgraphSigning (Hive's upstreamTimeout leaves a rejection unhandled).
    // A client that goes away cancels its subgraph requests, as with our gateway.
    upstreamCancellation: true,
    multipart: false,
    landingPage: false,
    graphiql: false,
    logging: config().LOG_LEVEL === 'debug' ? 'debug' : 'warn',
  };
}
