import fc from 'fast-check';
import { compileUsageType, schemaChanges, usageTypeInput, type UsageTypeDefinition } from './usage-type';

const tokens: UsageTypeDefinition = {
  key: 'llm_tokens',
  version: '1.0',
  description: '',
  unit: 'token',
  productLine: 'ai',
  fields: [
    { name: 'tokens', type: 'INTEGER', required: true },
    { name: 'cost_basis', type: 'DECIMAL', required: false },
    { name: 'model', type: 'STRING', required: false },
    { name: 'cached', type: 'BOOLEAN', required: false },
    { name: 'started_at', type: 'TIMESTAMP', required: false },
  ],
  dimensions: [],
  aggregation: { type: 'SUM', field: 'tokens' },
};
const validator = compileUsageType(tokens);

describe('an event checked against its usage type', () => {
  it('normalises values and yields the summed quantity', () => {
    const r = validator.validate(
      { tokens: '1200', cost_basis: 0.25, model: 'm1', cached: false, started_at: '2026-10-01T12:00:00+02:00' },
      'events[0].data',
    );
    expect(r).toEqual({
      ok: true,
      value: '1200',
      dimensions: {},
      data: { tokens: '1200', cost_basis: '0.25', model: 'm1', cached: false, started_at: '2026-10-01T10:00:00.000Z' },
    });
  });

  it('counts 1 per event for COUNT types', () => {
    const count = compileUsageType({ ...tokens, aggregation: { type: 'COUNT' } });
    expect(count.validate({ tokens: 5 }, 'd')).toMatchObject({ ok: true, value: '1' });
  });

  it('names every bad field with its path, the reason and what is accepted', () => {
    const r = validator.validate(
      { tokens: 1.5, cost_basis: 'lots', cached: 'yes', started_at: 'yesterday', extra: 1 },
      'events[3].data',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => [p.field, p.expected])).toEqual([
      ['events[3].data.tokens', 'an integer'],
      ['events[3].data.cost_basis', 'a decimal number, e.g. "1.25"'],
      ['events[3].data.cached', 'true or false'],
      ['events[3].data.started_at', 'an ISO 8601 instant, e.g. "2026-10-01T12:00:00Z"'],
      ['events[3].data.extra', 'only the declared fields: tokens, cost_basis, model, cached, started_at'],
    ]);
  });

  it('says a required field is missing', () => {
    const r = validator.validate({ model: 'm1' }, 'events[0].data');
    expect(r).toMatchObject({
      ok: false,
      problems: [{ field: 'events[0].data.tokens', reason: 'required field "tokens" is missing' }],
    });
  });

  it('rejects data that is not an object', () => {
    expect(validator.validate('tokens=5', 'events[0].data')).toMatchObject({
      ok: false,
      problems: [{ field: 'events[0].data' }],
    });
  });

  it('accepts every valid integer and rejects every non-integer number, with the path', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), (n) => {
        expect(validator.validate({ tokens: n }, 'x')).toMatchObject({ ok: true, value: String(n) });
      }),
    );
    fc.assert(
      fc.property(fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }), (n) => {
        expect(validator.validate({ tokens: n }, 'x')).toMatchObject({ ok: false, problems: [{ field: 'x.tokens' }] });
      }),
    );
  });
});

describe('registering a usage type', () => {
  const base = {
    key: 'api_calls',
    unit: 'call',
    productLine: 'api',
    fields: [{ name: 'calls', type: 'INTEGER' }],
    aggregation: { type: 'SUM', field: 'calls' },
  };
  const issues = (input: unknown) => {
    const r = usageTypeInput.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts a well-formed definition with defaults', () => {
    const r = usageTypeInput.parse(base);
    expect(r.version).toBe('1.0');
    expect(r.fields[0]!.required).toBe(true);
  });

  it('requires SUM to name a required numeric field', () => {
    expect(issues({ ...base, aggregation: { type: 'SUM', field: 'nope' } })).toEqual([
      'aggregation.field: SUM needs the name of a declared field (declared: calls)',
    ]);
    expect(issues({ ...base, fields: [{ name: 'calls', type: 'STRING' }] })).toEqual([
      'aggregation.field: field "calls" is STRING; SUM needs an INTEGER or DECIMAL field',
    ]);
    expect(issues({ ...base, fields: [{ name: 'calls', type: 'INTEGER', required: false }] })).toEqual([
      'aggregation.field: field "calls" is optional; the aggregated field must be required',
    ]);
  });

  it('rejects duplicate fields, bad keys and a field on COUNT', () => {
    expect(issues({ ...base, fields: [...base.fields, { name: 'calls', type: 'INTEGER' }] })).toEqual([
      'fields.1.name: field "calls" is declared twice',
    ]);
    expect(issues({ ...base, key: 'API Calls' })[0]).toMatch(/^key: must start with a lower-case letter/);
    expect(issues({ ...base, aggregation: { type: 'COUNT', field: 'calls' } })).toEqual([
      'aggregation.field: COUNT counts events and takes no field; leave it out',
    ]);
  });
});

