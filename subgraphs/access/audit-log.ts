// Use cases: the audit trail. The gateway records each change before it runs and its outcome after; both are inserts,
// so the trail is append-only and a crash in between leaves an event whose outcome reads UNKNOWN.
import type { Filter } from 'mongodb';
import { isDuplicateKeyError } from '../../lib/mongo';
import { pageBy, type Page, type SortOrder } from '../../lib/pagination';
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

/** Audit ids sort by time, so newest first is descending ids. */
const NEWEST_FIRST: SortOrder = [['_id', -1]];

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
  const f = args.filter ?? {};
  const filter: Filter<AuditEventDoc> = {};
  if (f.subject) filter.subject = f.subject;
  if (f.field) filter.fields = f.field;
  if (f.from || f.to) filter.at = { ...(f.from ? { $gte: f.from } : {}), ...(f.to ? { $lt: f.to } : {}) };
  const page = await pageBy(store.audit, filter, NEWEST_FIRST, args.first, args.after);
  const outcomes = new Map(
    (page.nodes.length ? await store.outcomes.find({ _id: { $in: page.nodes.map((d) => d._id) } }).toArray() : []).map(
      (o) => [o._id, o],
    ),
  );
  return {
    nodes: page.nodes.map(({ _id, variables, ...rest }) => {
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
    pageInfo: page.pageInfo,
  };
}
