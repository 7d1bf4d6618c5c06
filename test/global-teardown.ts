// Stops everything the global setup started and removes its data (kept when USAGEGRAPH_KEEP_TEST_DATA=1).
import { rmSync } from 'node:fs';
import type { RunningSystem } from '../runtime/system';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__USAGEGRAPH_SYSTEM__ as
    { system: RunningSystem; dataDir: string; issuer: { stop(): Promise<void> } } | undefined;
  if (!state) return;
  await state.system.stop();
  await state.issuer.stop();
  if (process.env.USAGEGRAPH_KEEP_TEST_DATA === '1') {
    process.stderr.write(`[test teardown] test data and logs kept in ${state.dataDir}\n`);
  } else {
    rmSync(state.dataDir, { recursive: true, force: true });
  }
}