describe('field constraints', () => {
  const typed = compileUsageType({
    ...tokens,
    fields: [
      { name: 'tokens', type: 'INTEGER', required: true, minimum: '0', maximum: '1000000' },
      { name: 'model', type: 'STRING', required: true, allowedValues: ['small', 'large'] },
      { name: 'region', type: 'STRING', required: false },
    ],
    dimensions: ['model', 'region'],
  });

  it('rejects values outside the allowed set or range, saying what is allowed', () => {
    const r = typed.validate({ tokens: -1, model: 'huge' }, 'e');
    expect(r).toMatchObject({
      ok: false,
      problems: [
        { field: 'e.tokens', reason: '-1 is below the minimum 0', expected: 'an integer from 0 to 1000000' },
        { field: 'e.model', reason: '"huge" is not one of the allowed values', expected: 'one of "small", "large"' },
      ],
    });
  });

  it('records the dimension values of a valid event', () => {
    expect(typed.validate({ tokens: 5, model: 'large', region: 'eu' }, 'e')).toMatchObject({
      ok: true,
      dimensions: { model: 'large', region: 'eu' },
    });
    expect(typed.validate({ tokens: 5, model: 'small' }, 'e')).toMatchObject({
      ok: true,
      dimensions: { model: 'small', region: '' },
    });
  });

  it('accepts MAX, UNIQUE_COUNT and LATEST aggregations and reads their field', () => {
    expect(
      compileUsageType({ ...tokens, aggregation: { type: 'UNIQUE_COUNT', field: 'model' } }).validate(
        { tokens: 1, model: 'm9' },
        'e',
      ),
    ).toMatchObject({ ok: true, value: 'm9' });
    expect(
      compileUsageType({ ...tokens, aggregation: { type: 'LATEST', field: 'tokens' } }).validate({ tokens: 42 }, 'e'),
    ).toMatchObject({ ok: true, value: '42' });
  });
});

describe('compatibility between versions', () => {
  const v1: UsageTypeDefinition = {
    ...tokens,
    fields: [
      { name: 'tokens', type: 'INTEGER', required: true, minimum: '0' },
      { name: 'model', type: 'STRING', required: false, allowedValues: ['small', 'large'] },
      { name: 'region', type: 'STRING', required: false },
    ],
    dimensions: ['region'],
  };
  const next = (change: Partial<UsageTypeDefinition>) => ({ ...v1, version: '1.1', ...change });
  const field = (name: string, change: Record<string, unknown>) =>
    v1.fields.map((f) => (f.name === name ? { ...f, ...change } : f));
  const kinds = (after: UsageTypeDefinition) =>
    schemaChanges(v1, after).map((c) => `${c.kind}${c.breaking ? ' (breaking)' : ''}`);

  it.each<[string, Partial<UsageTypeDefinition>, string[]]>([
    ['no change', {}, []],
    [
      'an optional field added',
      { fields: [...v1.fields, { name: 'cached', type: 'BOOLEAN', required: false }] },
      ['OPTIONAL_FIELD_ADDED'],
    ],
    [
      'a required field added',
      { fields: [...v1.fields, { name: 'cached', type: 'BOOLEAN', required: true }] },
      ['REQUIRED_FIELD_ADDED (breaking)'],
    ],
    [
      'a field removed',
      { fields: v1.fields.filter((f) => f.name !== 'region'), dimensions: [] },
      ['FIELD_REMOVED (breaking)', 'DIMENSION_REMOVED (breaking)'],
    ],
    [
      'a field renamed',
      { fields: field('model', { name: 'model_name' }) },
      ['FIELD_REMOVED (breaking)', 'OPTIONAL_FIELD_ADDED'],
    ],
    ['a type changed', { fields: field('tokens', { type: 'DECIMAL' }) }, ['FIELD_TYPE_CHANGED (breaking)']],
    [
      'an optional field made required',
      { fields: field('model', { required: true }) },
      ['FIELD_MADE_REQUIRED (breaking)'],
    ],
    ['a required field made optional', { fields: field('tokens', { required: false }) }, ['FIELD_MADE_OPTIONAL']],
    [
      'allowed values narrowed',
      { fields: field('model', { allowedValues: ['small'] }) },
      ['ALLOWED_VALUES_NARROWED (breaking)'],
    ],
    [
      'allowed values widened',
      { fields: field('model', { allowedValues: ['small', 'large', 'xl'] }) },
      ['ALLOWED_VALUES_WIDENED'],
    ],
    ['a minimum raised', { fields: field('tokens', { minimum: '1' }) }, ['MINIMUM_RAISED (breaking)']],
    ['a maximum added', { fields: field('tokens', { maximum: '10' }) }, ['MAXIMUM_LOWERED (breaking)']],
    ['a minimum removed', { fields: field('tokens', { minimum: null }) }, ['MINIMUM_RELAXED']],
    ['the aggregation changed', { aggregation: { type: 'MAX', field: 'tokens' } }, ['AGGREGATION_CHANGED (breaking)']],
    ['the unit changed', { unit: 'kilotoken' }, ['UNIT_CHANGED (breaking)']],
    ['the product line changed', { productLine: 'ml' }, ['PRODUCT_LINE_CHANGED (breaking)']],
    ['a dimension added', { dimensions: ['region', 'model'] }, ['DIMENSION_ADDED']],
  ])('%s', (_name, change, expected) => {
    expect(kinds(next(change))).toEqual(expected);
  });

  it('explains each breaking change in words', () => {
    expect(schemaChanges(v1, next({ fields: field('tokens', { type: 'DECIMAL' }) }))[0]!.description).toBe(
      'field "tokens" changed type from INTEGER to DECIMAL: values sent today may no longer be valid',
    );
  });
});
