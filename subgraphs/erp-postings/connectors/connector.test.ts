import { ErpError, SingleWriter, type TakeTurn } from './connector';
import { ledgerTurnWait } from '../../../lib/metrics';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SingleWriter', () => {
  it('runs writes one at a time, in the order they came', async () => {
    const writer = new SingleWriter();
    const log: string[] = [];
    let running = 0;
    const write = (name: string, ms: number) =>
      writer.run(async () => {
        running++;
        expect(running).toBe(1);
        log.push(`start ${name}`);
        await pause(ms);
        log.push(`end ${name}`);
        running--;
        return name;
      });
    expect(await Promise.all([write('a', 20), write('b', 1), write('c', 5)])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('takes one turn for writes queued together, and writes only while it has the turn', async () => {
    let turns = 0;
    let holding = false;
    const turn: TakeTurn = async (work) => {
      turns++;
      holding = true;
      try {
        return await work();
      } finally {
        holding = false;
      }
    };
    const writer = new SingleWriter(turn);
    const seen: boolean[] = [];
    const write = () =>
      writer.run(async () => {
        seen.push(holding);
        await pause(2);
      });
    await Promise.all([write(), write(), write(), write()]);
    expect({ turns, seen }).toEqual({ turns: 1, seen: [true, true, true, true] });
    // A write after the queue emptied takes a turn of its own.
    await write();
    expect(turns).toBe(2);
  });

  it('fails what waits with a retryable ERP error when no turn can be had, then writes again once one can', async () => {
    let refuse = true;
    const writer = new SingleWriter(async (work) => {
      if (refuse) throw new Error('another process has been changing this record for over 60 s');
      return work();
    });
    const failed = await Promise.allSettled([writer.run(async () => 1), writer.run(async () => 2)]);
    for (const f of failed) {
      expect(f.status).toBe('rejected');
      const error = (f as PromiseRejectedResult).reason as ErpError;
      expect(error).toBeInstanceOf(ErpError);
      expect({ kind: error.kind, code: error.code }).toEqual({ kind: 'TECHNICAL', code: 'ERP_BUSY' });
      expect(error.message).toContain('another process');
    }
    refuse = false;
    expect(await writer.run(async () => 3)).toBe(3);
  });

  it('tells /metrics how long each turn was waited for, and how many were refused', async () => {
    const counts = async () => {
      const { values } = await ledgerTurnWait.get();
      const count = (outcome: string) =>
        values.find((v) => v.metricName?.endsWith('_count') && v.labels.outcome === outcome)?.value ?? 0;
      const sum = values.find((v) => v.metricName?.endsWith('_sum') && v.labels.outcome === 'taken')?.value ?? 0;
      return { taken: count('taken'), refused: count('refused'), sum };
    };
    const before = await counts();
    let refuse = false;
    const writer = new SingleWriter(async (work) => {
      if (refuse) throw new Error('busy');
      await pause(30); // another process had the turn
      return work();
    });
    await Promise.all([writer.run(async () => 1), writer.run(async () => 2)]);
    refuse = true;
    await writer.run(async () => 3).catch(() => undefined);
    const after = await counts();
    expect({ taken: after.taken - before.taken, refused: after.refused - before.refused }).toEqual({
      taken: 1,
      refused: 1,
    });
    expect(after.sum - before.sum).toBeGreaterThanOrEqual(0.025);
  });
});
