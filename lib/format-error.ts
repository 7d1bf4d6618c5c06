// What a client sees of an error: anything with a stable code passes through; anything unexpected is logged and masked.
import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { currentCorrelationId } from './correlation';
import type { Logger } from './logger';
import {
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';

/**
 * Errors we raise on purpose carry a code (VALIDATION_FAILED, NOT_FOUND, …), as do GraphQL's own and those a subgraph
 * already formatted. Only INTERNAL_SERVER_ERROR — a bug, a driver message, a stack — is replaced by a pointer to the logs.
 */
export function formatErrorForClients(log: Logger) {
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
      log.warn({ err: cause, path: formatted.path, code: known.code }, known.message);
      return {
        message: known.message,
        path: formatted.path,
        extensions: { code: known.code, retryable: true, correlationId },
      };
    }
    log.error({ err: cause, path: formatted.path }, 'unexpected error');
    return {
      message: `Internal error; the details are in the service logs under correlation id ${correlationId ?? 'unknown'}`,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId },
    };
  };
}

/** Failures that are not bugs: the database is down or slow, or the caller gave up. Each has a stable, retryable code. */
function knownFailure(error: unknown): { code: string; message: string } | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ABORT_ERR') {
    return { code: 'REQUEST_CANCELLED', message: 'the request was cancelled because the caller went away' };
  }
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
    error instanceof MongoTopologyClosedError
  ) {
    return { code: 'DATABASE_UNAVAILABLE', message: 'the database is unreachable; retry shortly' };
  }
  return undefined;
}
