// How this system's processes POST to a subgraph: one keep-alive connection pool per process (undici), timeouts set on
// the pool instead of an AbortSignal per request, the caller's cancellation passed on, and identical queries in flight
// at the same time sent once. Global fetch cost the gateway more than Apollo Gateway's whole request handling did.
import { config } from './config';
import { Agent, request as undiciRequest } from 'undici';

export interface SubgraphPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The caller went away: stop waiting (a shared request stops when every caller sharing it has gone). */
  signal?: AbortSignal;
  /** Share the answer with identical requests in flight (same URL, headers that say who asks, and body). */
  dedupeKey?: string;
  /** How long to wait for the subgraph; USAGEGRAPH_SUBGRAPH_TIMEOUT_MS (30 s) when not given. */
  timeoutMs?: number;
}

/** What Apollo's RemoteGraphQLDataSource reads from a fetch response, and what querySubgraph needs. */
export interface SubgraphAnswer {
  ok: boolean;
  status: number;
  statusText: string;
  url: string;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export class SubgraphTimeoutError extends Error {
  override name = 'TimeoutError';
}

const defaultTimeoutMs = (): number => config().USAGEGRAPH_SUBGRAPH_TIMEOUT_MS;

const pools = new Map<number, Agent>();

/** One pool per time limit (a process uses one or two). */
function pool(timeout: number): Agent {
  let agent = pools.get(timeout);
  if (!agent) {
    // headersTimeout bounds the wait for an answer, bodyTimeout a stalled answer: together the subgraph's time limit.
    agent = new Agent({ keepAliveTimeout: 30_000, headersTimeout: timeout, bodyTimeout: timeout, connections: 128 });
    pools.set(timeout, agent);
  }
  return agent;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

async function send(post: SubgraphPost, signal: AbortSignal | undefined): Promise<RawAnswer> {
  const timeout = post.timeoutMs ?? defaultTimeoutMs();
  try {
    const response = await undiciRequest(post.url, {
      method: 'POST',
      headers: post.headers,
      body: post.body,
      signal,
      dispatcher: pool(timeout),
    });
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code && TIMEOUT_CODES.has(code)) {
      throw new SubgraphTimeoutError(`the subgraph did not answer within ${timeout} ms`, { cause: error });
    }
    if (signal?.aborted) {
      const cancelled = new Error('the request was cancelled by its caller', { cause: error });
      cancelled.name = 'AbortError';
      throw cancelled;
    }
    throw error;
  }
}

interface Shared {
  answer: Promise<RawAnswer>;
  controller: AbortController;
  waiting: number;
}

const inFlight = new Map<string, Shared>();
let shared = 0;

/** How many requests were answered by sharing another's (for the benchmark and the metrics). */
export const sharedRequestCount = (): number => shared;

function answerOf(url: string, raw: RawAnswer): SubgraphAnswer {
  return {
    ok: raw.status >= 200 && raw.status < 300,
    status: raw.status,
    statusText: String(raw.status),
    url,
    headers: {
      get(name: string) {
        const value = raw.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    text: async () => raw.text,
    json: async () => JSON.parse(raw.text) as unknown,
  };
}

/** Waits for a shared request; this caller leaving does not stop it for the others. */
function join(entry: Shared, signal: AbortSignal | undefined): Promise<RawAnswer> {
  entry.waiting++;
  if (!signal) return entry.answer;
  return new Promise<RawAnswer>((resolve, reject) => {
    const leave = () => {
      if (--entry.waiting === 0) entry.controller.abort();
      const cancelled = new Error('the request was cancelled by its caller');
      cancelled.name = 'AbortError';
      reject(cancelled);
    };
    if (signal.aborted) return leave();
    signal.addEventListener('abort', leave, { once: true });
    entry.answer.then(
      (answer) => {
        signal.removeEventListener('abort', leave);
        resolve(answer);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', leave);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export async function postToSubgraph(post: SubgraphPost): Promise<SubgraphAnswer> {
  if (!post.dedupeKey) return answerOf(post.url, await send(post, post.signal));
  const running = inFlight.get(post.dedupeKey);
  if (running) {
    shared++;
    return answerOf(post.url, await join(running, post.signal));
  }
  const controller = new AbortController();
  const entry: Shared = { controller, waiting: 0, answer: send(post, controller.signal) };
  inFlight.set(post.dedupeKey, entry);
  const forget = () => inFlight.delete(post.dedupeKey!);
  entry.answer.then(forget, forget);
  return answerOf(post.url, await join(entry, post.signal));
}

/** Only queries are merged: a mutation sent once for two callers would do one change where two were asked. */
export function isQueryBody(body: string): boolean {
  return /^\{"query":"\s*(query\b|\{)/.test(body);
}
