// What a client sees of an error: anything with a stable code passes through; anything unexpected is logged and masked.
import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { currentCorrelationId } from './correlation';
import type { Logger } from './logger';

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
    log.error({ err: unwrapResolverError(error), path: formatted.path }, 'unexpected error');
    return {
      message: `Internal error; the details are in the service logs under correlation id ${correlationId ?? 'unknown'}`,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId },
    };
  };
}
