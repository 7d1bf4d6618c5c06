import fc from 'fast-check';
import { compileUsageType, usageTypeInput, type UsageTypeDefinition } from './usage-type';

const tokens: UsageTypeDefinition = {
  key: 'llm_tokens',
  version: 1,
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
  aggregation: { type: 'SUM', field: 'tokens' },
};
const validator = compileUsageType(tokens);

describe('an event checked against its usage type', () => {
  it('normalises values and yields the summed quantity', () => {
    const r = validator.validate({ tokens: '1200', cost_basis: 0.25, model: 'm1', cached: false, started_at: '2026-10-01T12:00:00+02:00' }, 'events[0].data');
    expect(r).toEqual({ ok: true, quantity: '1200', data: { tokens: '1200', cost_basis: '0.25', model: 'm1', cached: false, started_at: '2026-10-01T10:00:00.000Z' } });
  });

  it('counts 1 per event for COUNT types', () => {
    const count = compileUsageType({ ...tokens, aggregation: { type: 'COUNT' } });
    expect(count.validate({ tokens: 5 }, 'd')).toMatchObject({ ok: true, quantity: '1' });
  });

  it('names every bad field with its path, the reason and what is accepted', () => {
    const r = validator.validate({ tokens: 1.5, cost_basis: 'lots', cached: 'yes', started_at: 'yesterday', extra: 1 }, 'events[3].data');
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
    expect(r).toMatchObject({ ok: false, problems: [{ field: 'events[0].data.tokens', reason: 'required field "tokens" is missing' }] });
  });

  it('rejects data that is not an object', () => {
    expect(validator.validate('tokens=5', 'events[0].data')).toMatchObject({ ok: false, problems: [{ field: 'events[0].data' }] });
  });

  it('accepts every valid integer and rejects every non-integer number, with the path', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), (n) => {
        expect(validator.validate({ tokens: n }, 'x')).toMatchObject({ ok: true, quantity: String(n) });
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
  const base = { key: 'api_calls', unit: 'call', productLine: 'api', fields: [{ name: 'calls', type: 'INTEGER' }], aggregation: { type: 'SUM', field: 'calls' } };
  const issues = (input: unknown) => {
    const r = usageTypeInput.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts a well-formed definition with defaults', () => {
    const r = usageTypeInput.parse(base);
    expect(r.version).toBe(1);
    expect(r.fields[0]!.required).toBe(true);
  });

  it('requires SUM to name a required numeric field', () => {
    expect(issues({ ...base, aggregation: { type: 'SUM', field: 'nope' } })).toEqual(['aggregation.field: SUM needs the name of a declared numeric field (declared: calls)']);
    expect(issues({ ...base, fields: [{ name: 'calls', type: 'STRING' }] })).toEqual(['aggregation.field: field "calls" is STRING; SUM needs an INTEGER or DECIMAL field']);
    expect(issues({ ...base, fields: [{ name: 'calls', type: 'INTEGER', required: false }] })).toEqual(['aggregation.field: field "calls" is optional; a summed field must be required']);
  });

  it('rejects duplicate fields, bad keys and a field on COUNT', () => {
    expect(issues({ ...base, fields: [...base.fields, { name: 'calls', type: 'INTEGER' }] })).toEqual(['fields.1.name: field "calls" is declared twice']);
    expect(issues({ ...base, key: 'API Calls' })[0]).toMatch(/^key: must start with a lower-case letter/);
    expect(issues({ ...base, aggregation: { type: 'COUNT', field: 'calls' } })).toEqual(['aggregation.field: COUNT counts events and takes no field; leave it out']);
  });
});
