// How a server takes its port: it binds it itself (no check-then-bind race with another system), retries a port still
// held by its own predecessor, falls back to any free port when the launcher allows it, and reports what it got.
import { config } from './config';
import type http from 'node:http';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

/** This process's identity: the launcher names it, so what answers on a port can be checked to be its own child. */
let ownInstanceId: string | undefined;
/** This process's instance id: the launcher's (USAGEGRAPH_INSTANCE_ID), else a random one, fixed for its life. */
export const INSTANCE_ID = (): string => (ownInstanceId ??= config().USAGEGRAPH_INSTANCE_ID ?? `inst-${randomUUID()}`);

function bind(server: http.Server, port: number, host: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      resolve(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(null);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Listens on `port` (0: any free port). A taken port is retried for `retryMs` (a restarted service's predecessor may
 * still be closing it), then, when `anyPortOnConflict`, any free port is taken; otherwise the error names the port.
 */
export async function listenOn(
  server: http.Server,
  options: { port: number; host: string; anyPortOnConflict?: boolean; retryMs?: number },
): Promise<number> {
  const deadline = Date.now() + (options.port === 0 ? 0 : (options.retryMs ?? 2_000));
  for (;;) {
    const error = await bind(server, options.port, options.host);
    if (!error) return (server.address() as AddressInfo).port;
    if (error.code !== 'EADDRINUSE') throw error;
    if (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    if (options.anyPortOnConflict) {
      const fallback = await bind(server, 0, options.host);
      if (fallback) throw fallback;
      return (server.address() as AddressInfo).port;
    }
    throw new Error(
      `port ${options.port} on ${options.host} is taken by another process; set PORT to a free port (or 0 for any)`,
    );
  }
}

/** The port settings of a service process: PORT (0 for any), and whether the launcher lets it move when PORT is taken. */
export function portFromEnvironment(defaultPort: number): { port: number; anyPortOnConflict: boolean } {
  return { port: config().PORT ?? defaultPort, anyPortOnConflict: config().USAGEGRAPH_PORT_FALLBACK };
}

/** Tells the launcher where this process listens: a file named by its instance id in the run folder, if it has one. */
export function announceListening(service: string, url: string, port: number): void {
  const runDir = config().USAGEGRAPH_RUN_DIR;
  if (!runDir) return;
  const dir = join(runDir, 'instances');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${INSTANCE_ID()}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify({ service, instanceId: INSTANCE_ID(), pid: process.pid, port, url }));
  renameSync(`${file}.tmp`, file);
}
