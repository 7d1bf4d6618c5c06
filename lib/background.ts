// A background job that runs, waits `intervalMs` after it finishes, and runs again; stopping waits for the run in flight.
import type { Logger } from './logger';

export interface BackgroundJob {
  stop(): Promise<void>;
  /** Whether stop() was called: long runs check it between items. */
  readonly stopped: boolean;
}

export function repeatInBackground(
  what: string,
  intervalMs: number,
  log: Logger,
  run: (job: BackgroundJob) => Promise<unknown>,
): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  const job = {
    stopped: false,
    async stop() {
      job.stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
  const schedule = () => {
    if (job.stopped) return;
    timer = setTimeout(() => {
      current = run(job)
        .catch((error) => log.error({ err: error }, `${what} failed; will try again`))
        .finally(schedule);
    }, intervalMs);
  };
  schedule();
  return () => job.stop();
}
