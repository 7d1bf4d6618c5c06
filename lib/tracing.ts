// OpenTelemetry tracing: gateway → subgraph → database in one trace, carried between processes by the W3C
// `traceparent` header (so it joins whatever gateway or caller sent it), with the correlation id on every server span.
// Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set, and not recorded otherwise.
import { config } from './config';
import {
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { RequestHandler } from 'express';
import type { MongoClient } from 'mongodb';

export const CORRELATION_ATTRIBUTE = 'usagegraph.correlation_id';
let provider: BasicTracerProvider | undefined;
let propagationReady = false;

/** Propagation and context always (a subgraph passes a caller's trace on); a recording provider only when exporting. */
export function initTracing(service: string, exporter?: SpanExporter): void {
  if (!propagationReady) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    propagationReady = true;
  }
  const endpoint = config().OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? config().OTEL_EXPORTER_OTLP_ENDPOINT;
  if (provider || (!exporter && !endpoint)) return;
  provider = new BasicTracerProvider({
    resource: new Resource({ 'service.name': config().OTEL_SERVICE_NAME ?? `usagegraph-${service}` }),
  });
  // OTLPTraceExporter reads the OTEL_EXPORTER_OTLP_* variables itself (endpoint, headers, timeout).
  provider.addSpanProcessor(
    exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter()),
  );
  trace.setGlobalTracerProvider(provider);
}

export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/** Flushes and stops exporting (at shutdown). */
export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
}

export const tracer = (): Tracer => trace.getTracer('usagegraph');

/** A SERVER span per HTTP request, a child of the caller's `traceparent` when there is one. */
export function traceRequests(service: string): RequestHandler {
  return (req, res, next) => {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer().startSpan(
      `${req.method} ${req.path}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.path': req.path, 'usagegraph.service': service },
      },
      parent,
    );
    res.on('finish', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    res.on('close', () => span.isRecording() && span.end());
    context.with(trace.setSpan(parent, span), () => next());
  };
}

/** A CLIENT span around an outgoing call; `headers` get the `traceparent` that makes the callee's span its child. */
export async function withClientSpan<T>(
  name: string,
  attributes: Record<string, string>,
  headers: Record<string, string>,
  call: () => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span: Span) => {
    propagation.inject(context.active(), headers);
    try {
      return await call();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks the current server span with the request's correlation id and operation. */
export function annotateCurrentSpan(attributes: Record<string, string | undefined>): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) span.setAttribute(k, v);
}

/** One CLIENT span per database command, a child of whatever span was active when the driver sent it. */
export function traceMongo(client: MongoClient): void {
  if (!tracingEnabled()) return;
  const open = new Map<number, { span: Span }>();
  client.on('commandStarted', (event) => {
    const parent: Context = context.active();
    if (!trace.getSpan(parent)) return; // work outside any trace (background polling) is not traced
    const collection = event.command[event.commandName];
    const span = tracer().startSpan(
      `mongodb.${event.commandName}${typeof collection === 'string' ? ` ${collection}` : ''}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system': 'mongodb',
          'db.namespace': event.databaseName,
          'db.operation.name': event.commandName,
          ...(typeof collection === 'string' ? { 'db.collection.name': collection } : {}),
        },
      },
      parent,
    );
    open.set(event.requestId, { span });
  });
  const finish = (requestId: number, error?: string) => {
    const entry = open.get(requestId);
    if (!entry) return;
    open.delete(requestId);
    if (error) entry.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    entry.span.end();
  };
  client.on('commandSucceeded', (event) => finish(event.requestId));
  client.on('commandFailed', (event) => finish(event.requestId, event.failure.message));
}
