import { slowQueryFields } from './slow-queries';

describe('the slow-query log', () => {
  it('names the collection and the shape of the query, never its values', () => {
    const fields = slowQueryFields('find', {
      find: 'rated_charges',
      filter: { subscriptionId: { $in: ['sub-secret-1', 'sub-secret-2'] }, periodKey: '2026-10' },
      sort: new Map([['_id', 1]]),
      limit: 500,
    });
    expect(fields).toEqual({
      command: 'find',
      collection: 'rated_charges',
      queries: [{ filter: { subscriptionId: { $in: ['str'] }, periodKey: 'str' }, sort: { _id: 1 }, limited: true }],
    });
    expect(JSON.stringify(fields)).not.toContain('secret');
  });

  it("names a getMore's collection and an insert's size", () => {
    expect(slowQueryFields('getMore', { getMore: 1n, collection: 'usage_events' })).toMatchObject({
      command: 'getMore',
      collection: 'usage_events',
    });
    expect(slowQueryFields('insert', { insert: 'rating_reads', documents: [{ a: 1 }, { a: 2 }] })).toMatchObject({
      collection: 'rating_reads',
      documents: 2,
    });
  });
});
