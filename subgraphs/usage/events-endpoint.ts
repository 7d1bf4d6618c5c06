// HTTP bulk ingestion for telemetry pipelines that do not speak GraphQL: CloudEvents 1.0 (structured, batch, binary) and NDJSON.
import express, { type Request, type Response } from 'express';
import { GraphQLError } from 'graphql';
import { BODY_LIMIT, correlation, jsonErrors } from '../../lib/http';
import { ingestUsageEvents, MAX_EVENTS_PER_CALL, type IngestResult } from './ingest-usage-events';
import type { UsageStore } from './store';
import type { Problem } from '../../lib/errors';
import type { UsageTypeRegistry } from './usage-type-registry';
import type { Logger } from '../../lib/logger';
import { quoted } from '../../lib/untrusted-json';
import { knownFailure } from '../../lib/format-error';

/** Codes of failures that pass: the same batch, sent again later, is stored. */
const RETRYABLE_CODES = new Set([
  'DATABASE_UNAVAILABLE',
  'DATABASE_TIMEOUT',
  'SUBGRAPH_UNAVAILABLE',
  'SUBGRAPH_TIMEOUT',
  'REQUEST_CANCELLED',
]);

export const ACCEPTED_TYPES = [
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'application/x-ndjson',
  'application/json (CloudEvents binary mode, with ce-* headers)',
];

/** Where each ingestion field comes from in a CloudEvent, for error paths the sender recognises. */
const ATTRIBUTE: Record<string, string> = {
  id: 'id',
  source: 'source',
  type: 'type',
  typeVersion: 'usagetypeversion',
  customer: 'subject',
  timestamp: 'time',
  data: 'data',
};

interface Parsed {
  events: unknown[];
  /** Index → why the item could not be read at all (e.g. a malformed NDJSON line). */
  unreadable: Map<number, string>;
}

function toInput(ce: unknown): unknown {
  if (!ce || typeof ce !== 'object' || Array.isArray(ce)) return ce;
  const e = ce as Record<string, unknown>;
  return {
    id: e.id,
    source: e.source,
    type: e.type,
    typeVersion: e.usagetypeversion ?? null,
    customer: e.subject,
    timestamp: e.time,
    data: e.data,
    specversion: e.specversion,
  };
}

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parseBody(req: Request): Parsed | { error: string; status: number } {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  const json = (): unknown => JSON.parse(text);
  try {
    if (req.headers['ce-specversion']) {
      // Binary mode: attributes in ce-* headers, the body is the data.
      const h = (name: string) => (req.headers[`ce-${name}`] as string | undefined) ?? undefined;
      return {
        events: [
          toInput({
            specversion: h('specversion'),
            id: h('id'),
            source: h('source'),
            type: h('type'),
            subject: h('subject'),
            time: h('time'),
            usagetypeversion: h('usagetypeversion'),
            // Data that is not JSON is still this one event's data: rejected and quarantined, not a failed request.
            data: text ? jsonOrText(text) : undefined,
          }),
        ],
        unreadable: new Map(),
      };
    }
    if (type === 'application/cloudevents+json') return { events: [toInput(json())], unreadable: new Map() };
    if (type === 'application/cloudevents-batch+json' || type === 'application/json') {
      const body = json();
      return { events: (Array.isArray(body) ? body : [body]).map(toInput), unreadable: new Map() };
    }
    if (type === 'application/x-ndjson' || type === 'application/ndjson') {
      const unreadable = new Map<number, string>();
      const events = text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line, i) => {
          try {
            return toInput(JSON.parse(line));
          } catch {
            unreadable.set(i, 'this line is not valid JSON');
            return { unreadableLine: line };
          }
        });
      return { events, unreadable };
    }
  } catch {
    return { status: 400, error: 'the body is not valid JSON' };
  }
  return {
    status: 415,
    error: `content type "${type || '(none)'}" is not accepted; send one of: ${ACCEPTED_TYPES.join(', ')}`,
  };
}

/** Problems name CloudEvent attributes (`[3].subject`), not the GraphQL input's fields. */
function inCloudEventTerms(result: IngestResult): IngestResult {
  for (const r of result.results) {
    for (const p of r.problems) {
      p.field = p.field.replace(
        /^events\[(\d+)\](?:\.(\w+))?/,
        (_m, i: string, f?: string) => `[${i}]${f ? `.${ATTRIBUTE[f] ?? f}` : ''}`,
      );
    }
  }
  return result;
}

