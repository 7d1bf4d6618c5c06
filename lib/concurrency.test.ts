import { mapConcurrently } from './concurrency';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('keeps input order and never runs more than the limit at once', async () => {
  let running = 0;
  let most = 0;
  const out = await mapConcurrently([30, 5, 20, 1, 10, 15, 2], 3, async (ms, i) => {
    running++;
    most = Math.max(most, running);
    await tick(ms);
    running--;
    return `${i}:${ms}`;
  });
  expect(out).toEqual(['0:30', '1:5', '2:20', '3:1', '4:10', '5:15', '6:2']);
  expect(most).toBe(3);
});

it('works every item once, with no items, and with a limit above the count', async () => {
  expect(await mapConcurrently([], 4, async () => 1)).toEqual([]);
  const seen: number[] = [];
  expect(
    await mapConcurrently([1, 2], 10, async (n) => {
      seen.push(n);
      return n * 2;
    }),
  ).toEqual([2, 4]);
  expect(seen.sort()).toEqual([1, 2]);
});

it('rejects when an item rejects', async () => {
  await expect(
    mapConcurrently([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('two');
      return n;
    }),
  ).rejects.toThrow('two');
});
