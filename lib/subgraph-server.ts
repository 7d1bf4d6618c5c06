// Runs one subgraph: Apollo Server over Express, its own MongoDB database, health and readiness, correlation ids.
import { config } from './config';
import http from 'node:http';
import express from 'express';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { Db, MongoClient } from 'mongodb';
import { GraphQLError } from 'graphql';
import { accessLog, correlation, jsonErrors, jsonFromRawBody, rawBody, refuse } from './http';
import { graphqlRequestDuration, initMetrics, metricsEndpoint, operationLabel, workDuration } from './metrics';
import { registerQueueDepths } from './queue-depths';
import { annotateCurrentSpan, initTracing, traceRequests as traceRequestsFor } from './tracing';
import { identifyRequest, setRequestSignal } from './correlation';
import { verifySignedRequest } from './internal-auth';
import { excludedCategories, isPlatform, type Principal } from './principal';
import { reviewOperation } from './authorization';
import { Outbox } from './outbox';
import { recordLockIndexes, startSweepingRecordLocks, type RecordLockDoc } from './record-locks';
import { UNLIMITED } from './operation-limits';
import { createLogger, type Logger } from './logger';
import { runUntilSignalled } from './lifecycle';
import { boundedDb, connectMongo, databaseName, ensureIndexes, type IndexDeclaration } from './mongo';
import { subgraphTypeDefs } from './schema-files';
import { scalarResolvers } from './graphql/scalars';
import { formatErrorForClients } from './format-error';
import { guardEntityRepresentations } from './entity-representations';
import type { SubgraphName } from './topology';
import { INSTANCE_ID, announceListening, listenOn, portFromEnvironment } from './listen';

export interface BaseContext {
  correlationId: string;
  log: Logger;
  /** Who asks, as the gateway (or the calling subgraph) verified and signed it. */
  principal: Principal;
  /** Aborted when the caller gives up (the gateway timed out or the client went away): stop working on it. */
  signal: AbortSignal;
}

/** Who did something, for records that say so: the person behind a service call, else the caller itself. */
export const actingSubject = (ctx: BaseContext): string => ctx.principal.onBehalfOf ?? ctx.principal.subject;

/**
 * `Resolvers` is the subgraph's generated resolver map (subgraphs/<name>/generated/resolvers-types.ts), so resolvers are
 * checked against its schema; Apollo's own map type is the default.
 */
export interface SubgraphDefinition<
  Services,
  Context extends BaseContext,
  Resolvers extends object = GraphQLResolverMap<Context>,
> {
  name: SubgraphName;
  indexes: readonly IndexDeclaration[];
  /** Builds the long-lived services (stores, use cases, workers) once the database is connected. */
  createServices(db: Db, log: Logger): Promise<Services> | Services;
  /** Builds the per-request context: fresh DataLoaders for every request, never shared. */
  createContext(services: Services, base: BaseContext): Context;
  resolvers: Resolvers;
  /** Extra HTTP routes beside /graphql (e.g. a bulk ingestion endpoint). */
  routes?(app: express.Express, services: Services): void;
  /** Background work (workers, pollers) started after the server listens; returns a stop function. */
  startBackground?(services: Services, log: Logger): () => Promise<void>;
}

/** The mutations that are a piece of business work, for usagegraph_work_duration_seconds. */
const WORK_BY_MUTATION: Record<string, 'rating' | 'invoicing' | 'posting'> = {
  rateBillingPeriod: 'rating',
  rateBillingPeriodForAll: 'rating',
  generateInvoice: 'invoicing',
  finalizeInvoice: 'invoicing',
  postInvoice: 'posting',
  replayErpPosting: 'posting',
};

