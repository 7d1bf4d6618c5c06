// Where a running system can be found by the commands that work on it (schema:operations, usage-types:apply): the
// launcher writes <data>/run/system.json when everything is up and removes it when it stops. No secrets in it.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface SystemState {
  gatewayUrl: string;
  mongoUri: string;
  dbPrefix: string;
  startedAt: string;
}

export const stateFile = (dataDir: string) => join(dataDir, 'run', 'system.json');

export function writeSystemState(dataDir: string, state: SystemState): void {
  mkdirSync(dirname(stateFile(dataDir)), { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(dataDir), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export function clearSystemState(dataDir: string): void {
  rmSync(stateFile(dataDir), { force: true });
}

/** The system `npm start` runs from this data folder (USAGEGRAPH_DATA_DIR, else ./data), if one runs. */
export function runningSystemState(dataDir = process.env.USAGEGRAPH_DATA_DIR ?? join(__dirname, '..', 'data')) {
  const file = stateFile(dataDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as SystemState) : undefined;
}
