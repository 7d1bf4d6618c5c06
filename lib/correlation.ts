// One correlation id per flow, carried through async calls without threading it by hand.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export const CORRELATION_HEADER = 'x-correlation-id';
const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

const storage = new AsyncLocalStorage<{ correlationId: string }>();

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
