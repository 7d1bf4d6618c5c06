// Child processes the runtime starts and must stop: output to rotated private log files, a clean SIGTERM, SIGKILL last.
import { config } from '../lib/config';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import pinoRoll, { type RollingFile } from 'pino-roll';
import net from 'node:net';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** The log file written now. */
  readonly logFile: string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Size of one log file before it rolls over, and how many rolled files are kept besides the current one. */
export const LOG_FILE_SIZE = (): string => config().USAGEGRAPH_LOG_FILE_SIZE;
export const LOG_FILES_KEPT = (): number => config().USAGEGRAPH_LOG_FILES_KEPT;

/** Logs can hold business data: readable by the owner only. */
const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  chmodSync(dir, PRIVATE_DIR);
}

interface RotatingLog {
  write(text: string): void;
  end(): Promise<void>;
  /** Resolves once the first file is open (writes before it are buffered and land together). */
  opened(): Promise<void>;
  /** The file written now (the folder until the first file is open). */
  readonly file: string;
}

/**
 * A process's output in `<dir>/<name>/<name>.<n>.log`, rolled over by size (pino-roll), the oldest removed; files 0600
 * in 0700 folders. One folder per process: pino-roll numbers files by every `.log` in its folder.
 */
export function rotatingLog(
  logFile: string,
  rollAt: string | number = LOG_FILE_SIZE(),
  keep: number = LOG_FILES_KEPT(),
): RotatingLog {
  const name = basename(logFile, '.log');
  const folder = join(dirname(logFile), name);
  privateDir(dirname(logFile));
  privateDir(folder);
  // Files left by an earlier run (or an older version) become private too.
  for (const f of readdirSync(folder)) chmodSync(join(folder, f), PRIVATE_FILE);
  let pending: string[] = [];
  let stream: RollingFile | null = null;
  const ready = pinoRoll({
    file: join(folder, name),
    extension: '.log',
    size: rollAt,
    limit: { count: keep, removeOtherLogFiles: true },
    mode: PRIVATE_FILE,
  }).then(
    (s) => {
      stream = s;
      if (pending.length > 0) s.write(pending.join(''));
      pending = [];
      return s;
    },
    () => null,
  );
  return {
    write: (text) => (stream ? stream.write(text) : pending.push(text)),
    opened: () => ready.then(() => undefined),
    async end() {
      const s = await ready;
      if (!s || s.destroyed) return;
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.once('error', () => resolve());
        s.end();
      });
    },
    get file() {
      return stream?.file ?? folder;
    },
  };
}

export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string; stopWithParent?: boolean },
): ManagedProcess {
  const log = rotatingLog(options.logFile);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...(options.env ?? process.env), ...(options.stopWithParent ? { USAGEGRAPH_STOP_WITH_PARENT: '1' } : {}) },
    stdio: [options.stopWithParent ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  // Both streams, so a crash (what the runtime itself prints on stderr) is kept beside the service's own lines.
  const drained: Array<Promise<void>> = [];
  for (const out of [child.stdout, child.stderr]) {
    if (!out) continue;
    out.setEncoding('utf8');
    out.on('data', (text: string) => log.write(text));
    drained.push(new Promise((resolve) => out.once('close', resolve)));
  }
  // Output can still be in the pipes when the process exits: the log closes once both are read to the end.
  void Promise.all(drained).then(() => log.end());
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? (signal ? 128 : null));
    });
    child.once('error', () => resolve(-1));
  });
  return {
    name,
    child,
    get logFile() {
      return log.file;
    },
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** How long a process may take to become ready: generous, since a shared 2-core machine can be slow to start seven. */

/** Polls a URL until it answers 2xx; fails early if the process behind it exits. */
export async function waitForHttp(
  url: string,
  processes: ManagedProcess[],
  timeoutMs = config().USAGEGRAPH_READY_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: string | undefined;
  for (const p of processes)
    void p.exited.then((code) => (exitedWith ??= `${p.name} exited with code ${code}; see ${p.logFile}`));
  for (;;) {
    if (exitedWith) throw new Error(exitedWith);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(
        `${url} did not become ready within ${timeoutMs / 1000}s; see ${processes.map((p) => p.logFile).join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 150));
  }
}

export async function waitForTcp(
  host: string,
  port: number,
  process: ManagedProcess,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void process.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${process.name} exited while starting; see ${process.logFile}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port }, () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(
        `${process.name} did not listen on ${host}:${port} within ${timeoutMs / 1000}s; see ${process.logFile}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Remembers what a run started, so the next run in the same data folder can stop leftovers of a run that was killed
 * outright (a database still holding its files, a port still taken).
 */
export class ProcessRegistry {
  constructor(private readonly file: string) {}

  async stopLeftovers(report: (message: string) => void): Promise<void> {
    let entries: Array<{ pid: number; command: string }>;
    try {
      entries = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      return;
    }
    for (const { pid, command } of entries) {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue;
      }
      if (cmdline.trim() !== command) continue;
      report(`stopping pid ${pid} left running by an earlier run: ${command.slice(0, 120)}`);
      const alive = () => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
      process.kill(pid, 'SIGTERM');
      for (let waited = 0; alive() && waited < 5_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      if (alive()) process.kill(pid, 'SIGKILL');
    }
    rmSync(this.file, { force: true });
  }

  record(processes: ManagedProcess[]): void {
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(
      this.file,
      JSON.stringify(
        processes.filter((p) => p.child.pid).map((p) => ({ pid: p.child.pid, command: p.child.spawnargs.join(' ') })),
      ),
    );
  }

  clear(): void {
    rmSync(this.file, { force: true });
  }
}
