import { GraphQLError } from 'graphql';
import { isWithin, parsePeriod, periodOf } from './period';

describe('billing periods', () => {
  it('are calendar months in UTC with an exclusive end', () => {
    expect(parsePeriod('2026-12')).toEqual({
      key: '2026-12',
      start: new Date('2026-12-01T00:00:00Z'),
      end: new Date('2027-01-01T00:00:00Z'),
    });
    expect(periodOf(new Date('2026-10-31T23:59:59.999Z')).key).toBe('2026-10');
    expect(periodOf(new Date('2026-11-01T00:00:00Z')).key).toBe('2026-11');
  });

  it.each(['2026-13', '2026-1', '26-10', '2026/10', ''])('rejects %p, saying what is accepted', (value) => {
    try {
      parsePeriod(value);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(GraphQLError);
      expect((error as GraphQLError).extensions).toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'period',
        expected: 'a calendar month as YYYY-MM, e.g. "2026-10"',
      });
    }
  });

  it('treat the start as inside and the end as outside', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const end = new Date('2026-02-01T00:00:00Z');
    expect(isWithin(start, start, end)).toBe(true);
    expect(isWithin(end, start, end)).toBe(false);
    expect(isWithin(new Date('2030-01-01T00:00:00Z'), start, null)).toBe(true);
  });
});
