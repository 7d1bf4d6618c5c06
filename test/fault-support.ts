// What the fault tests share: the launcher's record of its processes, and a sender that retries every batch of usage
// events until it is acknowledged, as a telemetry pipeline does (at-least-once; the graph deduplicates by source and id).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RecordedProcess {
  pid: number;
  command: string;
}

/** The processes the launcher of the system in `dataDir` runs now (its run/processes.json). */
export function runningProcesses(dataDir: string): RecordedProcess[] {
  return JSON.parse(readFileSync(join(dataDir, 'run', 'processes.json'), 'utf8')) as RecordedProcess[];
}

/** The pid of the process whose command line contains `entry`, e.g. `subgraphs/usage/main`. */
export function pidOf(dataDir: string, entry: string): number {
  const found = runningProcesses(dataDir).find((p) => p.command.includes(entry));
  if (!found) throw new Error(`no running process runs ${entry}`);
  return found.pid;
}

/** The instance id answering `/ready` beside a GraphQL URL, if anything answers. */
export async function readyInstance(graphqlUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(graphqlUrl.replace(/\/graphql$/, '/ready'), { signal: AbortSignal.timeout(2_000) });
    return res.ok ? ((await res.json()) as { instanceId: string }).instanceId : undefined;
  } catch {
    return undefined;
  }
}

export interface SendReport {
  /** Batches acknowledged: every event stored, duplicate, held or rejected, per the answer. */
  acknowledged: number;
  /** Attempts that failed and were retried, by what the answer said (status and code, or the network error). */
  failures: Map<string, number>;
  accepted: number;
  duplicates: number;
  rejected: number;
}

/** A CloudEvent of one call of `type` by `customer`, with a producer id unique within `source`. */
export const usageCloudEvent = (source: string, type: string, customer: string, id: string) => ({
  specversion: '1.0',
  id,
  source,
  type,
  subject: customer,
  time: '2026-09-10T10:00:00Z',
  data: { calls: 1 },
});

/**
 * Sends `batches` to `/v1/events` with `concurrency` senders, retrying each batch (after a short pause) until the
 * answer acknowledges all of it. `onAcknowledged` sees the running count, e.g. to inject a fault in the middle.
 */
export async function sendUntilAcknowledged(
  eventsUrl: string,
  credential: string,
  batches: object[][],
  options: { concurrency?: number; onAcknowledged?: (count: number) => void; deadlineMs?: number } = {},
): Promise<SendReport> {
  const report: SendReport = { acknowledged: 0, failures: new Map(), accepted: 0, duplicates: 0, rejected: 0 };
  const deadline = Date.now() + (options.deadlineMs ?? 300_000);
  const failed = (why: string) => report.failures.set(why, (report.failures.get(why) ?? 0) + 1);
  let next = 0;
  const sender = async () => {
    for (let i = next++; i < batches.length; i = next++) {
      const body = JSON.stringify(batches[i]);
      for (;;) {
        if (Date.now() > deadline) throw new Error(`batch ${i} was not acknowledged in time`);
        try {
          const res = await fetch(eventsUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/cloudevents-batch+json', authorization: `Bearer ${credential}` },
            body,
            signal: AbortSignal.timeout(60_000),
          });
          const answer = (await res.json()) as {
            accepted?: number;
            duplicates?: number;
            held?: number;
            rejected?: number;
            code?: string;
            errors?: Array<{ extensions?: { code?: string } }>;
          };
          const settled =
            (answer.accepted ?? 0) + (answer.duplicates ?? 0) + (answer.held ?? 0) + (answer.rejected ?? 0);
          if (res.ok && settled === batches[i]!.length) {
            report.acknowledged++;
            report.accepted += answer.accepted ?? 0;
            report.duplicates += answer.duplicates ?? 0;
            report.rejected += answer.rejected ?? 0;
            options.onAcknowledged?.(report.acknowledged);
            break;
          }
          failed(`${res.status} ${answer.code ?? answer.errors?.[0]?.extensions?.code ?? 'no code'}`);
        } catch (error) {
          failed(`network: ${(error as Error).cause ?? (error as Error).message}`.slice(0, 80));
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 2 }, sender));
  return report;
}

/** `total` events split into batches of `size`, ids `<prefix>0`, `<prefix>1`, …. */
export function usageBatches(total: number, size: number, event: (i: number) => object): object[][] {
  return Array.from({ length: Math.ceil(total / size) }, (_, b) =>
    Array.from({ length: Math.min(size, total - b * size) }, (_, i) => event(b * size + i)),
  );
}
