// One correlation id per flow, carried through async calls without threading it by hand.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export const CORRELATION_HEADER = 'x-correlation-id';
const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What a request's async work knows about it: its flow, and (once verified) who asks and which service serves it. */
interface RequestScope {
  correlationId: string;
  subject?: string;
  service?: string;
  /** Aborted when the caller goes away: calls made for this request stop with it. */
  signal?: AbortSignal;
}

const storage = new AsyncLocalStorage<RequestScope>();

export function newCorrelationId(): string {
  return `cor-${randomUUID()}`;
}

/** Uses the caller's id when it is safe to log and to send to an ERP (it ends up in a journal tag), else makes one. */
export function acceptCorrelationId(candidate: unknown): string {
  const value = Array.isArray(candidate) ? candidate[0] : candidate;
  return typeof value === 'string' && VALID.test(value) ? value : newCorrelationId();
}

export function isValidCorrelationId(value: string): boolean {
  return VALID.test(value);
}

export function withCorrelationId<T>(correlationId: string, fn: () => T): T {
  return storage.run({ correlationId }, fn);
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

/** Records, for the rest of the request, who asks and which service answers (for calls it makes onwards). */
export function identifyRequest(subject: string, service?: string): void {
  const scope = storage.getStore();
  if (!scope) return;
  scope.subject = subject;
  if (service) scope.service = service;
}

/** Ties the request's onward calls to its caller: when the caller goes away, they are cancelled. */
export function setRequestSignal(signal: AbortSignal): void {
  const scope = storage.getStore();
  if (scope) scope.signal = signal;
}

export function currentRequestScope(): Readonly<RequestScope> | undefined {
  return storage.getStore();
}
