// Usage events from Kafka: CloudEvents in the Kafka protocol binding (structured: a `content-type:
// application/cloudevents+json` record whose value is the event; binary: `ce_*` headers, the value is the data), consumed
// in a consumer group and ingested exactly like every other path (ingestUsageEvents: validated, deduplicated by
// (source, id), held or stored). At least once: a batch's offsets are committed only after every record in it is stored,
// held or quarantined; a record that cannot be read is quarantined with the reason and never blocks its partition.
import { config } from '../../lib/config';
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type KafkaMessage } from 'kafkajs';
import type { Problem } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { kafkaConsumerLag, kafkaRecords } from '../../lib/metrics';
import { ingestUsageEvents } from './ingest-usage-events';
import type { UsageStore } from './store';
import type { UsageTypeRegistry } from './usage-type-registry';

export interface KafkaIngestSettings {
  brokers: string[];
  topics: string[];
  groupId: string;
  clientId: string;
  /** Events per ingestUsageEvents call (a batch from Kafka is split into calls of this size). */
  chunkSize: number;
}

export function kafkaSettingsFromEnvironment(): KafkaIngestSettings | null {
  const brokers = (config().USAGEGRAPH_KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) return null;
  return {
    brokers,
    topics: config()
      .USAGEGRAPH_KAFKA_TOPICS.split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    groupId: config().USAGEGRAPH_KAFKA_GROUP,
    clientId: config().USAGEGRAPH_KAFKA_CLIENT_ID,
    chunkSize: 1_000,
  };
}

