// Runs a server as a process: starts it, stops it cleanly on SIGINT/SIGTERM, exits non-zero if it cannot start.
import type { Logger } from './logger';

export function runUntilSignalled(start: () => Promise<{ stop(): Promise<void> }>, log: Logger, what: string): void {
  // A crash is still a crash (exit 1), but its line goes through the logger: no payload in the message, no install path.
  const crash = (kind: string) => (error: unknown) => {
    log.fatal({ err: error }, `${what}: ${kind}; stopping`);
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));
  start().then(
    (running) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        running.stop().then(
          () => process.exit(0),
          (error) => {
            log.error({ err: error }, `${what} did not stop cleanly`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // Started by the runtime with a pipe on stdin: when the parent dies, even by SIGKILL, the pipe closes and we stop.
      if (process.env.USAGEGRAPH_STOP_WITH_PARENT === '1') {
        process.stdin.on('end', stop);
        process.stdin.on('close', stop);
        process.stdin.resume();
      }
    },
    (error) => {
      log.fatal({ err: error }, `${what} failed to start`);
      process.exit(1);
    },
  );
}
