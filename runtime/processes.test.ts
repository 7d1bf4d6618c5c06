import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotatingLog, spawnManaged } from './processes';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('process logs', () => {
  it('roll over by size into private files, keeping only the newest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotating-log-'));
    const log = rotatingLog(join(dir, 'logs', 'noisy.log'), '64k', 2);
    // Lines written before pino-roll has opened its first file are buffered and land as one write (one file); on a
    // loaded machine that opening can outlast the whole loop below, so the rolling is tested from an open file.
    await log.opened();
    const line = `${'x'.repeat(99)}\n`;
    for (let i = 0; i < 4_000; i++) {
      log.write(line);
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    await log.end();
    await new Promise((r) => setTimeout(r, 200)); // pino-roll removes old files after the roll, asynchronously
    const folder = join(dir, 'logs', 'noisy');
    const files = readdirSync(folder).sort();
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.length).toBeLessThanOrEqual(3);
    for (const f of files) {
      expect(mode(join(folder, f))).toBe('600');
      // pino-roll checks the size after writes land, so a busy moment can carry a file past 64k; without rolling,
      // one file would hold all 400 kB.
      expect(statSync(join(folder, f)).size).toBeLessThan(3 * 64 * 1024);
    }
    expect(mode(join(dir, 'logs'))).toBe('700');
    expect(mode(folder)).toBe('700');
  });

  it('make files an earlier run left readable to others private', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotating-log-'));
    mkdirSync(join(dir, 'svc'), { recursive: true });
    writeFileSync(join(dir, 'svc', 'svc.1.log'), 'old line\n');
    chmodSync(join(dir, 'svc', 'svc.1.log'), 0o644);
    const log = rotatingLog(join(dir, 'svc.log'));
    log.write('new line\n');
    await log.end();
    expect(mode(join(dir, 'svc', 'svc.1.log'))).toBe('600');
    expect(readFileSync(join(dir, 'svc', 'svc.1.log'), 'utf8')).toBe('old line\nnew line\n');
  });

  it("keep a child's output and what it prints when it crashes", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotating-log-'));
    const child = spawnManaged(
      'crashing',
      process.execPath,
      ['-e', 'console.log("started"); setTimeout(() => { throw new Error("crashed on purpose") }, 10)'],
      { logFile: join(dir, 'crashing.log') },
    );
    expect(await child.exited).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    const text = readFileSync(child.logFile, 'utf8');
    expect(text).toContain('started');
    expect(text).toContain('crashed on purpose');
    expect(mode(child.logFile)).toBe('600');
  });
});
