// Billing periods are calendar months in UTC, named YYYY-MM.
import { UserFacingError } from './errors';

export interface BillingPeriod {
  key: string;
  start: Date;
  /** Exclusive. */
  end: Date;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function parsePeriod(value: string, field = 'period'): BillingPeriod {
  const m = PERIOD.exec(value);
  if (!m) {
    throw new UserFacingError('VALIDATION_FAILED', `${field}: "${value}" is not a billing period`, {
      field,
      expected: 'a calendar month as YYYY-MM, e.g. "2026-10"',
    });
  }
  const year = Number(m[1]);
  const month = Number(m[2]) - 1;
  return { key: value, start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}

export function periodOf(instant: Date): BillingPeriod {
  return parsePeriod(`${instant.getUTCFullYear()}-${String(instant.getUTCMonth() + 1).padStart(2, '0')}`);
}

export function isoDate(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** Whether an instant falls in [start, end), an open end meaning "still running". */
export function isWithin(instant: Date, start: Date, end: Date | null): boolean {
  return start <= instant && (end === null || instant < end);
}
