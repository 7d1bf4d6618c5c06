import { finalizeChunks } from './post-batch';

describe('finalizeChunks', () => {
  it('starts the pipeline with a short chunk, then takes 25 at a time, keeping every id once and in order', () => {
    const ids = Array.from({ length: 58 }, (_, i) => `inv_${i}`);
    const chunks = finalizeChunks(ids);
    expect(chunks.map((c) => c.length)).toEqual([5, 25, 25, 3]);
    expect(chunks.flat()).toEqual(ids);
  });

  it('answers small and empty batches', () => {
    expect(finalizeChunks(['a', 'b'])).toEqual([['a', 'b']]);
    expect(finalizeChunks([])).toEqual([]);
  });
});
