// Use cases: the audit trail. The gateway records each change before it runs and its outcome after; both are inserts,
// so the trail is append-only and a crash in between leaves an event whose outcome reads UNKNOWN.
import type { Filter } from 'mongodb';
import { isDuplicateKeyError } from '../../lib/mongo';
import { decodeCursor, encodeCursor } from '../../lib/mongo';
import { pageSize, type Page } from '../../lib/pagination';
import type { AccessStore, AuditEventDoc, AuditOutcomeDoc } from './store';

export interface AuditEventInput {
  subject: string;
  subjectName: string;
  roles: string[];
  operationName?: string | null;
  fields: string[];
  variables: unknown;
  client?: string | null;
}

/** Time-sortable ids: 13 digits of milliseconds, then randomness, so newest-first is a descending _id order. */
const auditId = (at: Date) =>
  `aud_${String(at.getTime()).padStart(13, '0')}_${Math.random().toString(36).slice(2, 10).padEnd(8, '0')}`;

export async function recordAuditEvent(
  store: AccessStore,
  input: AuditEventInput,
  correlationId: string,
): Promise<string> {
  const at = new Date();
  const doc: AuditEventDoc = {
    _id: auditId(at),
    at,
    subject: input.subject,
    subjectName: input.subjectName,
    roles: input.roles,
    operationName: input.operationName ?? null,
    fields: input.fields,
    variables: JSON.stringify(input.variables ?? {}),
    client: input.client ?? null,
    correlationId,
  };
  await store.audit.insertOne(doc);
  return doc._id;
}

export async function completeAuditEvent(
  store: AccessStore,
  id: string,
  outcome: AuditOutcomeDoc['outcome'],
  errorCodes: string[],
): Promise<boolean> {
  try {
    await store.outcomes.insertOne({ _id: id, outcome, errorCodes, completedAt: new Date() });
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error; // a retried completion: the first one stands
  }
  return true;
}

export interface AuditEventView extends Omit<AuditEventDoc, '_id' | 'variables'> {
  id: string;
  variables: unknown;
  outcome: 'SUCCEEDED' | 'FAILED' | 'UNKNOWN';
  errorCodes: string[];
  completedAt: Date | null;
}

export async function auditEvents(
  store: AccessStore,
  args: {
    filter?: { subject?: string | null; field?: string | null; from?: Date | null; to?: Date | null } | null;
    first?: number | null;
    after?: string | null;
  },
): Promise<Page<AuditEventView>> {
  const size = pageSize(args.first);
  const f = args.filter ?? {};
  const conditions: Filter<AuditEventDoc>[] = [];
  if (f.subject) conditions.push({ subject: f.subject });
  if (f.field) conditions.push({ fields: f.field });
  if (f.from) conditions.push({ at: { $gte: f.from } });
  if (f.to) conditions.push({ at: { $lt: f.to } });
  const before = decodeCursor(args.after);
  if (before) conditions.push({ _id: { $lt: before } });
  const docs = await store.audit
    .find(conditions.length ? { $and: conditions } : {})
    .sort({ _id: -1 })
    .limit(size + 1)
    .toArray();
  const nodes = docs.slice(0, size);
  const outcomes = new Map(
    (await store.outcomes.find({ _id: { $in: nodes.map((d) => d._id) } }).toArray()).map((o) => [o._id, o]),
  );
  const last = nodes[nodes.length - 1];
  return {
    nodes: nodes.map(({ _id, variables, ...rest }) => {
      const outcome = outcomes.get(_id);
      return {
        ...rest,
        id: _id,
        variables: JSON.parse(variables) as unknown,
        outcome: outcome?.outcome ?? 'UNKNOWN',
        errorCodes: outcome?.errorCodes ?? [],
        completedAt: outcome?.completedAt ?? null,
      };
    }),
    pageInfo: { hasNextPage: docs.length > size, endCursor: last ? encodeCursor(last._id) : null },
  };
}