/** DATABASE_UNAVAILABLE when the usage database does not answer a bounded probe now; undefined when it does. */
async function databaseDown(store: UsageStore): Promise<{ code: string; message: string } | undefined> {
  try {
    // One row by _id, not a count: the embedded database counts by reading the whole table, which on a large events
    // collection would outlast the bound and report a healthy database as down.
    await store.events.findOne({}, { projection: { _id: 1 }, maxTimeMS: 2_000 });
    return undefined;
  } catch (probe) {
    return (
      knownFailure(probe) ?? { code: 'DATABASE_UNAVAILABLE', message: 'the database is unreachable; retry shortly' }
    );
  }
}

export function eventsEndpoint(store: UsageStore, registry: UsageTypeRegistry, log: Logger): express.Router {
  const router = express.Router();
  router.post(
    '/',
    correlation(),
    express.raw({ type: () => true, limit: BODY_LIMIT() }),
    async (req: Request, res: Response) => {
      const parsed = parseBody(req);
      if ('error' in parsed) {
        res.status(parsed.status).json({ error: parsed.error, accepted: ACCEPTED_TYPES });
        return;
      }
      if (parsed.events.length > MAX_EVENTS_PER_CALL) {
        res.status(413).json({
          error: `${parsed.events.length} events in one request is over the limit of ${MAX_EVENTS_PER_CALL}; split the batch`,
        });
        return;
      }
      // Only CloudEvents 1.0 is understood; anything else is rejected (and quarantined) per event, not per request.
      const rejectedUpfront = new Map<number, Problem[]>();
      const inputs = parsed.events.map((e, i) => {
        const specversion = (e as { specversion?: unknown } | null)?.specversion;
        if (parsed.unreadable.has(i)) {
          rejectedUpfront.set(i, [
            {
              code: 'VALIDATION_FAILED',
              field: `events[${i}]`,
              reason: parsed.unreadable.get(i)!,
              expected: 'one CloudEvent as JSON per line',
            },
          ]);
        } else if (specversion !== '1.0') {
          rejectedUpfront.set(i, [
            {
              code: 'VALIDATION_FAILED',
              field: `events[${i}].specversion`,
              reason:
                specversion === undefined
                  ? 'specversion is missing'
                  : `specversion ${quoted(String(JSON.stringify(specversion)))} is not supported`,
              expected: '"1.0"',
            },
          ]);
        }
        if (!e || typeof e !== 'object' || Array.isArray(e)) return e;
        const { specversion: _v, ...input } = e as Record<string, unknown>;
        return input;
      });
      try {
        res.json(
          inCloudEventTerms(
            await ingestUsageEvents(store, registry, inputs, res.locals.correlationId as string, { rejectedUpfront }),
          ),
        );
      } catch (error) {
        // The database down or slow, the caller gone: a stable code the sender retries on, never a plain 500.
        // An error of another kind while the database does not answer (a bulk write cut short by the outage reports
        // per-document failures) is the outage too: the sender retries the batch and deduplication settles it.
        const known = knownFailure(error) ?? (await databaseDown(store));
        if (known) {
          log.warn({ err: error, code: known.code }, 'bulk ingestion failed; the sender may retry the batch');
          res.status(503).json({
            error: known.message,
            code: known.code,
            retryable: true,
            correlationId: res.locals.correlationId,
          });
          return;
        }
        const code = error instanceof GraphQLError ? error.extensions.code : undefined;
        if (!code) log.error({ err: error }, 'bulk ingestion failed unexpectedly');
        // A subgraph asked on the way (customers, plans) could not answer for now: the sender should retry, not drop.
        const retryable =
          error instanceof GraphQLError && (error.extensions.retryable === true || RETRYABLE_CODES.has(String(code)));
        res.status(retryable ? 503 : code ? 400 : 500).json({
          error: error instanceof GraphQLError ? error.message : 'internal error; see the usage service logs',
          code: code ?? 'INTERNAL_SERVER_ERROR',
          correlationId: res.locals.correlationId,
        });
      }
    },
  );
  router.use(jsonErrors);
  return router;
}
