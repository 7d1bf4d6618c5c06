// Keeps the system's processes running: a child that dies unexpectedly is started again after a backoff, and the
// launcher says so; only a child that keeps crashing stops the system, with the reason.
import { retryDelayMs } from '../lib/retry';
import type { ManagedProcess } from './processes';

export interface SupervisionPolicy {
  /** More crashes than this within `windowMs` and the child is given up (and with it the system). */
  maxCrashes: number;
  windowMs: number;
  /** Backoff before the n-th restart within the window: base × 2^(n-1), capped, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_SUPERVISION: SupervisionPolicy = {
  maxCrashes: 5,
  windowMs: 120_000,
  baseDelayMs: 500,
  maxDelayMs: 15_000,
};

export interface SupervisorEvents {
  /** A line for the operator: what died, what the launcher does about it. */
  report(message: string): void;
  /** A child kept crashing: the system cannot run; stop it. */
  giveUp(reason: string): void;
  /** The set of current processes changed (a restart): record pids, rewrite the address book. */
  changed?(name: string): void;
}

interface Entry {
  name: string;
  start: () => Promise<ManagedProcess>;
  current: ManagedProcess;
  crashes: number[];
  restarts: number;
  restarting: boolean;
}

function describeExit(p: ManagedProcess, code: number | null): string {
  const signal = p.child.signalCode;
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

export class Supervisor {
  private readonly entries = new Map<string, Entry>();
  private stopping = false;
  private readonly waiters = new Map<string, Array<() => void>>();

  constructor(
    private readonly events: SupervisorEvents,
    private readonly policy: SupervisionPolicy = DEFAULT_SUPERVISION,
  ) {}

  /** Starts a child and keeps it running; `start` must resolve once the child is ready (and fail if it is not). */
  async add(name: string, start: () => Promise<ManagedProcess>): Promise<ManagedProcess> {
    const current = await start();
    const entry: Entry = { name, start, current, crashes: [], restarts: 0, restarting: false };
    this.entries.set(name, entry);
    this.watch(entry);
    return current;
  }

  current(name: string): ManagedProcess | undefined {
    return this.entries.get(name)?.current;
  }

  processes(): ManagedProcess[] {
    return [...this.entries.values()].map((e) => e.current);
  }

  restartsOf(name: string): number {
    return this.entries.get(name)?.restarts ?? 0;
  }

  /** Resolves when `name` has been restarted and is ready again. */
  nextRestart(name: string): Promise<void> {
    return new Promise((resolve) => this.waiters.set(name, [...(this.waiters.get(name) ?? []), resolve]));
  }

  /** Stops supervising: the exits that follow are intended. */
  stopSupervising(): void {
    this.stopping = true;
  }

  private watch(entry: Entry): void {
    const watched = entry.current;
    void watched.exited.then((code) => {
      if (this.stopping || entry.current !== watched) return;
      void this.restart(entry, describeExit(watched, code), watched.logFile);
    });
  }

  private async restart(entry: Entry, exit: string, logFile: string): Promise<void> {
    const now = Date.now();
    entry.crashes = [...entry.crashes.filter((t) => now - t < this.policy.windowMs), now];
    const n = entry.crashes.length;
    if (n > this.policy.maxCrashes) {
      this.stopping = true;
      this.events.giveUp(
        `${entry.name} crashed ${n} times within ${this.policy.windowMs / 1000}s (last: ${exit}); see ${logFile}`,
      );
      return;
    }
    const delay = retryDelayMs(n, this.policy);
    this.events.report(
      `${entry.name} stopped unexpectedly (${exit}); restarting it in ${(delay / 1000).toFixed(1)}s ` +
        `(crash ${n} of at most ${this.policy.maxCrashes} within ${this.policy.windowMs / 1000}s); log: ${logFile}`,
    );
    await new Promise((r) => setTimeout(r, delay));
    if (this.stopping) return;
    let next: ManagedProcess;
    try {
      next = await entry.start();
    } catch (error) {
      await this.restart(entry, `could not start again: ${(error as Error).message}`, logFile);
      return;
    }
    if (this.stopping) {
      await next.stop();
      return;
    }
    entry.current = next;
    entry.restarts++;
    this.events.report(`${entry.name} restarted (pid ${next.child.pid}) and is ready again`);
    this.events.changed?.(entry.name);
    this.watch(entry);
    for (const resolve of this.waiters.get(entry.name) ?? []) resolve();
    this.waiters.delete(entry.name);
  }
}
