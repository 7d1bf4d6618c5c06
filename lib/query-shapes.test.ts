import { Long, ObjectId } from 'mongodb';
import { queriesOf, shapeOfFilter } from './query-shapes';

describe('shapeOfFilter', () => {
  it('keeps fields and operators and replaces every value by its kind', () => {
    expect(
      shapeOfFilter({
        aggregateId: { $in: ['agg_1', 'agg_2'] },
        _id: { $gt: 'uev_1' },
        nextAttemptAt: { $lte: new Date() },
        endsAt: null,
        n: 3,
        big: Long.fromNumber(7),
        owner: new ObjectId(),
        flag: true,
        name: /^a/,
      }),
    ).toEqual({
      aggregateId: { $in: ['str'] },
      _id: { $gt: 'str' },
      nextAttemptAt: { $lte: 'date' },
      endsAt: 'null',
      n: 'num',
      big: 'long',
      owner: 'objectid',
      flag: 'bool',
      name: 'regex',
    });
  });

  it('walks $and and $or, and treats an operator-free sub-document as one value', () => {
    expect(
      shapeOfFilter({
        $or: [{ status: 'A' }, { status: { $in: ['B', 3] } }],
        $and: [{ period: { start: 'x', end: 'y' } }],
      }),
    ).toEqual({ $or: [{ status: 'str' }, { status: { $in: ['num', 'str'] } }], $and: [{ period: 'doc' }] });
  });

  it('gives the same shape to queries that differ only in their values', () => {
    expect(shapeOfFilter({ customerKey: 'a', periodKey: '2026-01' })).toEqual(
      shapeOfFilter({ customerKey: 'b', periodKey: '2026-02' }),
    );
    expect(shapeOfFilter({ _id: { $in: [] } })).toEqual({ _id: { $in: [] } });
  });
});

describe('queriesOf', () => {
  it('reads a find’s filter, sort (sent as a Map) and limit', () => {
    const [q] = queriesOf('find', { find: 'c', filter: { a: 'x' }, sort: new Map([['_id', 1]]), limit: 51 });
    expect(q).toMatchObject({ filter: { a: 'x' }, sort: { _id: 1 }, limited: true });
    expect(q!.example).toEqual({ filter: { a: 'x' }, sort: { _id: 1 }, limit: 51 });
  });

  it('reads every statement of an update or delete, and the leading $match of an aggregate', () => {
    expect(
      queriesOf('update', { update: 'c', updates: [{ q: { _id: 'a' } }, { q: { s: 'x' }, multi: true }] }).map((q) => [
        q.filter,
        q.limited,
      ]),
    ).toEqual([
      [{ _id: 'a' }, true],
      [{ s: 'x' }, false],
    ]);
    expect(queriesOf('delete', { delete: 'c', deletes: [{ q: { s: 'x' }, limit: 0 }] })[0]!.filter).toEqual({
      s: 'x',
    });
    const [aggregate] = queriesOf('aggregate', {
      aggregate: 'c',
      pipeline: [{ $match: { a: 'x' } }, { $sort: { _id: 1 } }, { $group: { _id: null, n: { $sum: 1 } } }],
    });
    expect(aggregate).toMatchObject({ filter: { a: 'x' }, stages: ['$sort', '$group'] });
    expect(aggregate!.example).toEqual({ pipeline: [{ $match: { a: 'x' } }, { $sort: { _id: 1 } }] });
  });

  it('ignores commands that carry no query', () => {
    expect(queriesOf('insert', { insert: 'c', documents: [{}] })).toEqual([]);
    expect(queriesOf('createIndexes', { createIndexes: 'c' })).toEqual([]);
  });
});
