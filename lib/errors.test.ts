import { validationFailed } from './errors';

describe('the headline of a validation failure', () => {
  it('quotes the one problem in full', () => {
    expect(
      validationFailed([{ code: 'VALIDATION_FAILED', field: 'a', reason: 'is bad', expected: 'good' }]).message,
    ).toBe('a: is bad (expected good)');
  });

  it('names each field once, however many problems it has', () => {
    const problems = [
      { code: 'VALIDATION_FAILED', field: 'events[0].timestamp', reason: 'not ISO' },
      { code: 'VALIDATION_FAILED', field: 'events[0].data.tokens', reason: 'not an integer' },
      { code: 'VALIDATION_FAILED', field: 'events[0].data.tokens', reason: 'below the minimum' },
    ];
    expect(validationFailed(problems).message).toBe(
      '3 problems in 2 fields: events[0].timestamp, events[0].data.tokens',
    );
    expect(validationFailed(problems.slice(0, 2)).message).toBe(
      '2 fields are invalid: events[0].timestamp, events[0].data.tokens',
    );
  });
});
