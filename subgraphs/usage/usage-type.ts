// Usage types are data: a stored definition compiles to an event validator, so registering one needs no deploy.
import { z } from 'zod';
import { Dec, canonicalDecimal, isDecimalString } from '../../lib/money';
import type { Problem } from '../../lib/errors';
import { fieldPath } from '../../lib/errors';

export const FIELD_TYPES = ['STRING', 'INTEGER', 'DECIMAL', 'BOOLEAN', 'TIMESTAMP'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const AGGREGATION_TYPES = [
  'SUM',
  'COUNT',
  'MAX',
  'UNIQUE_COUNT',
  'LATEST',
  'AVG',
  'MIN',
  'WEIGHTED_SUM',
] as const;

/** The aggregations whose level can carry over from one period to the next. */
export const RECURRING_AGGREGATIONS: readonly AggregationType[] = ['UNIQUE_COUNT', 'LATEST', 'WEIGHTED_SUM'];
export const UNIT_OPERATIONS = ['add', 'remove'] as const;
export type AggregationType = (typeof AGGREGATION_TYPES)[number];

export interface UsageFieldDef {
  name: string;
  type: FieldType;
  required: boolean;
  description?: string | null;
  /** STRING only: the values accepted (an enum). */
  allowedValues?: string[] | null;
  /** INTEGER and DECIMAL only: inclusive bounds, as decimal strings. */
  minimum?: string | null;
  maximum?: string | null;
}

export interface AggregationDef {
  type: AggregationType;
  /** The field read by every aggregation but COUNT. */
  field?: string | null;
  /**
   * The level carries over from one period to the next and is billed by the time it held (seats, licences, storage
   * held). Set only when true, so definitions from before it compare equal.
   */
  recurring?: boolean;
  /** Recurring UNIQUE_COUNT: a STRING field whose "add" or "remove" says what the event does to its unit. */
  operationField?: string;
}

export interface UsageTypeDefinition {
  key: string;
  /** MAJOR.MINOR: a breaking change needs a new major. */
  version: string;
  description: string;
  unit: string;
  productLine: string;
  fields: UsageFieldDef[];
  /** Fields an aggregate can be broken down by (e.g. region, model). */
  dimensions: string[];
  aggregation: AggregationDef;
}

export interface Version {
  major: number;
  minor: number;
}

export function parseVersion(version: string): Version {
  const m = /^(\d{1,4})\.(\d{1,4})$/.exec(version);
  if (!m) throw new RangeError(`"${version}" is not MAJOR.MINOR`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  return x.major - y.major || x.minor - y.minor;
}

const NAME = /^[a-z][a-z0-9_]{0,63}$/;
const NUMERIC: ReadonlySet<FieldType> = new Set(['INTEGER', 'DECIMAL']);
const decimalBound = z
  .string()
  .refine(isDecimalString, { message: 'must be a decimal number as a string, e.g. "0" or "1000.5"' })
  .transform(canonicalDecimal);

/** The rules a definition must meet before it is stored. */
export const usageTypeInput = z
  .object({
    key: z.string().regex(NAME, 'must start with a lower-case letter and use only a-z, 0-9 and "_" (at most 64)'),
    version: z
      .string()
      .regex(/^\d{1,4}\.\d{1,4}$/, 'must be MAJOR.MINOR, e.g. "1.0" or "2.1"')
      .default('1.0'),
    description: z.string().max(1000).default(''),
    unit: z.string().trim().min(1, 'must not be empty').max(40),
    productLine: z
      .string()
      .regex(
        /^[a-z][a-z0-9-]{0,39}$/,
        'must be lower-case letters, digits and "-" (it becomes part of a revenue account name)',
      ),
    fields: z.array(
      z.object({
        name: z.string().regex(NAME, 'must start with a lower-case letter and use only a-z, 0-9 and "_"'),
        type: z.enum(FIELD_TYPES),
        required: z.boolean().default(true),
        description: z.string().max(500).nullish(),
        allowedValues: z.array(z.string().min(1).max(200)).min(1, 'list at least one value, or leave it out').nullish(),
        minimum: decimalBound.nullish(),
        maximum: decimalBound.nullish(),
      }),
    ),
    dimensions: z.array(z.string()).default([]),
    aggregation: z.object({
      type: z.enum(AGGREGATION_TYPES),
      field: z.string().nullish(),
      recurring: z.boolean().nullish(),
      operationField: z.string().nullish(),
    }),
  })
  .superRefine((def, ctx) => {
    const byName = new Map<string, (typeof def.fields)[number]>();
    def.fields.forEach((f, i) => {
      if (byName.has(f.name))
        ctx.addIssue({ code: 'custom', path: ['fields', i, 'name'], message: `field "${f.name}" is declared twice` });
      byName.set(f.name, f);
      if (f.allowedValues && f.type !== 'STRING')
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'allowedValues'],
          message: `allowed values apply to STRING fields; "${f.name}" is ${f.type}`,
        });
      for (const bound of ['minimum', 'maximum'] as const) {
        if (f[bound] != null && !NUMERIC.has(f.type))
          ctx.addIssue({
            code: 'custom',
            path: ['fields', i, bound],
            message: `a ${bound} applies to INTEGER or DECIMAL fields; "${f.name}" is ${f.type}`,
          });
      }
      if (f.minimum != null && f.maximum != null && new Dec(f.minimum).gt(f.maximum))
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'maximum'],
          message: `must not be below the minimum ${f.minimum}`,
        });
    });
    def.dimensions.forEach((d, i) => {
      const f = byName.get(d);
      if (!f)
        ctx.addIssue({
          code: 'custom',
          path: ['dimensions', i],
          message: `"${d}" is not a declared field (declared: ${[...byName.keys()].join(', ') || 'none'})`,
        });
      else if (f.type !== 'STRING')
        ctx.addIssue({
          code: 'custom',
          path: ['dimensions', i],
          message: `a dimension must be a STRING field; "${d}" is ${f.type}`,
        });
    });
    const { type, field, recurring, operationField } = def.aggregation;
    if (recurring && !RECURRING_AGGREGATIONS.includes(type))
      ctx.addIssue({
        code: 'custom',
        path: ['aggregation', 'recurring'],
        message: `${type} starts from zero every period and cannot be recurring; expected UNIQUE_COUNT (units added and removed), LATEST (a level) or WEIGHTED_SUM (a running total)`,
      });
    if (operationField != null) {
      const op = byName.get(operationField);
      const allowed = op?.allowedValues ?? [];
      if (type !== 'UNIQUE_COUNT' || !recurring)
        ctx.addIssue({
          code: 'custom',
          path: ['aggregation', 'operationField'],
          message:
            'adds and removes units of a recurring UNIQUE_COUNT only; leave it out, or set type UNIQUE_COUNT and recurring: true',
        });
      else if (
        !op ||
        op.type !== 'STRING' ||
        allowed.length === 0 ||
        allowed.some((v) => !(UNIT_OPERATIONS as readonly string[]).includes(v))
      )
        ctx.addIssue({
          code: 'custom',
          path: ['aggregation', 'operationField'],
          message: `must name a declared STRING field with allowedValues ["add", "remove"] (declared: ${[...byName.keys()].join(', ') || 'none'})`,
        });
    }
    if (type === 'COUNT') {
      if (field)
        ctx.addIssue({
          code: 'custom',
          path: ['aggregation', 'field'],
          message: 'COUNT counts events and takes no field; leave it out',
        });
      return;
    }
    const target = field ? byName.get(field) : undefined;
    if (!field || !target) {
      ctx.addIssue({
        code: 'custom',
        path: ['aggregation', 'field'],
        message: `${type} needs the name of a declared field (declared: ${[...byName.keys()].join(', ') || 'none'})`,
      });
      return;
    }
    if (type !== 'UNIQUE_COUNT' && !NUMERIC.has(target.type)) {
      ctx.addIssue({
        code: 'custom',
        path: ['aggregation', 'field'],
        message: `field "${field}" is ${target.type}; ${type} needs an INTEGER or DECIMAL field`,
      });
    } else if (!target.required) {
      ctx.addIssue({
        code: 'custom',
        path: ['aggregation', 'field'],
        message: `field "${field}" is optional; the aggregated field must be required`,
      });
    }
  });

