// Prometheus metrics of one process (prom-client): requests by operation and outcome with latency histograms, usage
// events by outcome, the durations of rating, invoicing and posting, queue depths read from the database on scrape,
// Kafka consumer lag, and the process's own metrics. Served at /metrics (see metricsEndpoint for who may read them).
import { config } from './config';
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import client from 'prom-client';

export const registry = new client.Registry();
let defaultsCollected = false;

/** Labels every series of this process with its service; collects the process metrics (CPU, memory, event loop, GC). */
export function initMetrics(service: string): void {
  registry.setDefaultLabels({ service });
  if (!defaultsCollected) client.collectDefaultMetrics({ register: registry });
  defaultsCollected = true;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const graphqlRequestDuration = new client.Histogram({
  name: 'usagegraph_graphql_request_duration_seconds',
  help: 'GraphQL requests by operation name and outcome (ok, or the first error code), and how long they took',
  labelNames: ['operation', 'outcome'],
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const httpRequestDuration = new client.Histogram({
  name: 'usagegraph_http_request_duration_seconds',
  help: 'HTTP requests by method, route and status class, and how long they took',
  labelNames: ['method', 'route', 'status'],
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const usageEvents = new client.Counter({
  name: 'usagegraph_usage_events_total',
  help: 'Usage events received, by outcome: accepted, duplicate, held, rejected',
  labelNames: ['outcome'],
  registers: [registry],
});

export const workDuration = new client.Histogram({
  name: 'usagegraph_work_duration_seconds',
  help: 'Business work and how long it took: rating (a subscription, or a page of a billing run), invoicing, posting',
  labelNames: ['work', 'outcome'],
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const ledgerTurnWait = new client.Histogram({
  name: 'usagegraph_ledger_turn_wait_seconds',
  help: 'How long this erp-postings process waited for its turn at the ledger (writes take turns across processes), by outcome: taken, refused',
  labelNames: ['outcome'],
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const kafkaConsumerLag = new client.Gauge({
  name: 'usagegraph_kafka_consumer_lag',
  help: 'Messages in a partition not yet consumed by this consumer group (high watermark minus committed offset)',
  labelNames: ['topic', 'partition'],
  registers: [registry],
});

export const kafkaRecords = new client.Counter({
  name: 'usagegraph_kafka_records_total',
  help: 'Kafka records consumed, by outcome: stored (accepted, duplicate or held), rejected (quarantined)',
  labelNames: ['outcome'],
  registers: [registry],
});

/** Counts a batch's per-event outcomes. */
export function countUsageEvents(result: { accepted: number; duplicates: number; held: number; rejected: number }) {
  if (result.accepted) usageEvents.inc({ outcome: 'accepted' }, result.accepted);
  if (result.duplicates) usageEvents.inc({ outcome: 'duplicate' }, result.duplicates);
  if (result.held) usageEvents.inc({ outcome: 'held' }, result.held);
  if (result.rejected) usageEvents.inc({ outcome: 'rejected' }, result.rejected);
}

/** Times a piece of business work. */
export async function timeWork<T>(work: 'rating' | 'invoicing' | 'posting', run: () => Promise<T>): Promise<T> {
  const end = workDuration.startTimer({ work });
  try {
    const value = await run();
    end({ outcome: 'ok' });
    return value;
  } catch (error) {
    end({ outcome: 'error' });
    throw error;
  }
}

const seenOperations = new Set<string>();
/** An operation name as a label: client-chosen, so bounded (200 distinct names, then "other") and checked. */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return 'invalid';
  if (seenOperations.has(name)) return name;
  if (seenOperations.size >= 200) return 'other';
  seenOperations.add(name);
  return name;
}

export interface QueueDepth {
  name: string;
  help: string;
  /** One reading per label set; read on scrape, at most every `cacheMs`. */
  read(): Promise<Array<{ labels: Record<string, string>; value: number }>>;
  labelNames: string[];
}

/** A gauge read from the database when scraped, cached so frequent scrapes do not load the database. */
export function registerQueueDepth(depth: QueueDepth, cacheMs = config().USAGEGRAPH_METRICS_CACHE_MS): void {
  if (registry.getSingleMetric(depth.name)) return; // a second server of the same subgraph in one process (tests)
  let cached: { at: number; values: Array<{ labels: Record<string, string>; value: number }> } | undefined;
  new client.Gauge({
    name: depth.name,
    help: depth.help,
    labelNames: depth.labelNames,
    registers: [registry],
    async collect() {
      if (!cached || Date.now() - cached.at > cacheMs) {
        try {
          cached = { at: Date.now(), values: await depth.read() };
        } catch {
          return; // the database is down: the last reading stays, the scrape still answers
        }
      }
      for (const { labels, value } of cached.values) this.set(labels, value);
    },
  });
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/**
 * GET /metrics. With USAGEGRAPH_METRICS_TOKEN set, a scraper sends `Authorization: Bearer <token>`, from anywhere;
 * without it, only clients on this machine (loopback) may read — metrics name operations and volumes, not for the world.
 */
export function metricsEndpoint(token = config().USAGEGRAPH_METRICS_TOKEN): RequestHandler {
  const expected = token ? Buffer.from(`Bearer ${token}`) : undefined;
  return async (req, res) => {
    if (expected) {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.setHeader('www-authenticate', 'Bearer realm="metrics"');
        res.status(401).type('text/plain').send('metrics need the bearer token set in USAGEGRAPH_METRICS_TOKEN\n');
        return;
      }
    } else if (!LOOPBACK.test(req.socket.remoteAddress ?? '')) {
      res.status(403).type('text/plain').send('metrics are open to loopback only; set USAGEGRAPH_METRICS_TOKEN\n');
      return;
    }
    res.type(registry.contentType).send(await registry.metrics());
  };
}