const header = (message: KafkaMessage, name: string): string | undefined => {
  const value = message.headers?.[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

/** A CloudEvent (as ingestion reads it) from one record, or why the record cannot be read. */
export function eventFromRecord(message: KafkaMessage): { event: unknown } | { unreadable: string } {
  const contentType = (header(message, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const text = message.value?.toString('utf8') ?? '';
  const json = (what: string): { value: unknown } | { unreadable: string } => {
    try {
      return { value: JSON.parse(text) };
    } catch {
      return { unreadable: `the record's ${what} is not JSON` };
    }
  };
  let ce: Record<string, unknown>;
  if (header(message, 'ce_specversion') !== undefined) {
    // Binary mode: attributes in ce_* headers, the value is the data.
    const data = text ? json('value (the event data)') : { value: undefined };
    if ('unreadable' in data) return data;
    ce = {
      specversion: header(message, 'ce_specversion'),
      id: header(message, 'ce_id'),
      source: header(message, 'ce_source'),
      type: header(message, 'ce_type'),
      subject: header(message, 'ce_subject'),
      time: header(message, 'ce_time'),
      usagetypeversion: header(message, 'ce_usagetypeversion'),
      data: data.value,
    };
  } else if (contentType.startsWith('application/cloudevents+json')) {
    const parsed = json('value (a structured CloudEvent)');
    if ('unreadable' in parsed) return parsed;
    if (!parsed.value || typeof parsed.value !== 'object' || Array.isArray(parsed.value))
      return { unreadable: "the record's value is not a CloudEvent object" };
    ce = parsed.value as Record<string, unknown>;
  } else {
    return {
      unreadable: `neither CloudEvents mode: no ce_specversion header (binary) and content-type "${contentType || 'none'}" is not application/cloudevents+json (structured)`,
    };
  }
  return {
    event: {
      id: ce.id,
      source: ce.source,
      type: ce.type,
      typeVersion: ce.usagetypeversion ?? null,
      customer: ce.subject,
      timestamp: ce.time,
      data: ce.data,
      specversion: ce.specversion,
    },
  };
}

/** What a quarantined unreadable record keeps: where it was, and what it held (its value as text, capped). */
function recordPayload(topic: string, partition: number, message: KafkaMessage): unknown {
  return {
    kafka: { topic, partition, offset: message.offset },
    headers: Object.fromEntries(
      Object.keys(message.headers ?? {}).map((name) => [name, (header(message, name) ?? '').slice(0, 1_000)]),
    ),
    value: (message.value?.toString('utf8') ?? '').slice(0, 64_000),
  };
}

/** Ingests one fetched batch of one partition; resolves once every record is stored, held or quarantined. */
export async function ingestBatch(
  store: UsageStore,
  registry: UsageTypeRegistry,
  topic: string,
  partition: number,
  messages: KafkaMessage[],
  chunkSize: number,
  onChunk?: () => Promise<void>,
): Promise<{ stored: number; rejected: number }> {
  let stored = 0;
  let rejected = 0;
  for (let start = 0; start < messages.length; start += chunkSize) {
    const chunk = messages.slice(start, start + chunkSize);
    const events: unknown[] = [];
    const unreadable = new Map<number, Problem[]>();
    chunk.forEach((message, i) => {
      const read = eventFromRecord(message);
      if ('event' in read) {
        events.push(read.event);
      } else {
        events.push(recordPayload(topic, partition, message));
        unreadable.set(i, [
          {
            code: 'VALIDATION_FAILED',
            field: `kafka:${topic}/${partition}@${message.offset}`,
            reason: read.unreadable,
            expected:
              'a CloudEvent in the Kafka binding: structured (content-type application/cloudevents+json) or binary (ce_* headers)',
          },
        ]);
      }
    });
    const correlationId = `kafka:${topic}:${partition}:${chunk[0]!.offset}`;
    const result = await ingestUsageEvents(store, registry, events, correlationId, { rejectedUpfront: unreadable });
    stored += result.accepted + result.duplicates + result.held;
    rejected += result.rejected;
    kafkaRecords.inc({ outcome: 'stored' }, result.accepted + result.duplicates + result.held);
    if (result.rejected) kafkaRecords.inc({ outcome: 'rejected' }, result.rejected);
    await onChunk?.();
  }
  return { stored, rejected };
}

export interface RunningConsumer {
  stop(): Promise<void>;
  /** Resolves when the group has joined and partitions are assigned. */
  ready: Promise<void>;
}

/**
 * Consumes the topics in the consumer group. Offsets are committed by hand, after a whole batch is ingested; a failure
 * (the database down) commits nothing and the batch is fetched again after kafkajs's backoff.
 */
export async function startKafkaIngestion(
  store: UsageStore,
  registry: UsageTypeRegistry,
  settings: KafkaIngestSettings,
  log: Logger,
): Promise<RunningConsumer> {
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => log.warn({ kafka: entry.log }, `kafka: ${entry.log.message}`),
    retry: { initialRetryTime: 300, retries: 10 },
  });
  const consumer: Consumer = kafka.consumer({
    groupId: settings.groupId,
    // A batch of 1,000 records is ingested well within this; the session is kept alive by heartbeats between chunks.
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 4 * 1024 * 1024,
    retry: { initialRetryTime: 500, maxRetryTime: 30_000, retries: Number.MAX_SAFE_INTEGER },
  });
  const admin = kafka.admin();
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  consumer.on(consumer.events.GROUP_JOIN, () => readyResolve());
  await consumer.connect();
  await admin.connect();
  // A topic nobody has produced to yet may not exist (brokers that do not auto-create): create it, so the worker can
  // start before its producers. Already there is fine; a broker that refuses leaves subscribe to say why.
  const existing = new Set(await admin.listTopics());
  const missing = settings.topics.filter((t) => !existing.has(t));
  if (missing.length > 0) {
    await admin
      .createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true })
      .catch((error: Error) => log.warn({ err: error, topics: missing }, 'could not create the Kafka topics'));
  }
  for (const topic of settings.topics) await consumer.subscribe({ topic, fromBeginning: true });

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
      if (!isRunning() || isStale() || batch.messages.length === 0) return;
      try {
        await ingestBatch(store, registry, batch.topic, batch.partition, batch.messages, settings.chunkSize, heartbeat);
      } catch (error) {
        log.warn(
          { err: error, topic: batch.topic, partition: batch.partition, firstOffset: batch.firstOffset() },
          'a Kafka batch could not be ingested; nothing of it is committed and it will be read again',
        );
        throw error;
      }
      // Every record of the batch is stored, held or quarantined: only now does the group move past it. (With
      // autoCommit off, commitOffsetsIfNecessary commits nothing: the commit is explicit.)
      resolveOffset(batch.lastOffset());
      await consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(BigInt(batch.lastOffset()) + 1n) },
      ]);
      kafkaConsumerLag.set(
        { topic: batch.topic, partition: String(batch.partition) },
        Math.max(0, Number(batch.highWatermark) - Number(batch.lastOffset()) - 1),
      );
    },
  });

  // Lag from the committed offsets, also while nothing arrives (or while ingestion is failing).
  const lagTimer = setInterval(() => {
    void (async () => {
      for (const topic of settings.topics) {
        const [high, [committed]] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId: settings.groupId, topics: [topic] }),
        ]);
        for (const p of high) {
          const done = committed?.partitions.find((c) => c.partition === p.partition)?.offset ?? '-1';
          const lag = Number(p.high) - Math.max(0, Number(done));
          kafkaConsumerLag.set({ topic, partition: String(p.partition) }, Math.max(0, lag));
        }
      }
    })().catch((error) => log.warn({ err: error }, 'could not read the consumer lag'));
  }, 5_000);

  return {
    ready,
    async stop() {
      clearInterval(lagTimer);
      await consumer.disconnect(); // finishes the batch in flight and commits it first
      await admin.disconnect();
    },
  };
}
