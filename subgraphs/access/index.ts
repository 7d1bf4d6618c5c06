// The access subgraph: API keys, the audit trail and the record of operations; the gateway authenticates through it.
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import { repeatInBackground } from '../../lib/background';
import { UserFacingError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { apiKey, apiKeys, authenticateApiKey, createApiKey, revokeApiKey, toEnum } from './api-keys';
import { auditEvents, completeAuditEvent, recordAuditEvent, type AuditEventInput } from './audit-log';
import { operationUsage, pruneOperationUsage, recordOperationUsage, type OperationUsageInput } from './operation-usage';
import { accessStore, indexes, type AccessStore } from './store';

interface Services {
  store: AccessStore;
  log: Logger;
}

type Context = BaseContext & Services;

/** Internal fields answer only the system's own services (the gateway signs as one). */
function requireService(ctx: Context): void {
  if (ctx.principal.via !== 'service') {
    throw new UserFacingError('FORBIDDEN', 'this field is for the gateway only', { field: 'internal' });
  }
}

export const accessSubgraph: SubgraphDefinition<Services, Context> = {
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
      viewer: (_: unknown, __: unknown, ctx: Context) => ({
        subject: ctx.principal.onBehalfOf ?? ctx.principal.subject,
        name: ctx.principal.name,
        authenticatedBy:
          ctx.principal.via === 'oidc' ? 'OIDC' : ctx.principal.via === 'api-key' ? 'API_KEY' : 'SERVICE',
        roles: ctx.principal.roles.map(toEnum),
        scopes: ctx.principal.scopes.filter((s) => !['audit', 'platform', 'internal'].includes(s)).map(toEnum),
      }),
      apiKeys: (_: unknown, args: { includeInactive?: boolean; first?: number; after?: string }, ctx: Context) =>
        apiKeys(ctx.store, args),
      apiKey: (_: unknown, { id }: { id: string }, ctx: Context) => apiKey(ctx.store, id),
      auditEvents: (_: unknown, args: Parameters<typeof auditEvents>[1], ctx: Context) => auditEvents(ctx.store, args),
      operationUsage: (_: unknown, { days }: { days: number }, ctx: Context) => operationUsage(ctx.store, days),
      authenticateApiKey: async (_: unknown, { secret }: { secret: string }, ctx: Context) => {
        requireService(ctx);
        return authenticateApiKey(ctx.store, secret);
      },
    },
    Mutation: {
      createApiKey: (_: unknown, { input }: { input: unknown }, ctx: Context) =>
        createApiKey(ctx.store, input, ctx.principal, ctx.correlationId),
      revokeApiKey: (_: unknown, { id, reason }: { id: string; reason: string }, ctx: Context) =>
        revokeApiKey(ctx.store, id, reason, ctx.principal),
      recordAuditEvent: (_: unknown, { input }: { input: AuditEventInput }, ctx: Context) => {
        requireService(ctx);
        return recordAuditEvent(ctx.store, input, ctx.correlationId);
      },
      completeAuditEvent: (
        _: unknown,
        a: { id: string; outcome: 'SUCCEEDED' | 'FAILED'; errorCodes: string[] },
        ctx: Context,
      ) => {
        requireService(ctx);
        return completeAuditEvent(ctx.store, a.id, a.outcome, a.errorCodes);
      },
      recordOperationUsage: (_: unknown, { records }: { records: OperationUsageInput[] }, ctx: Context) => {
        requireService(ctx);
        return recordOperationUsage(ctx.store, records);
      },
    },
    ApiKey: {
      __resolveReference: (ref: { id: string }, ctx: Context) => apiKey(ctx.store, ref.id),
    },
  },
};
