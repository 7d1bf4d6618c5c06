// The access subgraph: API keys, the audit trail and the record of operations; the gateway authenticates through it.
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import type { Resolvers } from './generated/resolvers-types';
import { repeatInBackground } from '../../lib/background';
import { UserFacingError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { apiKey, apiKeys, authenticateApiKey, createApiKey, revokeApiKey, toEnum } from './api-keys';
import { auditEvents, completeAuditEvent, recordAuditEvent } from './audit-log';
import { operationUsage, pruneOperationUsage, recordOperationUsage } from './operation-usage';
import { accessStore, indexes, type AccessStore, type KeyScope } from './store';

interface Services {
  store: AccessStore;
  log: Logger;
}

export type Context = BaseContext & Services;

/**
 * Key changes made through the gateway are in the audit trail already (the gateway writes every mutation); the
 * launcher and operators' tools mint keys straight at this subgraph, so those calls are recorded here.
 */
async function audited<T>(
  ctx: Context,
  field: string,
  variables: Record<string, unknown>,
  change: () => Promise<T>,
): Promise<T> {
  if (ctx.principal.via !== 'service' || ctx.principal.onBehalfOf) return change();
  const id = await recordAuditEvent(
    ctx.store,
    {
      subject: ctx.principal.subject,
      subjectName: ctx.principal.name,
      roles: [],
      fields: [field],
      variables,
      client: null,
    },
    ctx.correlationId,
  );
  try {
    const result = await change();
    await completeAuditEvent(ctx.store, id, 'SUCCEEDED', []);
    return result;
  } catch (error) {
    const code = (error as { extensions?: { code?: unknown } }).extensions?.code;
    await completeAuditEvent(ctx.store, id, 'FAILED', [typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR']);
    throw error;
  }
}

/** Internal fields answer only the system's own services (the gateway signs as one). */
function requireService(ctx: Context): void {
  if (ctx.principal.via !== 'service') {
    throw new UserFacingError('FORBIDDEN', 'this field is for the gateway only', { field: 'internal' });
  }
}

export const accessSubgraph: SubgraphDefinition<Services, Context, Resolvers> = {
  name: 'access',
  indexes,
  createServices: (db, log) => ({ store: accessStore(db), log }),
  createContext: (services, base) => ({ ...base, ...services }),
  startBackground: (s, log) =>
    repeatInBackground('operation usage pruning', 6 * 3_600_000, log, async () => {
      const pruned = await pruneOperationUsage(s.store);
      if (pruned > 0) log.info({ pruned }, 'forgot operation usage older than the retention');
    }),
  resolvers: {
    Query: {
      viewer: (_, __, ctx) => ({
        subject: ctx.principal.onBehalfOf ?? ctx.principal.subject,
        name: ctx.principal.name,
        authenticatedBy:
          ctx.principal.via === 'oidc' ? 'OIDC' : ctx.principal.via === 'api-key' ? 'API_KEY' : 'SERVICE',
        roles: ctx.principal.roles.map(toEnum),
        scopes: ctx.principal.scopes
          .filter((s): s is KeyScope => !['audit', 'platform', 'internal'].includes(s))
          .map(toEnum),
      }),
      apiKeys: (_, args, ctx) => apiKeys(ctx.store, args),
      apiKey: (_, { id }, ctx) => apiKey(ctx.store, id),
      auditEvents: (_, args, ctx) => auditEvents(ctx.store, args),
      operationUsage: (_, { days }, ctx) => operationUsage(ctx.store, days),
      authenticateApiKey: async (_, { secret }, ctx) => {
        requireService(ctx);
        return authenticateApiKey(ctx.store, secret);
      },
    },
    Mutation: {
      createApiKey: (_, { input }, ctx) =>
        audited(ctx, 'createApiKey', { input }, () => createApiKey(ctx.store, input, ctx.principal, ctx.correlationId)),
      revokeApiKey: (_, { id, reason }, ctx) =>
        audited(ctx, 'revokeApiKey', { id, reason }, () => revokeApiKey(ctx.store, id, reason, ctx.principal)),
      recordAuditEvent: (_, { input }, ctx) => {
        requireService(ctx);
        return recordAuditEvent(ctx.store, input, ctx.correlationId);
      },
      completeAuditEvent: (_, a, ctx) => {
        requireService(ctx);
        // UNKNOWN is what a read shows when no outcome was recorded; recording it would say the opposite.
        if (a.outcome === 'UNKNOWN') {
          throw new UserFacingError('VALIDATION_FAILED', 'outcome: UNKNOWN is not an outcome to record', {
            field: 'outcome',
            expected: 'SUCCEEDED or FAILED',
          });
        }
        return completeAuditEvent(ctx.store, a.id, a.outcome, a.errorCodes);
      },
      recordOperationUsage: (_, { records }, ctx) => {
        requireService(ctx);
        return recordOperationUsage(ctx.store, records);
      },
    },
    ApiKey: {
      __resolveReference: (ref, ctx) => apiKey(ctx.store, ref.id),
    },
  },
};
