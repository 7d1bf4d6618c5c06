// What the usage stage tells finance's work queue (owned by the events subgraph): held usage (unknown customer, no
// subscription) per customer key, reason and month, and rejected usage grouped per usage type, problem and day.
import { deterministicId } from '../../lib/ids';
import { raiseException, resolveException } from '../../lib/exceptions';
import type { Problem } from '../../lib/errors';
import type { QuarantineGroup, UsageExceptionDoc, UsageStore } from './store';

const openingOf = (e: UsageExceptionDoc): number => (e.openedAt ?? e.firstSeenAt).getTime();

export function heldProblem(e: Pick<UsageExceptionDoc, 'code' | 'customerKey' | 'periodKey'>, count: number): string {
  const events = `${count} usage event${count === 1 ? '' : 's'}`;
  return e.code === 'CUSTOMER_UNKNOWN'
    ? `${events} of ${e.periodKey} name the customer key "${e.customerKey}", which belongs to no customer: they cannot be billed`
    : `${events} of ${e.periodKey} belong to customer "${e.customerKey}", who had no subscription then: they cannot be rated`;
}

export function heldRemedy(e: Pick<UsageExceptionDoc, 'code' | 'customerKey' | 'periodKey'>): string {
  return e.code === 'CUSTOMER_UNKNOWN'
    ? `map "${e.customerKey}" to an existing customer, or create a customer with that key; the held events then flow on by themselves`
    : `create a subscription for "${e.customerKey}" that covers ${e.periodKey}; the held events then flow on by themselves`;
}

/** Raises (or refreshes) the queue item of a usage exception with what it holds now. */
export async function raiseHeldUsage(store: UsageStore, e: UsageExceptionDoc, atLeast = 0): Promise<void> {
  const [count, sample] = await Promise.all([
    store.held.countDocuments({ exceptionId: e._id }),
    store.held
      .find({ exceptionId: e._id }, { projection: { _id: 1 } })
      .sort({ _id: 1 })
      .limit(20)
      .toArray(),
  ]);
  const held = Math.max(count, atLeast);
  if (held === 0) return;
  await raiseException(
    store.outbox,
    {
      exceptionId: e._id,
      kind: e.code,
      problem: heldProblem(e, held),
      remedy: heldRemedy(e),
      held: { count: held, unit: 'usage events', amounts: [] },
      references: { customerKey: e.customerKey, period: e.periodKey, usageExceptionId: e._id },
      sampleRecordIds: sample.map((h) => h._id),
    },
    `${openingOf(e)}:${held}`,
  );
}

/** Tells the queue the held events went through: how (the action finance took, if any) and what ran afterwards. */
export async function announceHeldReleased(
  store: UsageStore,
  e: UsageExceptionDoc,
  released: number,
  rehomed: number,
): Promise<void> {
  const request = e.resolutionRequest;
  const afterwards = [
    `${released} held event${released === 1 ? '' : 's'} stored and counted in ${e.periodKey}'s usage`,
    rehomed > 0 ? `${rehomed} now wait on a subscription for "${e.customerKey}" (a new item)` : 'none still held',
  ].join('; ');
  await resolveException(
    store.outbox,
    {
      exceptionId: e._id,
      kind: e.code,
      resolution: request?.action ?? 'RELEASED',
      detail: request?.detail ?? `the customer or subscription for "${e.customerKey}" now exists (set up elsewhere)`,
      afterwards,
      resolvedBy: request?.by ?? null,
    },
    openingOf(e),
  );
}

const TYPE_KEY = /^[a-z][a-z0-9_]{0,63}$/;

/** The group a rejected event belongs to: its usage type (as sent), its first problem, and the day it arrived. */
export function quarantineGroupOf(payload: unknown, problems: readonly Problem[], at: Date): QuarantineGroup {
  const type =
    payload && typeof payload === 'object' && !Array.isArray(payload) ? (payload as { type?: unknown }).type : null;
  const usageTypeKey = typeof type === 'string' && TYPE_KEY.test(type) ? type : '(unreadable type)';
  const problemCode = typeof problems[0]?.code === 'string' ? problems[0].code.slice(0, 64) : 'INVALID';
  const day = at.toISOString().slice(0, 10);
  return { id: deterministicId('qgrp', usageTypeKey, problemCode, day), usageTypeKey, problemCode, day };
}

/**
 * Tells the queue where each group stands: still holding events (raised with the count open now), or cleared by
 * replays, corrections and discards (resolved, saying how). `revision` names the request that changed it.
 */
export async function settleQuarantineGroups(
  store: UsageStore,
  groupIds: Iterable<string>,
  revision: string,
  resolution?: { action: string; detail: string; by: string | null },
): Promise<void> {
  for (const groupId of new Set(groupIds)) {
    const [open, any] = await Promise.all([
      store.quarantine.countDocuments({ groupId, status: 'OPEN' }),
      store.quarantine.findOne({ groupId }, { sort: { _id: 1 } }),
    ]);
    const group = any?.group;
    if (!any || !group) continue;
    if (open > 0) {
      const sample = await store.quarantine
        .find({ groupId, status: 'OPEN' }, { projection: { _id: 1, problems: 1 } })
        .sort({ _id: 1 })
        .limit(20)
        .toArray();
      const reason = sample[0]?.problems[0]?.reason ?? any.problems[0]?.reason ?? 'invalid';
      await raiseException(
        store.outbox,
        {
          exceptionId: groupId,
          kind: 'INVALID_USAGE',
          problem: `${open} ${group.usageTypeKey} event${open === 1 ? ' was' : 's were'} rejected on ${group.day} (${group.problemCode}): ${reason}`,
          remedy:
            'correct each event and replay it, replay them once the usage type or customer is fixed, or discard them with a reason',
          held: { count: open, unit: 'usage events', amounts: [] },
          references: {
            usageTypeKey: group.usageTypeKey,
            problemCode: group.problemCode,
            day: group.day,
            period: group.day.slice(0, 7),
            quarantineGroupId: groupId,
          },
          sampleRecordIds: sample.map((q) => q._id),
        },
        `${revision}:${open}`,
      );
    } else {
      const [resolved, discarded] = await Promise.all([
        store.quarantine.countDocuments({ groupId, status: 'RESOLVED' }),
        store.quarantine.countDocuments({ groupId, status: 'DISCARDED' }),
      ]);
      await resolveException(
        store.outbox,
        {
          exceptionId: groupId,
          kind: 'INVALID_USAGE',
          resolution: resolution?.action ?? 'REPLAYED',
          detail: resolution?.detail ?? 'every rejected event of the group went through',
          afterwards: `${resolved} event${resolved === 1 ? '' : 's'} ingested, ${discarded} discarded (kept with the reason)`,
          resolvedBy: resolution?.by ?? null,
        },
        `${resolved + discarded}`,
      );
    }
  }
}
