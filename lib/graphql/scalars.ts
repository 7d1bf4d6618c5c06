// Scalars shared by every subgraph. Decimals travel as strings so no amount ever passes through a float.
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { DECIMAL_PATTERN, canonicalDecimal } from '../money';

function parseDecimal(value: unknown): string {
  if (typeof value === 'string' && DECIMAL_PATTERN.test(value)) return canonicalDecimal(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new GraphQLError(
    `Decimal must be a decimal string such as "12.5" or "0.00025" (got ${JSON.stringify(value)}); send fractions as strings so no precision is lost`,
    {
      extensions: { code: 'VALIDATION_FAILED', expected: 'a decimal string, e.g. "0.00025"' },
    },
  );
}

export const DecimalScalar = new GraphQLScalarType({
  name: 'Decimal',
  serialize: (v) => (typeof v === 'string' ? v : canonicalDecimal(String(v))),
  parseValue: parseDecimal,
  parseLiteral(ast) {
    // A literal keeps its exact source text, so 0.1 written in a query is exact.
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT)
      return parseDecimal(ast.kind === Kind.STRING ? ast.value : ast.value);
    return parseDecimal(undefined);
  },
});

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(value: unknown): Date {
  if (typeof value === 'string' && ISO_INSTANT.test(value)) {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new GraphQLError(`DateTime must be an ISO 8601 instant with a time zone (got ${JSON.stringify(value)})`, {
    extensions: { code: 'VALIDATION_FAILED', expected: 'e.g. "2026-10-31T23:59:59Z"' },
  });
}

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  serialize: (v) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString()),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

function literalToJson(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      // Keep the literal's text: a number in an event is interpreted by its usage type, not by a float.
      return ast.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      return undefined;
  }
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: literalToJson,
});

export const scalarResolvers = { Decimal: DecimalScalar, DateTime: DateTimeScalar, JSON: JSONScalar };
