// The gateway: serves the governed supergraph file over HTTP, with health, readiness and correlation ids.
import { config } from '../lib/config';
import http from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloGateway } from '@apollo/gateway';
import { createLogger, type Logger } from '../lib/logger';
import { formatErrorForClients } from '../lib/format-error';
import { accessLog, correlation, jsonBody, jsonErrors, rawBody, refuse } from '../lib/http';
import { graphqlRequestDuration, initMetrics, metricsEndpoint, operationLabel } from '../lib/metrics';
import { annotateCurrentSpan, initTracing, traceRequests, withClientSpan } from '../lib/tracing';
import { CORRELATION_HEADER, identifyRequest, setRequestSignal } from '../lib/correlation';
import { PRINCIPAL_HEADER, encodePrincipal, signedHeaders } from '../lib/internal-auth';
import { excludedCategories, type Principal } from '../lib/principal';
import { Authenticator, oidcSettingsFromEnvironment, type Authentication } from './authentication';
import { OperationRecord } from './operation-record';
import { requestPolicy } from './request-policy';
import { loadArtefacts, watchArtefacts } from './schema-artefacts';
import { SUBGRAPH_NAMES, isSubgraphName, subgraphUrl } from '../lib/topology';
import { SubgraphDataSource, type GatewayContext } from './subgraph-data-source';
import { INSTANCE_ID, announceListening, listenOn } from '../lib/listen';
import { consoleRoutes } from './console-routes';

// Apollo Gateway 2.14 sends usage metrics to Apollo (OTLP, after probing cloud metadata addresses) unless told not to:
// nothing leaves this system unless its operator asks for it.
process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';

