// After every end-to-end test, hledger itself checks the shared ledger's journal: it parses, every transaction
// balances, every balance assertion holds. A test that left the ledger broken fails here, named.
import { execFileSync } from 'node:child_process';

afterEach(() => {
  const journal = process.env.USAGEGRAPH_TEST_JOURNAL;
  if (!journal) return;
  try {
    execFileSync('hledger', ['-f', journal, 'check'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`hledger check failed on ${journal}: ${String((error as { stderr?: Buffer }).stderr ?? error)}`, {
      cause: error,
    });
  }
});
