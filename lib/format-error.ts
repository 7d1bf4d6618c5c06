// What a client sees of an error: anything with a stable code passes through; anything unexpected is logged and masked.
import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { currentCorrelationId } from './correlation';
import type { Logger } from './logger';
import {
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';

/** Unexpected errors logged in full per response; the rest are counted in one line. */
export const LOGGED_ERRORS_PER_RESPONSE = 3;

/**
 * Errors we raise on purpose carry a code (VALIDATION_FAILED, NOT_FOUND, …), as do GraphQL's own and those a subgraph
 * already formatted. Only INTERNAL_SERVER_ERROR — a bug, a driver message, a stack — is replaced by a pointer to the logs.
 */
export function formatErrorForClients(log: Logger) {
  // A list of 200,000 entries that all fail is formatted as 200,000 errors in one synchronous pass: counted per
  // correlation id, and the count logged once that pass is over, instead of one line (and one stack) per entry.
  const counts = new Map<string, number>();
  const logUnexpected = (
    key: string,
    entry: () => Record<string, unknown>,
    level: 'error' | 'warn' = 'error',
    message = 'unexpected error',
  ) => {
    // Counted apart by level: a response's cancelled reads (warnings) do not swell a count of bugs.
    const counted = `${level}/${key}`;
    const seen = (counts.get(counted) ?? 0) + 1;
    counts.set(counted, seen);
    if (seen === 1)
      setImmediate(() => {
        const total = counts.get(counted) ?? 0;
        counts.delete(counted);
        if (total > LOGGED_ERRORS_PER_RESPONSE)
          log[level](
            { [level === 'error' ? 'unexpectedErrors' : 'failures']: total, logged: LOGGED_ERRORS_PER_RESPONSE },
            'more failed entries in the same response; only the first were logged',
          );
      });
    if (seen <= LOGGED_ERRORS_PER_RESPONSE) log[level](entry(), message);
  };
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') {
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    const correlationId = currentCorrelationId();
    const cause = unwrapResolverError(error);
    const known = knownFailure(cause);
    if (known) {
      logUnexpected(
        correlationId ?? 'unknown',
        () => ({ err: cause, path: formatted.path, code: known.code }),
        'warn',
        known.message,
      );
      return {
        message: known.message,
        path: formatted.path,
        extensions: { code: known.code, retryable: true, correlationId },
      };
    }
    logUnexpected(correlationId ?? 'unknown', () => ({ err: cause, path: formatted.path }));
    return {
      message: `Internal error; the details are in the service logs under correlation id ${correlationId ?? 'unknown'}`,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId },
    };
  };
}

/** Failures that are not bugs: the database is down or slow, or the caller gave up. Each has a stable, retryable code. */
export function knownFailure(error: unknown, depth = 0): { code: string; message: string } | undefined {
  // An abort's reason is a DOMException (an Error in Node, though not always of the same realm): checked by name.
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  if (name === 'AbortError' || code === 'ABORT_ERR') {
    return { code: 'REQUEST_CANCELLED', message: 'the request was cancelled because the caller went away' };
  }
  if (!(error instanceof Error)) return undefined;
  if (error instanceof MongoServerError && error.code === 50) {
    return {
      code: 'DATABASE_TIMEOUT',
      message: `a database query ran over its time limit; ask for less (a smaller page) or retry`,
    };
  }
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoServerClosedError ||
    error instanceof MongoOperationTimeoutError ||
    // The driver labels what failed for want of a server (a write cut off by a dropped connection, a pool cleared).
    (error instanceof MongoError && (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('ResetPool')))
  ) {
    return { code: 'DATABASE_UNAVAILABLE', message: 'the database is unreachable; retry shortly' };
  }
  // Our own code may wrap the driver's error: what matters is what caused it.
  return error.cause !== undefined && depth < 5 ? knownFailure(error.cause, depth + 1) : undefined;
}
