// Finance's work queue: every business exception the stages raise (exception.raised / exception.resolved events),
// projected into one item each, with its assignee, age, status and resolution. The owners hold the records and run
// the resolutions; the queue only says what is open, who works on it, and how it ended. Dismissal is the queue's own.
import { z } from 'zod';
import { UserFacingError, notFound, parseInput } from '../../lib/errors';
import type { Money } from '../../lib/money';
import type { BusinessEventDoc, EventsStore, WorkItemChange, WorkItemDoc } from './store';

const HISTORY_LIMIT = 50;

const text = (value: unknown, fallback: string): string =>
  typeof value === 'string' && value.trim() ? value.trim().slice(0, 2_000) : fallback;

const isMoney = (m: unknown): m is Money =>
  !!m && typeof m === 'object' && typeof (m as Money).amount === 'string' && typeof (m as Money).currency === 'string';

/** Names an owner sends beside the standard fields, kept as references when they are plain strings. */
const REFERENCE_FIELDS = ['customerKey', 'customerId', 'subscriptionId', 'period', 'invoiceId', 'postingId'];

function referencesOf(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const given = data.references;
  if (given && typeof given === 'object' && !Array.isArray(given)) {
    for (const [k, v] of Object.entries(given)) if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
  }
  for (const k of REFERENCE_FIELDS) if (typeof data[k] === 'string' && !(k in out)) out[k] = data[k] as string;
  return out;
}

/** Reads a raise leniently: an owner that sends only its own fields still gets a readable item. */
export function describeRaise(event: Pick<BusinessEventDoc, 'data' | 'subject'>) {
  const data = event.data;
  const kind = text(data.kind, 'UNSPECIFIED');
  const heldIn = (data.held && typeof data.held === 'object' ? data.held : {}) as Record<string, unknown>;
  const periods = Array.isArray(data.periods) ? data.periods.filter((p) => typeof p === 'string') : [];
  const count =
    typeof heldIn.count === 'number' && Number.isFinite(heldIn.count)
      ? Math.max(0, Math.trunc(heldIn.count))
      : periods.length;
  return {
    kind,
    problem: text(data.problem ?? data.message, `${kind.toLowerCase().replace(/_/g, ' ')} (see details)`),
    remedy: text(data.remedy, 'see the details; the owning stage names the fix'),
    held: {
      count,
      unit: text(heldIn.unit, periods.length ? 'periods' : 'records'),
      amounts: Array.isArray(heldIn.amounts) ? heldIn.amounts.filter(isMoney).slice(0, 20) : [],
      quantity: typeof heldIn.quantity === 'string' ? heldIn.quantity : null,
    },
    references: referencesOf(data),
    sampleRecordIds: Array.isArray(data.sampleRecordIds)
      ? data.sampleRecordIds.filter((x): x is string => typeof x === 'string').slice(0, 20)
      : [],
  };
}

const withChange = (doc: WorkItemDoc, change: WorkItemChange): WorkItemChange[] =>
  [...doc.history, change].slice(-HISTORY_LIMIT);

/** The item after a raise at `event.occurredAt`: new, refreshed, or reopened if it had been resolved before. */
export function applyRaise(existing: WorkItemDoc | null, event: BusinessEventDoc): WorkItemDoc {
  const at = event.occurredAt;
  const described = describeRaise(event);
  if (!existing) {
    return {
      _id: event.subject,
      source: event.source,
      status: 'OPEN',
      ...described,
      data: event.data,
      raisedAt: at,
      lastRaisedAt: at,
      assignee: null,
      assignedAt: null,
      resolution: null,
      dismissal: null,
      history: [{ at, what: 'RAISED', by: event.actor, detail: described.problem }],
      correlationId: event.correlationId,
      updatedAt: new Date(),
    };
  }
  if (at < existing.lastRaisedAt) return existing; // an older state arriving late changes nothing
  const reopens = existing.status === 'RESOLVED' && existing.resolution && at > existing.resolution.at;
  if (reopens) {
    return {
      ...existing,
      ...described,
      data: event.data,
      status: existing.assignee ? 'IN_PROGRESS' : 'OPEN',
      raisedAt: at,
      lastRaisedAt: at,
      resolution: null,
      history: withChange(existing, { at, what: 'RAISED_AGAIN', by: event.actor, detail: described.problem }),
      correlationId: event.correlationId,
      updatedAt: new Date(),
    };
  }
  return {
    ...existing,
    ...described,
    data: event.data,
    lastRaisedAt: at,
    history: withChange(existing, {
      at,
      what: 'UPDATED',
      by: event.actor,
      detail: `now holds ${described.held.count} ${described.held.unit}`,
    }),
    updatedAt: new Date(),
  };
}