export const SCHEMA_DIR = join(__dirname, '..', 'schema');
export const SUPERGRAPH_PATH = join(SCHEMA_DIR, 'supergraph.graphql');

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
        async didResolveOperation({ operationName }) {
          annotateCurrentSpan({ 'graphql.operation.name': operationName ?? undefined });
        },
        async willSendResponse({ request, errors, operationName }) {
          const code = errors?.[0]?.extensions?.code;
          graphqlRequestDuration.observe(
            {
              operation: operationLabel(operationName ?? request.operationName),
              outcome: errors?.length ? (typeof code === 'string' ? code : 'ERROR') : 'ok',
            },
            (performance.now() - started) / 1000,
          );
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
      try {
        const url = subgraphUrl(name).replace(/\/graphql$/, '/ready');
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
  /** Take any free port when `port` is taken (the launcher allows it; it reads the port the gateway reports). */
  anyPortOnConflict?: boolean;
  /** The folder of governed artefacts (supergraph, released contract versions); the repository's schema/ by default. */
  schemaDir?: string;
  supergraphPath?: string;
}): Promise<RunningGateway> {
  const log = createLogger('gateway');
  initTracing('gateway');
  initMetrics('gateway');
  const timeoutMs = config().USAGEGRAPH_SUBGRAPH_TIMEOUT_MS;
  const schemaDir = options.schemaDir ?? config().USAGEGRAPH_SCHEMA_DIR ?? SCHEMA_DIR;
  let artefacts = loadArtefacts(schemaDir, options.supergraphPath);
  let stopWatching = () => undefined as void;
  const gateway = new ApolloGateway({
    // The supergraph is a governed file; a newly released one replaces it while serving (see schema-artefacts.ts).
    supergraphSdl: async ({ update, healthCheck }) => {
      stopWatching = watchArtefacts({
        schemaDir,
        supergraphPath: options.supergraphPath,
        current: () => artefacts,
        log,
        apply: async (next) => {
          if (next.supergraphSdl !== artefacts.supergraphSdl) {
            await healthCheck(next.supergraphSdl);
            update(next.supergraphSdl);
          }
          artefacts = next;
        },
      });
      return { supergraphSdl: artefacts.supergraphSdl, cleanup: async () => stopWatching() };
    },
    // The supergraph file names placeholder addresses that never resolve: where each subgraph really is comes from
    // SUBGRAPH_URL_<NAME> or the launcher's address book, looked up per request so a restarted subgraph is followed.
    buildService: ({ name, url }) =>
      new SubgraphDataSource(name, isSubgraphName(name) ? () => subgraphUrl(name) : () => url!, timeoutMs, log),
  });
  const authenticator = new Authenticator(oidcSettingsFromEnvironment());
  const record = new OperationRecord(log);
  const app = express();
  app.use(traceRequests('gateway'), accessLog(log));
  const httpServer = http.createServer(app);
  // Idle connections stay open longer than any client keeps them (undici: 4 s), so a client never sends on a socket
  // the server is closing ("other side closed").
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  const server = new ApolloServer<GatewayContext>({
    gateway,
    plugins: [
      ApolloServerPluginUsageReportingDisabled(),
      // Apollo's default landing page loads a sandbox from the internet; the bundled explorer is at /explorer instead.
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: 5_000 }),
      requestLog(log),
      requestPolicy({
        schemas: {
          review: () => artefacts.review,
          contract: (path) => artefacts.contracts.get(path)?.schema,
        },
        record,
        log,
        introspectionForAll: config().USAGEGRAPH_INTROSPECTION === 'all',
      }),
    ],
    formatError: formatErrorForClients(log),
    stopOnTerminationSignals: false,
    // Introspection is refused per request for everyone but platform (request-policy.ts).
    introspection: true,
  });
  await server.start();
  record.start();

  /** Every GraphQL and ingestion request is authenticated before anything else reads it. */
  const authenticate: express.RequestHandler = async (req, res, next) => {
    identifyRequest('anonymous', 'gateway');
    let result: Authentication;
    try {
      result = await authenticator.authenticate(req.headers);
    } catch (error) {
      log.warn({ err: error }, 'could not check a credential: the access subgraph did not answer');
      refuse(res, 503, 'SUBGRAPH_UNAVAILABLE', 'credentials cannot be checked right now; retry shortly', {
        retryable: true,
      });
      return;
    }
    if (!result.ok) {
      res.setHeader('www-authenticate', 'Bearer realm="usagegraph"');
      refuse(res, 401, 'UNAUTHENTICATED', result.message, {
        expected: 'authorization: Bearer <API key or OIDC token>',
      });
      return;
    }
    res.locals.principal = result.principal;
    identifyRequest(result.principal.subject, 'gateway');
    // When the client goes away, the subgraph calls made for it are cancelled (subgraph-data-source.ts).
    const cancelled = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) cancelled.abort(new DOMException('the client went away', 'AbortError'));
    });
    setRequestSignal(cancelled.signal);
    next();
  };

  app.get('/metrics', metricsEndpoint());
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: 'gateway', instanceId: INSTANCE_ID() });
  });
  // The finance console and the GraphQL explorer: static pages that use the graph with the caller's own credential.
  app.use(consoleRoutes(log));
  app.get('/ready', async (_req, res) => {
    const r = await readiness();
    res.status(r.ready ? 200 : 503).json({
      status: r.ready ? 'ready' : 'unavailable',
      service: 'gateway',
      instanceId: INSTANCE_ID(),
      subgraphs: r.subgraphs,
    });
  });
  // Bulk ingestion for telemetry pipelines (CloudEvents, NDJSON), owned by the usage subgraph and served here too.
  app.post('/v1/events', correlation(), authenticate, rawBody(), async (req, res) => {
    const principal = res.locals.principal as Principal;
    if (excludedCategories(principal).has('ingest')) {
      refuse(
        res,
        403,
        'FORBIDDEN',
        `sending usage events needs the "ingest" category, which ${principal.name} may not use`,
        {
          field: 'POST /v1/events',
          category: 'ingest',
        },
      );
      return;
    }
    const correlationId = res.locals.correlationId as string;
    let url: string;
    try {
      url = subgraphUrl('usage').replace(/\/graphql$/, '/events');
    } catch {
      refuse(res, 503, 'SUBGRAPH_UNAVAILABLE', 'the usage subgraph is restarting; retry shortly', { retryable: true });
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headers: Record<string, string> = {
      [CORRELATION_HEADER]: correlationId,
      [PRINCIPAL_HEADER]: encodePrincipal(principal),
      ...signedHeaders({ method: 'POST', url, body, principal, correlationId }),
    };
    for (const [name, value] of Object.entries(req.headers))
      if ((name === 'content-type' || name.startsWith('ce-')) && typeof value === 'string') headers[name] = value;
    try {
      const upstream = await withClientSpan('POST usage', { 'usagegraph.subgraph': 'usage' }, headers, () =>
        fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) }),
      );
      res
        .status(upstream.status)
        .type(upstream.headers.get('content-type') ?? 'application/json')
        .send(Buffer.from(await upstream.arrayBuffer()));
    } catch (error) {
      log.warn({ err: error }, 'bulk ingestion: usage subgraph unreachable');
      res.status(503).json({
        error: 'the usage subgraph is unreachable; retry shortly',
        code: 'SUBGRAPH_UNAVAILABLE',
        correlationId,
      });
    }
  });
  // Invoices and notes as PDF or HTML, served by the invoices subgraph to callers who may read billing documents.
  app.get('/documents/:collection/:file', correlation(), authenticate, async (req, res) => {
    const principal = res.locals.principal as Principal;
    if (excludedCategories(principal).has('billing')) {
      refuse(
        res,
        403,
        'FORBIDDEN',
        `reading invoices and notes needs the "billing" category, which ${principal.name} may not use`,
        {
          field: `GET ${req.path}`,
          category: 'billing',
        },
      );
      return;
    }
    const correlationId = res.locals.correlationId as string;
    const { collection, file } = req.params as { collection: string; file: string };
    const url = `${subgraphUrl('invoices').replace(/\/graphql$/, '')}/documents/${encodeURIComponent(collection)}/${encodeURIComponent(file)}`;
    try {
      const upstream = await fetch(url, {
        headers: {
          [CORRELATION_HEADER]: correlationId,
          ...signedHeaders({ method: 'GET', url, body: '', principal, correlationId }),
        },
        signal: AbortSignal.timeout(timeoutMs),
      });
      for (const h of ['content-type', 'content-disposition'])
        if (upstream.headers.get(h)) res.setHeader(h, upstream.headers.get(h)!);
      res.status(upstream.status).send(Buffer.from(await upstream.arrayBuffer()));
    } catch (error) {
      log.warn({ err: error }, 'documents: invoices subgraph unreachable');
      refuse(res, 503, 'SUBGRAPH_UNAVAILABLE', 'the invoices subgraph is unreachable; retry shortly', {
        retryable: true,
      });
    }
  });
  const graphqlEndpoint = (contract: string | ((req: express.Request) => string)) => [
    correlation(),
    authenticate,
    jsonBody(),
    expressMiddleware(server, {
      context: async ({ req, res }) => ({
        correlationId: res.locals.correlationId as string,
        principal: res.locals.principal as Principal,
        contract: typeof contract === 'string' ? contract : contract(req),
        clientName:
          typeof req.headers['apollographql-client-name'] === 'string'
            ? req.headers['apollographql-client-name']
            : undefined,
      }),
    }),
  ];
  app.use('/graphql/:audience/:version', ...graphqlEndpoint((req) => `${req.params.audience}/${req.params.version}`));
  app.use('/graphql', ...graphqlEndpoint('full'));
  app.use(jsonErrors);

  const host = options.host ?? '127.0.0.1';
  const port = await listenOn(httpServer, { port: options.port, host, anyPortOnConflict: options.anyPortOnConflict });
  const url = `http://${host}:${port}/graphql`;
  log.info({ url, port, instanceId: INSTANCE_ID() }, 'gateway ready');
  announceListening('gateway', url, port);
  return {
    url,
    port,
    async stop() {
      stopWatching();
      await server.stop();
      await record.stop();
      log.info('gateway stopped');
    },
  };
}
