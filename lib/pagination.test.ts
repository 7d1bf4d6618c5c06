import { afterPosition, pageSize, toPage, type SortOrder } from './pagination';

const NEWEST_PERIOD_FIRST: SortOrder = [['periodKey', -1]];

it('resumes after the last row of a page in the list order, with _id settling ties', () => {
  const rows = [
    { _id: 'inv_b', periodKey: '2026-10' },
    { _id: 'inv_a', periodKey: '2026-09' },
    { _id: 'inv_c', periodKey: '2026-09' },
  ];
  const page = toPage(rows, 2, NEWEST_PERIOD_FIRST);
  expect(page.nodes).toEqual(rows.slice(0, 2));
  expect(page.pageInfo.hasNextPage).toBe(true);
  expect(afterPosition({ customerId: 'cus_1' }, NEWEST_PERIOD_FIRST, page.pageInfo.endCursor)).toEqual({
    customerId: 'cus_1',
    $or: [{ periodKey: { $lt: '2026-09' } }, { periodKey: '2026-09', _id: { $gt: 'inv_a' } }],
  });
});

it('keeps the cursor condition beside the filter (FerretDB pushes top-level fields down), or ANDs it on a clash', () => {
  const after = toPage([{ _id: 'a' }], 1).pageInfo.endCursor;
  expect(afterPosition({ status: 'OPEN' }, [['_id', 1]], after)).toEqual({ status: 'OPEN', _id: { $gt: 'a' } });
  expect(afterPosition<{ _id: string }>({ _id: { $in: ['a', 'b'] } }, [['_id', 1]], after)).toEqual({
    $and: [{ _id: { $in: ['a', 'b'] } }, { _id: { $gt: 'a' } }],
  });
  expect(afterPosition({ status: 'OPEN' }, [['_id', 1]], null)).toEqual({ status: 'OPEN' });
});

it('carries dates in the cursor as dates', () => {
  const createdAt = new Date('2026-10-03T12:00:00Z');
  const order: SortOrder = [['createdAt', 1]];
  const after = toPage([{ _id: 'pex_1', createdAt }], 1, order).pageInfo.endCursor;
  expect(afterPosition({}, order, after)).toEqual({
    $or: [{ createdAt: { $gt: createdAt } }, { createdAt, _id: { $gt: 'pex_1' } }],
  });
});

it('refuses a cursor that is not one of this list, saying what would be accepted', () => {
  const ofAnotherList = toPage([{ _id: 'a' }], 1).pageInfo.endCursor;
  for (const cursor of ['not a cursor', ofAnotherList, Buffer.from('[{"x":1},"a"]').toString('base64url')]) {
    expect(() => afterPosition({}, NEWEST_PERIOD_FIRST, cursor)).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'after' }) }),
    );
  }
});

it('accepts page sizes from 1 to 500', () => {
  expect(pageSize(undefined)).toBe(50);
  expect(pageSize(500)).toBe(500);
  expect(() => pageSize(0)).toThrow(/out of range/);
  expect(() => pageSize(501)).toThrow(/out of range/);
});
