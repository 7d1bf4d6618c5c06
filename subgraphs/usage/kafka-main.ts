// `subgraphs/usage/kafka-main.ts`: the usage subgraph's Kafka ingest worker, a process of its own (it scales with the
// topics' partitions, not with GraphQL traffic, and a stuck consumer never takes the API down). It writes the usage
// subgraph's own database through the same ingestion as the API. /health, /ready and /metrics on PORT (0: any).
import { config } from '../../lib/config';
import http from 'node:http';
import express from 'express';
import { createLogger } from '../../lib/logger';
import { runUntilSignalled } from '../../lib/lifecycle';
import { INSTANCE_ID, announceListening, listenOn, portFromEnvironment } from '../../lib/listen';
import { initMetrics, metricsEndpoint } from '../../lib/metrics';
import { boundedDb, connectMongo, databaseName, ensureIndexes } from '../../lib/mongo';
import { initTracing } from '../../lib/tracing';
import { usageSubgraph } from './index';
import { kafkaSettingsFromEnvironment, startKafkaIngestion } from './kafka-ingest';

const SERVICE = 'usage-kafka';

async function start(): Promise<{ stop(): Promise<void> }> {
  const log = createLogger(SERVICE);
  initTracing(SERVICE);
  initMetrics(SERVICE);
  const settings = kafkaSettingsFromEnvironment();
  if (!settings) throw new Error('USAGEGRAPH_KAFKA_BROKERS is not set: name the brokers (host:port, comma-separated)');
  const client = await connectMongo();
  const db = boundedDb(client.db(databaseName('usage')));
  await ensureIndexes(db, usageSubgraph.indexes);
  const services = await usageSubgraph.createServices(db, log);
  const consumer = await startKafkaIngestion(services.store, services.registry, settings, log);
  let joined = false;
  void consumer.ready.then(() => (joined = true));

  const app = express();
  app.get('/metrics', metricsEndpoint());
  app.get('/health', (_req, res) => res.json({ status: 'ok', service: SERVICE, instanceId: INSTANCE_ID() }));
  app.get('/ready', async (_req, res) => {
    try {
      await db.command({ ping: 1 });
      res.status(joined ? 200 : 503).json({
        status: joined ? 'ready' : 'joining the consumer group',
        service: SERVICE,
        instanceId: INSTANCE_ID(),
        topics: settings.topics,
        groupId: settings.groupId,
      });
    } catch {
      res.status(503).json({ status: 'unavailable', service: SERVICE, instanceId: INSTANCE_ID() });
    }
  });
  const server = http.createServer(app);
  const host = config().HOST;
  const port = await listenOn(server, { ...portFromEnvironment(0), host });
  const url = `http://${host}:${port}/graphql`; // not served; the launcher derives /ready from it like a subgraph's
  announceListening(SERVICE, url, port);
  log.info(
    { port, instanceId: INSTANCE_ID(), topics: settings.topics, groupId: settings.groupId },
    'Kafka ingestion ready',
  );
  return {
    async stop() {
      await consumer.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await client.close();
      log.info('Kafka ingestion stopped');
    },
  };
}

runUntilSignalled(start, createLogger(SERVICE), 'Kafka ingestion');
