// What a client sees of an error: user-facing codes pass through; anything unexpected is logged and masked.
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { currentCorrelationId } from './correlation';
import type { Logger } from './logger';

const PASS_THROUGH = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE', 'BAD_REQUEST']);

export function formatErrorForClients(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const code = formatted.extensions?.code;
    const isUserFacing =
      (original instanceof GraphQLError && typeof original.extensions?.code === 'string' && original.extensions.code !== 'INTERNAL_SERVER_ERROR') ||
      (typeof code === 'string' && PASS_THROUGH.has(code));
    if (isUserFacing) {
      const { stacktrace: _ignored, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    const correlationId = currentCorrelationId();
    log.error({ err: original, path: formatted.path }, 'unexpected error in resolver');
    return {
      message: `Internal error; the details are in the service logs under correlation id ${correlationId ?? 'unknown'}`,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId },
    };
  };
}
