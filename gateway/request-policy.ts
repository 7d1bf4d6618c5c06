// What the gateway decides about an operation before it runs: the contract version it came through allows it, the
// caller's roles allow every field (categories from the supergraph's @tag declarations), it stays within its cost
// limits; then it is counted for schema checks and, if it changes anything, written to the audit trail.
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, Kind, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { reviewOperation } from '../lib/authorization';
import type { Logger } from '../lib/logger';
import { limitsFor } from '../lib/operation-limits';
import { excludedCategories, isPlatform, type Principal } from '../lib/principal';
import { querySubgraph } from '../lib/subgraph-client';
import type { OperationRecord } from './operation-record';
import type { GatewayContext } from './subgraph-data-source';

export interface PolicySchemas {
  /** The served supergraph as a schema that keeps its @tag declarations. */
  review(): GraphQLSchema;
  /** The released schema of a contract path (`finance/v1`), or undefined when the path serves no version. */
  contract(path: string): GraphQLSchema | undefined;
}

/** Mutations that only carry telemetry are counted, not audited: the audit trail is for changes to governed data. */
const UNAUDITED_MUTATIONS = new Set(['ingestUsageEvents']);
const SECRET_NAME = /secret|password|passphrase|token|api_?key|authorization|credential|private/i;
const MAX_AUDITED_VARIABLES = 20_000;

/** Variables as the audit trail keeps them: secrets replaced, very large values cut with a marker. */
export function auditableVariables(variables: Record<string, unknown> | undefined): unknown {
  const redact = (value: unknown, depth: number): unknown => {
    if (depth > 8) return '[nested too deep]';
    if (Array.isArray(value)) return value.slice(0, 100).map((v) => redact(v, depth + 1));
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [
          k,
          SECRET_NAME.test(k) ? '[redacted]' : redact(v, depth + 1),
        ]),
      );
    }
    return typeof value === 'string' && value.length > 2_000 ? `${value.slice(0, 2_000)}…[truncated]` : value;
  };
  const cleaned = redact(variables ?? {}, 0);
  const text = JSON.stringify(cleaned);
  return text.length > MAX_AUDITED_VARIABLES ? { truncated: text.slice(0, MAX_AUDITED_VARIABLES) } : cleaned;
}

/**
 * Apollo Server keeps one parsed DocumentNode per distinct query text, so what depends only on the document, the schema
 * and the caller is worked out once per document and reused; a hot reload brings new schema objects and starts afresh.
 */
class PerDocument<T> {
  private readonly bySchema = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, T>>>();

  get(schema: GraphQLSchema, document: DocumentNode, key: string, compute: () => T): T {
    let byDocument = this.bySchema.get(schema);
    if (!byDocument) this.bySchema.set(schema, (byDocument = new WeakMap()));
    let entries = byDocument.get(document);
    if (!entries) byDocument.set(document, (entries = new Map()));
    const known = entries.get(key);
    if (known !== undefined) return known;
    const value = compute();
    if (entries.size >= 64) entries.clear(); // one document sent with ever-new variables must not grow without bound
    entries.set(key, value);
    return value;
  }
}

/** Variables larger than this are reviewed afresh each time rather than kept as part of a key. */
const MAX_REMEMBERED_VARIABLES = 2_048;

const who = (p: Principal) => `${p.name} (roles: ${p.roles.join(', ') || 'none'})`;

function refuse(message: string, code: string, status: number, extensions: Record<string, unknown> = {}): never {
  throw new GraphQLError(message, { extensions: { code, ...extensions, http: { status } } });
}

const rootFields = (document: DocumentNode, operationName: string | null | undefined): string[] => {
  const operation = document.definitions.find(
    (d) => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  return operation?.kind === Kind.OPERATION_DEFINITION
    ? operation.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : []))
    : [];
};

