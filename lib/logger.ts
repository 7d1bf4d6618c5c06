// Structured JSON logs (pino); every line carries the service and the current correlation id. Logs never hold payloads,
// credentials or the install's paths: errors are reduced to a labelled excerpt, known secret fields are redacted.
import { config } from './config';
import { resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { currentCorrelationId } from './correlation';

export type { Logger };

/** The project root, stripped from stacks so a log line never tells where the install lives. */
const ROOT = resolve(__dirname, '..');

/** Characters of an error message kept: enough to know what failed, too few to carry a payload. */
export const MESSAGE_EXCERPT = 160;
const STACK_FRAMES = 12;

/** Fields that may hold credentials or payloads, at the top level or one level down. */
export const REDACTED_PATHS = [
  'authorization',
  'cookie',
  'password',
  'secret',
  'token',
  'apiKey',
  'api_key',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'variables',
  'payload',
  'body',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.api_key',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-api-key"]',
  '*.variables',
  '*.payload',
  '*.body',
];

/** A message cut to an excerpt that says it was cut. */
export function excerpt(text: string, max = MESSAGE_EXCERPT): string {
  return text.length > max ? `${text.slice(0, max)}… [excerpt: ${max} of ${text.length} characters]` : text;
}

/** Paths inside the install, relative to it. */
const relative = (text: string) =>
  text.split(`file://${ROOT}/`).join('').split(`${ROOT}/`).join('').split(ROOT).join('.');

/** Stack frames without the message (which may quote input) and with paths relative to the project root. */
export function safeStack(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  return stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, STACK_FRAMES)
    .map(relative)
    .join('\n');
}

/**
 * An error as a log line may show it: its type, a message excerpt, its code and a relative stack — never the
 * enumerable extras (a driver's failed document, a body parser's raw body), which can be whole payloads.
 */
export function safeError(error: unknown, depth = 0): Record<string, unknown> | string {
  if (!(error instanceof Error)) return excerpt(String(error));
  const e = error as Error & { code?: unknown; codeName?: unknown; status?: unknown; cause?: unknown };
  const out: Record<string, unknown> = {
    type: e.constructor?.name ?? 'Error',
    message: excerpt(relative(e.message)),
    stack: safeStack(e.stack),
  };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (typeof e.codeName === 'string') out.codeName = e.codeName;
  if (typeof e.status === 'number') out.status = e.status;
  if (e.cause !== undefined && depth < 2) out.cause = safeError(e.cause, depth + 1);
  return out;
}

/**
 * One asynchronous stdout writer per process: a log line never blocks a request on the pipe to the launcher; pino
 * flushes what is pending when the process exits (a SIGKILL can lose the last few lines).
 */
let stdout: pino.DestinationStream | undefined;
const destination = () => (stdout ??= pino.destination({ dest: 1, sync: false }));

export function createLogger(service: string): Logger {
  return pino(
    {
      name: service,
      level: config().LOG_LEVEL,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: safeError, error: safeError },
      mixin() {
        const correlationId = currentCorrelationId();
        return correlationId ? { correlationId } : {};
      },
    },
    destination(),
  );
}
