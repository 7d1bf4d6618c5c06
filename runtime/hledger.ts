// The local ERP: hledger-web serving a journal file over its JSON API. Installed from Debian packages when missing.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnManaged, waitForHttp, type ManagedProcess } from './processes';
import type { Progress } from './ferretdb';

const run = promisify(execFile);

async function which(command: string): Promise<string | null> {
  try {
    const { stdout } = await run('sh', ['-c', `command -v ${command}`]);
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

/** hledger-web's path; installs the Debian packages (hledger, hledger-web) when running as root with apt. */
export async function ensureHledgerWeb(progress: Progress): Promise<string> {
  const found = await which('hledger-web');
  if (found) return found;
  const canApt = process.getuid?.() === 0 && (await which('apt-get'));
  if (!canApt) {
    throw new Error(
      'The local ledger server hledger-web is not installed. Install it with `sudo apt-get install hledger hledger-web` (Debian/Ubuntu) or from https://hledger.org/install, or set ERP_JOURNAL_FILE to write an hledger journal file instead.',
    );
  }
  progress('installing the ledger server hledger-web from Debian packages (first run only)…');
  const install = () =>
    run('apt-get', ['install', '-y', '--no-install-recommends', 'hledger', 'hledger-web'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      maxBuffer: 50 * 1024 * 1024,
    });
  try {
    await install();
  } catch {
    progress('  refreshing the package lists (apt-get update)…');
    await run('apt-get', ['update'], { maxBuffer: 50 * 1024 * 1024 });
    await install();
  }
  const installed = await which('hledger-web');
  if (!installed) throw new Error('apt-get finished but hledger-web is still not on PATH');
  progress('installed hledger-web');
  return installed;
}

const JOURNAL_HEADER = `; UsageGraph ledger: written by the erp-postings subgraph through hledger-web. Append-only.
; Each transaction's code is its posting key; tags carry the correlation id and dimensions.

account assets:receivable
account revenue:usage
`;

export interface RunningLedger {
  url: string;
  journalPath: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startHledgerWeb(
  binary: string,
  journalPath: string,
  logFile: string,
  port?: number,
): Promise<RunningLedger> {
  mkdirSync(dirname(journalPath), { recursive: true });
  if (!existsSync(journalPath)) writeFileSync(journalPath, JOURNAL_HEADER);
  port ??= await freePort();
  const proc = spawnManaged(
    'hledger-web',
    binary,
    ['-f', journalPath, '--serve-api', '--host=127.0.0.1', `--port=${port}`],
    { logFile },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/version`, [proc], 30_000);
  return { url, journalPath, process: proc, stop: () => proc.stop() };
}
