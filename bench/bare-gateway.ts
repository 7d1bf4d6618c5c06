// The baseline for `npm run bench:gateway`: a bare Apollo Gateway on Apollo Server's standalone HTTP server, serving
// the same supergraph file with Apollo's own subgraph HTTP client. It only adds what the subgraphs insist on — the
// request signature (as a fixed platform principal) — so the difference to our gateway is our gateway's own layers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServerPluginUsageReportingDisabled } from '@apollo/server/plugin/disabled';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import makeFetchHappen from 'make-fetch-happen';
import { signedHeaders } from '../lib/internal-auth';
import type { Principal } from '../lib/principal';
import { isSubgraphName, subgraphUrl } from '../lib/topology';

process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';

const PLATFORM: Principal = {
  subject: 'bench:bare-gateway',
  name: 'bench',
  roles: ['platform'],
  scopes: [],
  via: 'api-key',
};

/** Apollo's default fetcher (the one RemoteGraphQLDataSource builds), with the signature headers added. */
function signingFetcher(): Fetcher {
  const apollo = makeFetchHappen.defaults({ maxSockets: Infinity, retry: false }) as unknown as Fetcher;
  return ((url: string, init: { method?: string; headers: Record<string, string>; body: string }) => {
    const correlationId = `bare-${Date.now()}`;
    const headers = {
      ...init.headers,
      'x-correlation-id': correlationId,
      ...signedHeaders({ method: init.method ?? 'POST', url, body: init.body, principal: PLATFORM, correlationId }),
    };
    return apollo(url, { ...init, headers } as never);
  }) as unknown as Fetcher;
}

async function main(): Promise<void> {
  const supergraphSdl = readFileSync(join(__dirname, '..', 'schema', 'supergraph.graphql'), 'utf8');
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource({ url: isSubgraphName(name) ? subgraphUrl(name) : url, fetcher: signingFetcher() }),
  });
  const server = new ApolloServer({ gateway, plugins: [ApolloServerPluginUsageReportingDisabled()] });
  const { url } = await startStandaloneServer(server, {
    listen: { port: Number(process.env.PORT ?? 0), host: '127.0.0.1' },
  });
  process.stdout.write(`${JSON.stringify({ ready: url })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