export function requestPolicy(options: {
  schemas: PolicySchemas;
  record: OperationRecord;
  log: Logger;
  introspectionForAll: boolean;
}): ApolloServerPlugin<GatewayContext> {
  const { schemas, record, log } = options;
  const contractErrors = new PerDocument<readonly { message: string }[]>();
  const reviews = new PerDocument<ReturnType<typeof reviewOperation>>();
  return {
    async requestDidStart() {
      let auditId: string | undefined;
      return {
        async didResolveOperation({ document, operation, request, contextValue }) {
          const { principal, contract } = contextValue;
          if (!operation) return;
          if (contract !== 'full') {
            const schema = schemas.contract(contract);
            if (!schema) {
              refuse(
                `the contract version ${contract} is not served: never released, or past its sunset`,
                'NOT_FOUND',
                404,
                {
                  expected: 'a released, supported version (see schema/releases/<contract>/versions.json)',
                },
              );
            }
            // graphql-js 16 validates fields only: a contract without mutations must refuse a mutation itself.
            const errors = schema.getRootType(operation.operation)
              ? contractErrors.get(schema, document, '', () => validate(schema, document))
              : [{ message: `the contract has no ${operation.operation} operations` }];
            if (errors.length > 0) {
              refuse(
                `not part of the ${contract} contract: ${errors.map((e) => e.message).join('; ')}`,
                'GRAPHQL_VALIDATION_FAILED',
                400,
                { contract, expected: `an operation valid against schema/releases/${contract.split('/')[0]}` },
              );
            }
          }
          const input = {
            schema: schemas.review(),
            document,
            operationName: request.operationName,
            variables: request.variables,
            excluded: excludedCategories(principal),
            who: who(principal),
            allowIntrospection: options.introspectionForAll || isPlatform(principal),
            limits: limitsFor(principal),
          };
          const variables = JSON.stringify(request.variables ?? {});
          const review =
            variables.length > MAX_REMEMBERED_VARIABLES
              ? reviewOperation(input)
              : reviews.get(
                  input.schema,
                  document,
                  [
                    request.operationName ?? '',
                    [...input.excluded].sort().join(','),
                    input.who,
                    input.allowIntrospection,
                    JSON.stringify(input.limits),
                    variables,
                  ].join('\u001f'),
                  () => reviewOperation(input),
                );
          if (review.refusal) {
            const { code, message, field, extensions } = review.refusal;
            refuse(message, code, code === 'FORBIDDEN' ? 403 : 400, { field, ...extensions });
          }
          record.count({
            document,
            operationName: request.operationName ?? operation.name?.value ?? null,
            coordinates: review.coordinates,
            client: contextValue.clientName ?? principal.subject,
            contract,
          });
          if (operation.operation !== 'mutation') return;
          const fields = rootFields(document, request.operationName);
          if (fields.every((f) => UNAUDITED_MUTATIONS.has(f))) return;
          try {
            const { recordAuditEvent } = await querySubgraph<{ recordAuditEvent: string }>(
              'access',
              'mutation($i: AuditEventInput!) { recordAuditEvent(input: $i) }',
              {
                i: {
                  subject: principal.subject,
                  subjectName: principal.name,
                  roles: principal.roles,
                  operationName: request.operationName ?? null,
                  fields,
                  variables: auditableVariables(request.variables),
                  client: contextValue.clientName ?? null,
                },
              },
            );
            auditId = recordAuditEvent;
          } catch (error) {
            log.error({ err: error }, 'could not write the audit trail; the change was refused');
            refuse('the audit trail cannot be written, so no change is made; retry shortly', 'AUDIT_UNAVAILABLE', 503, {
              retryable: true,
            });
          }
        },
        async willSendResponse({ response, errors }) {
          if (!auditId) return;
          const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const all = [...(errors ?? []), ...(body?.errors ?? [])];
          const codes = [...new Set(all.map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))];
          await querySubgraph(
            'access',
            'mutation($id: ID!, $o: AuditOutcome!, $c: [String!]!) { completeAuditEvent(id: $id, outcome: $o, errorCodes: $c) }',
            { id: auditId, o: all.length > 0 ? 'FAILED' : 'SUCCEEDED', c: codes },
          ).catch((error) => log.error({ err: error, auditId }, 'could not record the outcome of an audited change'));
        },
      };
    },
  };
}
