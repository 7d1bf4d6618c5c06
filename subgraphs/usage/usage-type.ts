// Usage types are data: a stored definition compiles to an event validator, so registering one needs no deploy.
import { z } from 'zod';
import { canonicalDecimal, isDecimalString } from '../../lib/money';
import type { Problem } from '../../lib/errors';
import { fieldPath } from '../../lib/errors';

export const FIELD_TYPES = ['STRING', 'INTEGER', 'DECIMAL', 'BOOLEAN', 'TIMESTAMP'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface UsageFieldDef {
  name: string;
  type: FieldType;
  required: boolean;
  description?: string | null;
}

export interface AggregationDef {
  type: 'SUM' | 'COUNT';
  field?: string | null;
}

export interface UsageTypeDefinition {
  key: string;
  version: number;
  description: string;
  unit: string;
  productLine: string;
  fields: UsageFieldDef[];
  aggregation: AggregationDef;
}

const NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** The rules a definition must meet before it is stored. */
export const usageTypeInput = z
  .object({
    key: z.string().regex(NAME, 'must start with a lower-case letter and use only a-z, 0-9 and "_" (at most 64)'),
    version: z.number().int().min(1, 'must be 1 or more').default(1),
    description: z.string().max(1000).default(''),
    unit: z.string().trim().min(1, 'must not be empty').max(40),
    productLine: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and "-" (it becomes part of a revenue account name)'),
    fields: z.array(
      z.object({
        name: z.string().regex(NAME, 'must start with a lower-case letter and use only a-z, 0-9 and "_"'),
        type: z.enum(FIELD_TYPES),
        required: z.boolean().default(true),
        description: z.string().max(500).nullish(),
      }),
    ),
    aggregation: z.object({ type: z.enum(['SUM', 'COUNT']), field: z.string().nullish() }),
  })
  .superRefine((def, ctx) => {
    const seen = new Set<string>();
    def.fields.forEach((f, i) => {
      if (seen.has(f.name)) ctx.addIssue({ code: 'custom', path: ['fields', i, 'name'], message: `field "${f.name}" is declared twice` });
      seen.add(f.name);
    });
    const { type, field } = def.aggregation;
    if (type === 'COUNT' && field) ctx.addIssue({ code: 'custom', path: ['aggregation', 'field'], message: 'COUNT counts events and takes no field; leave it out' });
    if (type === 'SUM') {
      const target = def.fields.find((f) => f.name === field);
      if (!field || !target) {
        ctx.addIssue({ code: 'custom', path: ['aggregation', 'field'], message: `SUM needs the name of a declared numeric field (declared: ${def.fields.map((f) => f.name).join(', ') || 'none'})` });
      } else if (target.type !== 'INTEGER' && target.type !== 'DECIMAL') {
        ctx.addIssue({ code: 'custom', path: ['aggregation', 'field'], message: `field "${field}" is ${target.type}; SUM needs an INTEGER or DECIMAL field` });
      } else if (!target.required) {
        ctx.addIssue({ code: 'custom', path: ['aggregation', 'field'], message: `field "${field}" is optional; a summed field must be required` });
      }
    }
  });

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function fieldValidator(type: FieldType): z.ZodType<unknown> {
  switch (type) {
    case 'STRING':
      return z.string({ error: 'must be a string' }).max(1024, 'must be at most 1024 characters');
    case 'BOOLEAN':
      return z.boolean({ error: 'must be true or false' });
    case 'INTEGER':
      return z
        .union([z.number(), z.string()], { error: 'must be an integer' })
        .refine((v) => (typeof v === 'number' ? Number.isSafeInteger(v) : /^-?(0|[1-9]\d*)$/.test(v)), { message: 'must be an integer, e.g. 42 or "42"' })
        .transform((v) => canonicalDecimal(String(v)));
    case 'DECIMAL':
      return z
        .union([z.number(), z.string()], { error: 'must be a decimal number' })
        .refine((v) => (typeof v === 'number' ? Number.isFinite(v) : isDecimalString(v)), { message: 'must be a decimal number, e.g. "1.25"' })
        .transform((v) => canonicalDecimal(String(v)));
    case 'TIMESTAMP':
      return z
        .string({ error: 'must be an ISO 8601 instant' })
        .refine((v) => ISO_INSTANT.test(v) && !Number.isNaN(Date.parse(v)), { message: 'must be an ISO 8601 instant with a time zone, e.g. "2026-10-01T12:00:00Z"' })
        .transform((v) => new Date(v).toISOString());
  }
}

const EXPECTED: Record<FieldType, string> = {
  STRING: 'a string',
  INTEGER: 'an integer',
  DECIMAL: 'a decimal number, e.g. "1.25"',
  BOOLEAN: 'true or false',
  TIMESTAMP: 'an ISO 8601 instant, e.g. "2026-10-01T12:00:00Z"',
};

export interface CompiledUsageType {
  definition: UsageTypeDefinition;
  /** Normalised data (decimals canonical, timestamps UTC) or the problems, each with its field path. */
  validate(data: unknown, base: string): { ok: true; data: Record<string, unknown>; quantity: string } | { ok: false; problems: Problem[] };
}

export function compileUsageType(definition: UsageTypeDefinition): CompiledUsageType {
  const shape: Record<string, z.ZodType<unknown>> = {};
  for (const f of definition.fields) shape[f.name] = f.required ? fieldValidator(f.type) : fieldValidator(f.type).optional();
  const schema = z.strictObject(shape, { error: 'must be an object of the usage type fields' });
  const declared = definition.fields.map((f) => f.name).join(', ') || 'none';
  const byName = new Map(definition.fields.map((f) => [f.name, f]));
  return {
    definition,
    validate(data, base) {
      const parsed = schema.safeParse(data);
      if (!parsed.success) {
        const problems: Problem[] = [];
        for (const issue of parsed.error.issues) {
          if (issue.code === 'unrecognized_keys') {
            for (const k of issue.keys) problems.push({ code: 'VALIDATION_FAILED', field: fieldPath(base, [...issue.path, k]), reason: `"${k}" is not a field of usage type ${definition.key} v${definition.version}`, expected: `only the declared fields: ${declared}` });
            continue;
          }
          const name = issue.path[0];
          const def = typeof name === 'string' ? byName.get(name) : undefined;
          const missing = def !== undefined && issue.path.length === 1 && !Object.prototype.hasOwnProperty.call(data, def.name);
          problems.push({
            code: 'VALIDATION_FAILED',
            field: fieldPath(base, issue.path),
            reason: missing ? `required field "${def.name}" is missing` : issue.message,
            expected: def ? EXPECTED[def.type] : `an object with the fields ${declared}`,
          });
        }
        return { ok: false, problems };
      }
      const normalized = parsed.data as Record<string, unknown>;
      const quantity = definition.aggregation.type === 'COUNT' ? '1' : String(normalized[definition.aggregation.field!]);
      return { ok: true, data: normalized, quantity };
    },
  };
}
