// What a client sees of an error: anything with a stable code passes through; anything unexpected is logged and masked.
import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { currentCorrelationId } from './correlation';
import type { Logger } from './logger';

/**
 * Errors we raise on purpose carry a code (VALIDATION_FAILED, NOT_FOUND, …), as do GraphQL's own and those a subgraph
 * already formatted. Only INTERNAL_SERVER_ERROR — a bug, a driver message, a stack — is replaced by a pointer to the logs.
 */
/** Unexpected errors logged in full per response; the rest are counted in one line. */
export const LOGGED_ERRORS_PER_RESPONSE = 3;

export function formatErrorForClients(log: Logger) {
  // A list of 200,000 entries that all fail is formatted as 200,000 errors in one synchronous pass: counted per
  // correlation id, and the count logged once that pass is over, instead of one line (and one stack) per entry.
  const counts = new Map<string, number>();
  const logUnexpected = (key: string, entry: () => Record<string, unknown>) => {
    const seen = (counts.get(key) ?? 0) + 1;
    counts.set(key, seen);
    if (seen === 1)
      setImmediate(() => {
        const total = counts.get(key) ?? 0;
        counts.delete(key);
        if (total > LOGGED_ERRORS_PER_RESPONSE)
          log.error(
            { unexpectedErrors: total, logged: LOGGED_ERRORS_PER_RESPONSE },
            'more unexpected errors in the same response; only the first were logged',
          );
      });
    if (seen <= LOGGED_ERRORS_PER_RESPONSE) log.error(entry(), 'unexpected error');
  };
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') {
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    const correlationId = currentCorrelationId();
    logUnexpected(correlationId ?? 'unknown', () => ({ err: unwrapResolverError(error), path: formatted.path }));
    return {
      message: `Internal error; the details are in the service logs under correlation id ${correlationId ?? 'unknown'}`,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId },
    };
  };
}
