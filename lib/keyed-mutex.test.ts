import { KeyedMutex } from './keyed-mutex';

describe('a keyed mutex', () => {
  it('runs work on the same key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const step = (name: string, ms: number) =>
      mutex.run('k', async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${name}`);
        return name;
      });
    expect(await Promise.all([step('a', 20), step('b', 1), step('c', 5)])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('lets different keys run side by side, and a failure does not block the next in line', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const slow = mutex.run('x', async () => {
      await new Promise((r) => setTimeout(r, 20));
      log.push('x');
    });
    const fast = mutex.run('y', async () => {
      log.push('y');
    });
    const failing = mutex.run('x', async () => {
      throw new Error('boom');
    });
    const after = mutex.run('x', async () => 'still runs');
    await Promise.all([slow, fast]);
    await expect(failing).rejects.toThrow('boom');
    expect(await after).toBe('still runs');
    expect(log).toEqual(['y', 'x']);
  });
});
