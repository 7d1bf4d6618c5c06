import { finalizeChunks } from './post-batch';

describe('finalizeChunks', () => {
  it('starts the pipeline with a short chunk, then goes on in chunks of 15, keeping every id once and in order', () => {
    const ids = Array.from({ length: 58 }, (_, i) => `inv_${i}`);
    const chunks = finalizeChunks(ids);
    expect(chunks.map((c) => c.length)).toEqual([5, 15, 15, 15, 8]);
    expect(chunks.flat()).toEqual(ids);
  });

  it('answers small and empty batches', () => {
    expect(finalizeChunks(['a', 'b'])).toEqual([['a', 'b']]);
    expect(finalizeChunks(['a', 'b', 'c', 'd', 'e', 'f']).map((c) => c.length)).toEqual([5, 1]);
    expect(finalizeChunks([])).toEqual([]);
  });
});