export interface RunningSubgraph {
  name: SubgraphName;
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startSubgraph<S, C extends BaseContext, R extends object>(
  definition: SubgraphDefinition<S, C, R>,
  options: { port: number; host?: string; mongoClient?: MongoClient; anyPortOnConflict?: boolean },
): Promise<RunningSubgraph> {
  const log = createLogger(definition.name);
  initTracing(definition.name);
  initMetrics(definition.name);
  const ownsClient = !options.mongoClient;
  const client = options.mongoClient ?? (await connectMongo());
  const db = boundedDb(client.db(databaseName(definition.name)));
  await ensureIndexes(db, [...definition.indexes, ...recordLockIndexes]);
  const services = await definition.createServices(db, log);
  registerQueueDepths(definition.name, db);

  const app = express();
  app.use(traceRequestsFor(definition.name), accessLog(log));
  const httpServer = http.createServer(app);
  // Idle connections stay open longer than any client keeps them (undici: 4 s), so a client never sends on a socket
  // the server is closing ("other side closed").
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  // Representations are checked against each entity's key types before any __resolveReference reads the database.
  const schema = guardEntityRepresentations(
    buildSubgraphSchema({
      typeDefs: subgraphTypeDefs(definition.name),
      // Apollo's map type has no place for the generated one's shapes, e.g. __resolveReference(reference, context, info).
      resolvers: { ...scalarResolvers, ...definition.resolvers } as GraphQLResolverMap<unknown>,
    }),
  );
  const server = new ApolloServer<C>({
    schema,
    plugins: [
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: 5_000 }),
      {
        // The same category rules as the gateway, on this subgraph's own schema: defence in depth.
        async requestDidStart() {
          const started = performance.now();
          return {
            async willSendResponse({ request, errors, operationName, contextValue }) {
              const code = errors?.[0]?.extensions?.code;
              const outcome = errors?.length ? (typeof code === 'string' ? code : 'ERROR') : 'ok';
              graphqlRequestDuration.observe(
                {
                  operation: operationLabel(operationName ?? request.operationName),
                  // A request whose caller went away ends in whatever its unfinished reads threw: it counts as cancelled.
                  outcome: contextValue.signal.aborted ? 'REQUEST_CANCELLED' : outcome,
                },
                (performance.now() - started) / 1000,
              );
            },
            async didResolveOperation({ document, request, contextValue, operationName }) {
              annotateCurrentSpan({ 'graphql.operation.name': operationName ?? undefined });
              const principal = contextValue.principal;
              const review = reviewOperation({
                schema,
                document,
                operationName: request.operationName,
                variables: request.variables,
                excluded: excludedCategories(principal),
                who: `${principal.subject} (${principal.roles.join(', ') || principal.via})`,
                allowIntrospection: principal.via === 'service' || isPlatform(principal),
                limits: UNLIMITED,
              });
              if (review.refusal) {
                throw new GraphQLError(review.refusal.message, {
                  extensions: {
                    code: review.refusal.code,
                    field: review.refusal.field,
                    ...review.refusal.extensions,
                    http: { status: review.refusal.code === 'FORBIDDEN' ? 403 : 400 },
                  },
                });
              }
            },
            // When the caller has gone (the gateway gave up, the client left), resolve nothing more.
            async executionDidStart() {
              return {
                willResolveField({ contextValue, info }) {
                  if (contextValue.signal.aborted) {
                    throw new GraphQLError('the caller went away; the rest of the request was not run', {
                      extensions: { code: 'REQUEST_CANCELLED' },
                    });
                  }
                  // Business work, timed where it is asked for: rating, invoicing, posting.
                  const work = info.parentType.name === 'Mutation' ? WORK_BY_MUTATION[info.fieldName] : undefined;
                  if (!work) return;
                  const end = workDuration.startTimer({ work });
                  return (error) => end({ outcome: error ? 'error' : 'ok' });
                },
              };
            },
          };
        },
      },
    ],
    formatError: formatErrorForClients(log),
    stopOnTerminationSignals: false,
  });
  await server.start();

  app.get('/metrics', metricsEndpoint());
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: definition.name, instanceId: INSTANCE_ID() });
  });
  app.get('/ready', async (_req, res) => {
    try {
      await db.command({ ping: 1 });
      res.json({ status: 'ready', service: definition.name, instanceId: INSTANCE_ID(), database: db.databaseName });
    } catch (error) {
      log.warn({ err: error }, 'readiness check failed: database unreachable');
      res.status(503).json({
        status: 'unavailable',
        service: definition.name,
        instanceId: INSTANCE_ID(),
        reason: 'database unreachable',
      });
    }
  });
  // Everything but health and readiness answers only requests signed by the gateway or another subgraph.
  app.use(correlation(), rawBody(), (req, res, next) => {
    const verified = verifySignedRequest({
      method: req.method,
      path: req.originalUrl,
      headers: req.headers,
      body: Buffer.isBuffer(req.body) ? req.body : '',
      correlationId: res.locals.correlationId as string,
    });
    if (!verified.ok) {
      log.warn({ path: req.path, reason: verified.reason }, 'refused an unsigned or wrongly signed request');
      refuse(res, 401, 'UNAUTHENTICATED', verified.reason, { expected: 'a request through the gateway' });
      return;
    }
    res.locals.principal = verified.principal;
    identifyRequest(verified.principal.onBehalfOf ?? verified.principal.subject, definition.name);
    // The caller gave up (timeout, client gone): tell the work in flight, so it stops instead of running on.
    const cancelled = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) cancelled.abort(new DOMException('the caller went away', 'AbortError'));
    });
    res.locals.signal = cancelled.signal;
    setRequestSignal(cancelled.signal);
    next();
  });
  definition.routes?.(app, services);
  app.use(
    '/graphql',
    jsonFromRawBody,
    expressMiddleware(server, {
      context: async ({ res }) =>
        definition.createContext(services, {
          correlationId: res.locals.correlationId as string,
          log,
          principal: res.locals.principal as Principal,
          signal: res.locals.signal as AbortSignal,
        }),
    }),
  );
  app.use(jsonErrors);

  const host = options.host ?? '127.0.0.1';
  const port = await listenOn(httpServer, { port: options.port, host, anyPortOnConflict: options.anyPortOnConflict });
  const url = `http://${host}:${port}/graphql`;
  const stopBackground = definition.startBackground?.(services, log);
  // Business events this subgraph raised wait in its outbox until the events subgraph has them.
  const stopForwarding =
    definition.name === 'events' ? undefined : new Outbox(db, definition.name).startForwarding(log);
  const stopSweeping = startSweepingRecordLocks(db.collection<RecordLockDoc>('record_locks'), log);
  log.info({ url, port, instanceId: INSTANCE_ID(), database: db.databaseName }, `${definition.name} subgraph ready`);
  announceListening(definition.name, url, port);

  return {
    name: definition.name,
    url,
    port,
    async stop() {
      await stopBackground?.();
      await stopForwarding?.();
      stopSweeping();
      await server.stop();
      if (ownsClient) await client.close();
      log.info(`${definition.name} subgraph stopped`);
    },
  };
}

/** Entry point for `subgraphs/<name>/main.ts`: listens on PORT (0: any) and stops cleanly on SIGINT/SIGTERM. */
export function runSubgraphProcess<S, C extends BaseContext, R extends object>(
  definition: SubgraphDefinition<S, C, R>,
  defaultPort: number,
): void {
  runUntilSignalled(
    async () => startSubgraph(definition, { ...portFromEnvironment(defaultPort), host: config().HOST }),
    createLogger(definition.name),
    `${definition.name} subgraph`,
  );
}
