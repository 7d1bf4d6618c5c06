// The gateway: serves the governed supergraph file over HTTP, with health, readiness and correlation ids.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginUsageReportingDisabled } from '@apollo/server/plugin/disabled';
import { ApolloGateway } from '@apollo/gateway';
import { createLogger, type Logger } from '../lib/logger';
import { formatErrorForClients } from '../lib/format-error';
import { BODY_LIMIT, correlation, jsonBody, jsonErrors } from '../lib/http';
import { CORRELATION_HEADER } from '../lib/correlation';
import { SUBGRAPH_NAMES, isSubgraphName, subgraphUrl } from '../lib/topology';
import { SubgraphDataSource, type GatewayContext } from './subgraph-data-source';

export const SUPERGRAPH_PATH = join(__dirname, '..', 'schema', 'supergraph.graphql');
export const FINANCE_CONSOLE = join(__dirname, 'finance-console.html');

export interface RunningGateway {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** One log line per operation: name, duration, outcome, all under the request's correlation id. */
function requestLog(log: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ request, errors }) {
          log.info(
            {
              operationName: request.operationName ?? null,
              durationMs: Math.round(performance.now() - started),
              errors: errors?.length ?? 0,
            },
            'graphql request',
          );
        },
      };
    },
  };
}

/** Ready when every subgraph says it is ready (which includes its database). */
async function readiness(): Promise<{ ready: boolean; subgraphs: Record<string, string> }> {
  const checks = await Promise.all(
    SUBGRAPH_NAMES.map(async (name) => {
      const url = subgraphUrl(name).replace(/\/graphql$/, '/ready');
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        return [name, res.ok ? 'ready' : `unavailable (HTTP ${res.status})`] as const;
      } catch {
        return [name, 'unreachable'] as const;
      }
    }),
  );
  return { ready: checks.every(([, s]) => s === 'ready'), subgraphs: Object.fromEntries(checks) };
}

export async function startGateway(options: {
  port: number;
  host?: string;
  supergraphPath?: string;
}): Promise<RunningGateway> {
  const log = createLogger('gateway');
  const timeoutMs = Number(process.env.USAGEGRAPH_SUBGRAPH_TIMEOUT_MS ?? 30_000);
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(options.supergraphPath ?? SUPERGRAPH_PATH, 'utf8'),
    // The supergraph file names default addresses; the environment decides where each subgraph really is.
    buildService: ({ name, url }) =>
      new SubgraphDataSource(name, isSubgraphName(name) ? subgraphUrl(name) : url!, timeoutMs),
  });
  const app = express();
  const httpServer = http.createServer(app);
  const server = new ApolloServer<GatewayContext>({
    gateway,
    plugins: [
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: 5_000 }),
      requestLog(log),
    ],
    formatError: formatErrorForClients(log),
    stopOnTerminationSignals: false,
    introspection: true,
  });
  await server.start();

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: 'gateway' });
  });
  // Finance's work queue: held usage, out-of-policy contracts, stuck postings, periods, adjustments — one page on the graph.
  app.get('/finance', (_req, res) => res.sendFile(FINANCE_CONSOLE));
  app.get('/ready', async (_req, res) => {
    const r = await readiness();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'unavailable', subgraphs: r.subgraphs });
  });
  // Bulk ingestion for telemetry pipelines (CloudEvents, NDJSON), owned by the usage subgraph and served here too.
  app.post('/v1/events', correlation(), express.raw({ type: () => true, limit: BODY_LIMIT }), async (req, res) => {
    const headers: Record<string, string> = { [CORRELATION_HEADER]: res.locals.correlationId as string };
    for (const [name, value] of Object.entries(req.headers))
      if ((name === 'content-type' || name.startsWith('ce-')) && typeof value === 'string') headers[name] = value;
    try {
      const upstream = await fetch(subgraphUrl('usage').replace(/\/graphql$/, '/events'), {
        method: 'POST',
        headers,
        body: Buffer.isBuffer(req.body) ? req.body : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      res
        .status(upstream.status)
        .type(upstream.headers.get('content-type') ?? 'application/json')
        .send(Buffer.from(await upstream.arrayBuffer()));
    } catch (error) {
      log.warn({ err: error }, 'bulk ingestion: usage subgraph unreachable');
      res.status(503).json({
        error: 'the usage subgraph is unreachable; retry shortly',
        code: 'SUBGRAPH_UNAVAILABLE',
        correlationId: res.locals.correlationId,
      });
    }
  });
  app.use(
    '/graphql',
    correlation(),
    jsonBody(),
    expressMiddleware(server, { context: async ({ res }) => ({ correlationId: res.locals.correlationId as string }) }),
  );
  app.use(jsonErrors);

  await new Promise<void>((resolve) => httpServer.listen(options.port, options.host ?? '127.0.0.1', resolve));
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}/graphql`;
  log.info({ url }, 'gateway ready');
  return {
    url,
    port,
    async stop() {
      await server.stop();
      log.info('gateway stopped');
    },
  };
}
