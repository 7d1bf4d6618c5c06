// Errors users see: a stable code, the field, why, and what would be accepted. Internals stay in the logs.
import { GraphQLError } from 'graphql';
import type { ZodError } from 'zod';

export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'USAGE_TYPE_UNKNOWN'
  | 'USAGE_TYPE_NOT_ACTIVE'
  | 'USAGE_TYPE_RETIRED'
  | 'USAGE_TYPE_LIFECYCLE'
  | 'USAGE_TYPE_BREAKING_CHANGE'
  | 'EVENT_CONFLICT'
  | 'CUSTOMER_UNKNOWN'
  | 'SUBSCRIPTION_NOT_ACTIVE'
  | 'CHARGE_MAPPING_MISSING'
  | 'NOTHING_TO_INVOICE'
  | 'INVOICE_NOT_FINALIZED'
  | 'INVOICE_FINALIZED'
  | 'INVOICE_POSTED'
  | 'INVOICE_VOIDED'
  | 'PERIOD_NOT_ENDED'
  | 'DRAFT_OUTDATED'
  | 'NOTE_NOT_FOUND'
  | 'PERIOD_CLOSED'
  | 'RECONCILIATION_OPEN'
  | 'SUBGRAPH_UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'QUERY_TOO_COMPLEX'
  | 'ERP_UNAVAILABLE'
  | 'ERP_REJECTED'
  | 'LIMIT_EXCEEDED'
  | 'RECORD_BUSY'
  | 'INTERNAL_SERVER_ERROR';

/** One thing wrong with one input field. `field` is a path such as `input.charges[0].unitPrice`. */
export interface Problem {
  code: ErrorCode | string;
  field: string;
  reason: string;
  expected?: string;
}

/** A business or input error: safe to show, with a stable `extensions.code`. */
export class UserFacingError extends GraphQLError {
  constructor(
    code: ErrorCode,
    message: string,
    details: { field?: string; expected?: string; problems?: Problem[]; [k: string]: unknown } = {},
  ) {
    super(message, { extensions: { code, ...details } });
  }
}

export function validationFailed(problems: Problem[]): UserFacingError {
  const first = problems[0];
  const message =
    problems.length === 1 && first
      ? `${first.field}: ${first.reason}${first.expected ? ` (expected ${first.expected})` : ''}`
      : headline(problems);
  return new UserFacingError('VALIDATION_FAILED', message, {
    field: first?.field,
    expected: first?.expected,
    problems,
  });
}

/** Several problems in one line: each field named once, however many problems it has. */
function headline(problems: Problem[]): string {
  const fields = [...new Set(problems.map((p) => p.field))];
  return fields.length === problems.length
    ? `${problems.length} fields are invalid: ${fields.join(', ')}`
    : `${problems.length} problems in ${fields.length} ${fields.length === 1 ? 'field' : 'fields'}: ${fields.join(', ')}`;
}

export function notFound(what: string, field: string, id: string): UserFacingError {
  return new UserFacingError('NOT_FOUND', `${what} "${id}" does not exist`, {
    field,
    expected: `the id of an existing ${what}`,
  });
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `a.b[2].c` from a base path and a zod issue path. A key that is not a plain name is written `["a.b"]`, JSON-escaped
 * and cut at 64 characters, so a hostile key never forges a path or carries control characters into a message.
 */
export function fieldPath(base: string, path: ReadonlyArray<PropertyKey>): string {
  let out = base;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (PLAIN_NAME.test(String(part))) out += out ? `.${String(part)}` : String(part);
    else {
      const key = String(part);
      out += `[${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}]`;
    }
  }
  return out;
}

export function zodProblems(error: ZodError, base: string): Problem[] {
  return error.issues.map((issue) => {
    const expected =
      'expected' in issue && typeof issue.expected === 'string'
        ? issue.expected
        : 'values' in issue && Array.isArray(issue.values)
          ? `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
          : issue.code === 'custom' && typeof issue.params?.expected === 'string'
            ? issue.params.expected
            : undefined;
    return {
      code: 'VALIDATION_FAILED',
      field: fieldPath(base, issue.path),
      reason: issue.message,
      ...(expected ? { expected } : {}),
    };
  });
}

/** Parses input with a zod schema or throws VALIDATION_FAILED listing every bad field. */
export function parseInput<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: ZodError } },
  value: unknown,
  base: string,
): T {
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailed(zodProblems(result.error, base));
  return result.data;
}