export type UsageTypeInput = z.infer<typeof usageTypeInput>;

export function definitionFromInput(input: UsageTypeInput): UsageTypeDefinition {
  return {
    key: input.key,
    version: `${parseVersion(input.version).major}.${parseVersion(input.version).minor}`,
    description: input.description,
    unit: input.unit,
    productLine: input.productLine,
    fields: input.fields.map((f) => ({
      name: f.name,
      type: f.type,
      required: f.required,
      description: f.description ?? null,
      allowedValues: f.allowedValues ?? null,
      minimum: f.minimum ?? null,
      maximum: f.maximum ?? null,
    })),
    dimensions: input.dimensions,
    aggregation: {
      type: input.aggregation.type,
      field: input.aggregation.type === 'COUNT' ? null : input.aggregation.field!,
      ...(input.aggregation.recurring ? { recurring: true } : {}),
      ...(input.aggregation.operationField ? { operationField: input.aggregation.operationField } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Compatibility between consecutive versions.

/** Every kind of change between versions; the API's SchemaChangeKind enum lists the same values. */
export const SCHEMA_CHANGE_KINDS = [
  'FIELD_REMOVED',
  'FIELD_TYPE_CHANGED',
  'FIELD_MADE_REQUIRED',
  'FIELD_MADE_OPTIONAL',
  'ALLOWED_VALUES_NARROWED',
  'ALLOWED_VALUES_WIDENED',
  'MINIMUM_RAISED',
  'MINIMUM_RELAXED',
  'MAXIMUM_LOWERED',
  'MAXIMUM_RELAXED',
  'REQUIRED_FIELD_ADDED',
  'OPTIONAL_FIELD_ADDED',
  'AGGREGATION_CHANGED',
  'UNIT_CHANGED',
  'PRODUCT_LINE_CHANGED',
  'DIMENSION_REMOVED',
  'DIMENSION_ADDED',
] as const;
export type SchemaChangeKind = (typeof SCHEMA_CHANGE_KINDS)[number];

export interface SchemaChange {
  kind: SchemaChangeKind;
  field: string | null;
  breaking: boolean;
  description: string;
}

const listed = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');

/** What changes from `before` to `after`, each marked breaking when events valid for `before` could fail `after` or mean something else. */
export function schemaChanges(before: UsageTypeDefinition, after: UsageTypeDefinition): SchemaChange[] {
  const changes: SchemaChange[] = [];
  const add = (kind: SchemaChangeKind, field: string | null, breaking: boolean, description: string) =>
    changes.push({ kind, field, breaking, description });
  const old = new Map(before.fields.map((f) => [f.name, f]));
  const neu = new Map(after.fields.map((f) => [f.name, f]));

  for (const [name, f] of old) {
    const g = neu.get(name);
    if (!g) {
      add(
        'FIELD_REMOVED',
        name,
        true,
        `field "${name}" was removed (or renamed): events that send it would be rejected`,
      );
      continue;
    }
    if (f.type !== g.type)
      add(
        'FIELD_TYPE_CHANGED',
        name,
        true,
        `field "${name}" changed type from ${f.type} to ${g.type}: values sent today may no longer be valid`,
      );
    if (!f.required && g.required)
      add(
        'FIELD_MADE_REQUIRED',
        name,
        true,
        `field "${name}" became required: events that leave it out would be rejected`,
      );
    if (f.required && !g.required) add('FIELD_MADE_OPTIONAL', name, false, `field "${name}" became optional`);
    const fa = f.allowedValues ?? null;
    const ga = g.allowedValues ?? null;
    if (ga && (!fa || fa.some((v) => !ga.includes(v)))) {
      const dropped = fa ? fa.filter((v) => !ga.includes(v)) : [];
      add(
        'ALLOWED_VALUES_NARROWED',
        name,
        true,
        fa ? `field "${name}" no longer accepts ${listed(dropped)}` : `field "${name}" now accepts only ${listed(ga)}`,
      );
    } else if (fa && (!ga || ga.some((v) => !fa.includes(v)))) {
      add(
        'ALLOWED_VALUES_WIDENED',
        name,
        false,
        ga
          ? `field "${name}" also accepts ${listed(ga.filter((v) => !fa.includes(v)))}`
          : `field "${name}" accepts any value`,
      );
    }
    const tighter = (a: string | null | undefined, b: string | null | undefined, dir: 'min' | 'max') =>
      b != null && (a == null || (dir === 'min' ? new Dec(b).gt(a) : new Dec(b).lt(a)));
    if (tighter(f.minimum, g.minimum, 'min'))
      add('MINIMUM_RAISED', name, true, `field "${name}" minimum rose to ${g.minimum}`);
    else if (f.minimum != null && (g.minimum == null || new Dec(g.minimum).lt(f.minimum)))
      add('MINIMUM_RELAXED', name, false, `field "${name}" minimum relaxed`);
    if (tighter(f.maximum, g.maximum, 'max'))
      add('MAXIMUM_LOWERED', name, true, `field "${name}" maximum fell to ${g.maximum}`);
    else if (f.maximum != null && (g.maximum == null || new Dec(g.maximum).gt(f.maximum)))
      add('MAXIMUM_RELAXED', name, false, `field "${name}" maximum relaxed`);
  }
  for (const [name, g] of neu) {
    if (old.has(name)) continue;
    if (g.required)
      add(
        'REQUIRED_FIELD_ADDED',
        name,
        true,
        `required field "${name}" was added: events of the previous version do not send it`,
      );
    else add('OPTIONAL_FIELD_ADDED', name, false, `optional field "${name}" was added`);
  }
  if (
    before.aggregation.type !== after.aggregation.type ||
    (before.aggregation.field ?? null) !== (after.aggregation.field ?? null) ||
    (before.aggregation.recurring ?? false) !== (after.aggregation.recurring ?? false) ||
    (before.aggregation.operationField ?? null) !== (after.aggregation.operationField ?? null)
  ) {
    const show = (a: AggregationDef) =>
      `${a.recurring ? 'recurring ' : ''}${a.field ? `${a.type}(${a.field})` : a.type}${a.operationField ? ` with ${a.operationField}` : ''}`;
    add(
      'AGGREGATION_CHANGED',
      after.aggregation.field ?? null,
      true,
      `aggregation changed from ${show(before.aggregation)} to ${show(after.aggregation)}: quantities would mean something else`,
    );
  }
  if (before.unit !== after.unit)
    add(
      'UNIT_CHANGED',
      null,
      true,
      `unit changed from "${before.unit}" to "${after.unit}": quantities would mean something else`,
    );
  if (before.productLine !== after.productLine)
    add(
      'PRODUCT_LINE_CHANGED',
      null,
      true,
      `product line changed from "${before.productLine}" to "${after.productLine}": revenue would move to another account`,
    );
  for (const d of before.dimensions)
    if (!after.dimensions.includes(d))
      add('DIMENSION_REMOVED', d, true, `dimension "${d}" was removed: breakdowns by it would stop`);
  for (const d of after.dimensions)
    if (!before.dimensions.includes(d)) add('DIMENSION_ADDED', d, false, `dimension "${d}" was added`);
  return changes;
}

// ---------------------------------------------------------------------------------------------------------------
// Event validation, compiled once per version.

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function numberInRange(f: UsageFieldDef, value: string, ctx: z.RefinementCtx): void {
  if (f.minimum != null && new Dec(value).lt(f.minimum))
    ctx.addIssue({ code: 'custom', message: `${value} is below the minimum ${f.minimum}` });
  if (f.maximum != null && new Dec(value).gt(f.maximum))
    ctx.addIssue({ code: 'custom', message: `${value} is above the maximum ${f.maximum}` });
}

function fieldValidator(f: UsageFieldDef): z.ZodType<unknown> {
  switch (f.type) {
    case 'STRING': {
      const s = z.string({ error: 'must be a string' }).max(1024, 'must be at most 1024 characters');
      const allowed = f.allowedValues;
      if (!allowed) return s;
      return s.superRefine((v, ctx) => {
        if (!allowed.includes(v)) ctx.addIssue({ code: 'custom', message: `"${v}" is not one of the allowed values` });
      });
    }
    case 'BOOLEAN':
      return z.boolean({ error: 'must be true or false' });
    case 'INTEGER':
      return z
        .union([z.number(), z.string()], { error: 'must be an integer' })
        .refine((v) => (typeof v === 'number' ? Number.isSafeInteger(v) : /^-?(0|[1-9]\d*)$/.test(v)), {
          message: 'must be an integer, e.g. 42 or "42"',
        })
        .transform((v) => canonicalDecimal(String(v)))
        .superRefine((v, ctx) => numberInRange(f, v, ctx));
    case 'DECIMAL':
      return z
        .union([z.number(), z.string()], { error: 'must be a decimal number' })
        .refine((v) => (typeof v === 'number' ? Number.isFinite(v) : isDecimalString(v)), {
          message: 'must be a decimal number, e.g. "1.25"',
        })
        .transform((v) => canonicalDecimal(String(v)))
        .superRefine((v, ctx) => numberInRange(f, v, ctx));
    case 'TIMESTAMP':
      return z
        .string({ error: 'must be an ISO 8601 instant' })
        .refine((v) => ISO_INSTANT.test(v) && !Number.isNaN(Date.parse(v)), {
          message: 'must be an ISO 8601 instant with a time zone, e.g. "2026-10-01T12:00:00Z"',
        })
        .transform((v) => new Date(v).toISOString());
  }
}

function expected(f: UsageFieldDef): string {
  switch (f.type) {
    case 'STRING':
      return f.allowedValues ? `one of ${listed(f.allowedValues)}` : 'a string';
    case 'INTEGER':
    case 'DECIMAL': {
      const what = f.type === 'INTEGER' ? 'an integer' : 'a decimal number, e.g. "1.25"';
      const range =
        f.minimum != null && f.maximum != null
          ? ` from ${f.minimum} to ${f.maximum}`
          : f.minimum != null
            ? ` of at least ${f.minimum}`
            : f.maximum != null
              ? ` of at most ${f.maximum}`
              : '';
      return what + range;
    }
    case 'BOOLEAN':
      return 'true or false';
    case 'TIMESTAMP':
      return 'an ISO 8601 instant, e.g. "2026-10-01T12:00:00Z"';
  }
}

export interface ValidEvent {
  ok: true;
  /** Normalised: optional fields sent as null are left out, as if never sent. */
  data: Record<string, unknown>;
  /** What the aggregation reads: "1" for COUNT, else the aggregated field's normalised value. */
  value: string;
  /** Dimension values of the event, in declaration order (missing optional dimensions are ""). */
  dimensions: Record<string, string>;
}

export interface CompiledUsageType {
  definition: UsageTypeDefinition;
  /** Normalised data (decimals canonical, timestamps UTC) or the problems, each with its field path. */
  validate(data: unknown, base: string): ValidEvent | { ok: false; problems: Problem[] };
}

export function compileUsageType(definition: UsageTypeDefinition): CompiledUsageType {
  const shape: Record<string, z.ZodType<unknown>> = {};
  for (const f of definition.fields) shape[f.name] = f.required ? fieldValidator(f) : fieldValidator(f).optional();
  const schema = z.strictObject(shape, { error: 'must be an object of the usage type fields' });
  const declared = definition.fields.map((f) => f.name).join(', ') || 'none';
  const byName = new Map(definition.fields.map((f) => [f.name, f]));
  return {
    definition,
    validate(raw, base) {
      // JSON null in an optional field means the field is absent (most serializers write null for "no value").
      const data =
        typeof raw === 'object' && raw !== null && !Array.isArray(raw)
          ? Object.fromEntries(
              Object.entries(raw).filter(([k, v]) => !(v === null && byName.has(k) && !byName.get(k)!.required)),
            )
          : raw;
      const parsed = schema.safeParse(data);
      if (!parsed.success) {
        const problems: Problem[] = [];
        for (const issue of parsed.error.issues) {
          if (issue.code === 'unrecognized_keys') {
            for (const k of issue.keys)
              problems.push({
                code: 'VALIDATION_FAILED',
                field: fieldPath(base, [...issue.path, k]),
                reason: `"${k}" is not a field of usage type ${definition.key} v${definition.version}`,
                expected: `only the declared fields: ${declared}`,
              });
            continue;
          }
          const name = issue.path[0];
          const def = typeof name === 'string' ? byName.get(name) : undefined;
          const own = def !== undefined && issue.path.length === 1;
          const missing = own && !Object.prototype.hasOwnProperty.call(data, def.name);
          const isNull = own && (data as Record<string, unknown>)[def.name] === null;
          problems.push({
            code: 'VALIDATION_FAILED',
            field: fieldPath(base, issue.path),
            reason: missing
              ? `required field "${def.name}" is missing`
              : isNull
                ? `required field "${def.name}" is null; null means absent, and this field must have a value`
                : issue.message,
            expected: def ? expected(def) : `an object with the fields ${declared}`,
          });
        }
        return { ok: false, problems: dedupeProblems(problems) };
      }
      const normalized = parsed.data as Record<string, unknown>;
      const value = definition.aggregation.type === 'COUNT' ? '1' : String(normalized[definition.aggregation.field!]);
      const dimensions = Object.fromEntries(
        definition.dimensions.map((d) => [d, typeof normalized[d] === 'string' ? (normalized[d] as string) : '']),
      );
      return { ok: true, data: normalized, value, dimensions };
    },
  };
}

/** zod can report one bad value twice (a refine and a superRefine); one line per field and reason is enough. */
function dedupeProblems(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.field}\u0000${p.reason}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
