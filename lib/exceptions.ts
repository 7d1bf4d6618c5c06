// Business exceptions travel as business events: the subgraph that holds the records raises `exception.raised` and
// `exception.resolved` through its outbox; the events subgraph projects them into finance's one work queue. This is
// the shape every stage raises, so the queue takes any kind without code of its own per kind.
import type { Money } from './money';
import type { Outbox } from './outbox';

/** Kinds raised today; the queue accepts any other string as well (a new stage raises a new kind). */
export const EXCEPTION_KINDS = [
  'CUSTOMER_UNKNOWN',
  'SUBSCRIPTION_NOT_ACTIVE',
  'INVALID_USAGE',
  'PRICING_POLICY',
  'ACCOUNT_MAPPING_MISSING',
  'ERP_CUSTOMER_UNKNOWN',
  'PERIOD_CLOSED',
  'ADJUSTMENT_AWAITING_NOTE',
] as const;

/** What an exception holds back: how many records of what, and what is at stake. */
export interface HeldRecords {
  count: number;
  /** What the records are, plural: "usage events", "periods", "postings". */
  unit: string;
  /** Amounts at stake, one per currency (empty when nothing is priced yet, e.g. unattributed usage). */
  amounts: Money[];
  /** A quantity at stake in the records' own unit (e.g. "1200 call"), when amounts are not known. */
  quantity?: string | null;
}

export interface ExceptionRaised {
  /** The owner's id for the exception: stable while it stays the same problem. */
  exceptionId: string;
  kind: string;
  /** What is wrong, in business words. */
  problem: string;
  /** What would fix it, in business words (the actions the owner offers). */
  remedy: string;
  held: HeldRecords;
  /** What it is about, by name: customerKey, customerId, subscriptionId, period, invoiceId, postingId, usageTypeKey… */
  references: Record<string, string>;
  /** Up to 20 ids of held records, for a first look. */
  sampleRecordIds?: string[];
}

export interface ExceptionResolved {
  exceptionId: string;
  kind: string;
  /** The action that resolved it: MAPPED_TO_CUSTOMER, SUBSCRIPTION_CREATED, REPLAYED, DISCARDED, APPROVED, … */
  resolution: string;
  /** How, in business words. */
  detail: string;
  /** What ran afterwards, in business words: "1,200 events stored; none still held". */
  afterwards: string;
  /** The authenticated subject who acted; null when it resolved by itself. */
  resolvedBy: string | null;
  /** The action as a code when `resolution` keeps an older stage's wording for its existing consumers. */
  action?: string;
}

/** Fields a stage sent before it raised in this shape: kept beside it so existing consumers go on working. */
export interface RaiseOptions {
  occurredAt?: Date;
  legacy?: Record<string, unknown>;
}

/**
 * Raises (or refreshes) an exception. `revision` names this state of it (e.g. the held count and the latest arrival),
 * so raising the same state twice is one event, and a changed state is a new one the queue takes as the latest.
 */
export function raiseException(
  outbox: Outbox,
  e: ExceptionRaised,
  revision: string | number,
  options: RaiseOptions = {},
): Promise<void> {
  return outbox.raise({
    id: `exception.raised:${e.exceptionId}:${revision}`,
    type: 'exception.raised',
    subject: e.exceptionId,
    occurredAt: options.occurredAt,
    data: { ...options.legacy, ...e },
  });
}

/** Resolves an exception; `revision` names which opening of it was resolved (an exception can be raised again). */
export function resolveException(
  outbox: Outbox,
  e: ExceptionResolved,
  revision: string | number,
  options: RaiseOptions = {},
): Promise<void> {
  return outbox.raise(resolvedEvent(e, revision, options));
}

/** The event resolveException raises, for callers that raise many at once (outbox.raiseMany). */
export function resolvedEvent(e: ExceptionResolved, revision: string | number, options: RaiseOptions = {}) {
  return {
    id: `exception.resolved:${e.exceptionId}:${revision}`,
    type: 'exception.resolved',
    subject: e.exceptionId,
    occurredAt: options.occurredAt,
    data: { ...options.legacy, ...e } as Record<string, unknown>,
  };
}