/** The item after the owner resolved it: who, how, and what ran afterwards. */
export function applyResolution(existing: WorkItemDoc | null, event: BusinessEventDoc): WorkItemDoc | null {
  const at = event.occurredAt;
  const data = event.data;
  const base =
    existing ??
    applyRaise(null, { ...event, data: { ...data, problem: data.problem ?? 'resolved before it was seen' } });
  if (base.status === 'RESOLVED' && base.resolution && base.resolution.at >= at) return existing;
  if (at < base.lastRaisedAt) return existing; // raised again after this resolution: still open
  const resolution = {
    action: text(data.action ?? data.resolution, 'RESOLVED'),
    detail: text(data.detail, 'resolved by its owner'),
    afterwards: text(data.afterwards, ''),
    by: typeof data.resolvedBy === 'string' ? data.resolvedBy : (event.actor ?? null),
    at,
  };
  return {
    ...base,
    status: 'RESOLVED',
    resolution,
    history: withChange(base, {
      at,
      what: 'RESOLVED',
      by: resolution.by,
      detail: [resolution.detail, resolution.afterwards].filter(Boolean).join('; '),
    }),
    updatedAt: new Date(),
  };
}

/**
 * Projects stored exception events into the queue. Idempotent: applying an event again changes nothing. A forwarded
 * batch takes every work item it touches at once (one lock read and insert, one read of the items, one write of those
 * that changed), the events applied in order: before, each event took its own lock, read and write.
 */
export async function projectExceptionEvents(store: EventsStore, events: BusinessEventDoc[]): Promise<void> {
  const exceptions = events.filter((e) => e.type === 'exception.raised' || e.type === 'exception.resolved');
  if (exceptions.length === 0) return;
  const ids = [...new Set(exceptions.map((e) => e.subject))];
  await store.locks.runAll(
    ids.map((id) => `work:${id}`),
    async () => {
      const stored = new Map((await store.workItems.find({ _id: { $in: ids } }).toArray()).map((d) => [d._id, d]));
      const items = new Map(stored);
      for (const event of exceptions) {
        const existing = items.get(event.subject) ?? null;
        const next = event.type === 'exception.raised' ? applyRaise(existing, event) : applyResolution(existing, event);
        if (next) items.set(event.subject, next);
      }
      const changed = [...items.values()].filter((item) => item !== stored.get(item._id));
      if (changed.length > 0)
        await store.workItems.bulkWrite(
          changed.map((item) => ({ replaceOne: { filter: { _id: item._id }, replacement: item, upsert: true } })),
          { ordered: false },
        );
    },
  );
}

const assigneeInput = z.string().trim().min(1, 'name who works on it').max(200).nullable();
const reasonInput = z.string().trim().min(3, 'say why, in a few words').max(2_000);

async function change(store: EventsStore, id: string, update: (doc: WorkItemDoc) => WorkItemDoc): Promise<WorkItemDoc> {
  return store.locks.run(`work:${id}`, async () => {
    const doc = await store.workItems.findOne({ _id: id });
    if (!doc) throw notFound('work item', 'id', id);
    const next = update(doc);
    await store.workItems.replaceOne({ _id: id }, next);
    return next;
  });
}

const refuseClosed = (doc: WorkItemDoc, field: string) => {
  if (doc.status === 'RESOLVED' || doc.status === 'DISMISSED') {
    throw new UserFacingError('CONFLICT', `work item ${doc._id} is already ${doc.status.toLowerCase()}`, {
      field,
      expected: 'an OPEN or IN_PROGRESS work item',
    });
  }
};

/** Gives an item to someone (IN_PROGRESS), or back to the queue with null (OPEN). */
export function assignWorkItem(store: EventsStore, id: string, assignee: string | null, actor: string) {
  const input = { assignee: parseInput(assigneeInput, assignee, 'assignee') };
  const now = new Date();
  return change(store, id, (doc) => {
    refuseClosed(doc, 'id');
    return {
      ...doc,
      status: input.assignee ? 'IN_PROGRESS' : 'OPEN',
      assignee: input.assignee,
      assignedAt: input.assignee ? now : null,
      history: withChange(doc, {
        at: now,
        what: input.assignee ? 'ASSIGNED' : 'UNASSIGNED',
        by: actor,
        detail: input.assignee ? `assigned to ${input.assignee}` : 'back to the queue',
      }),
      updatedAt: now,
    };
  });
}

/** Closes an item without acting on its records (they stay held where they are), saying why. */
export function dismissWorkItem(store: EventsStore, id: string, reason: string, actor: string) {
  const input = { reason: parseInput(reasonInput, reason, 'reason') };
  const now = new Date();
  return change(store, id, (doc) => {
    refuseClosed(doc, 'id');
    return {
      ...doc,
      status: 'DISMISSED',
      dismissal: { reason: input.reason, by: actor, at: now },
      history: withChange(doc, { at: now, what: 'DISMISSED', by: actor, detail: input.reason }),
      updatedAt: now,
    };
  });
}
