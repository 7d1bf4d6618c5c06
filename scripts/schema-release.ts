// `npm run schema:release <contract|full> [-- --major]`: cuts the next version of a contract (or the full graph's
// baseline) from what is composed now, with its changelog entry. A breaking change needs --major; the previous
// major then gets a sunset date and stays served until it.
import { diff, CriticalityLevel } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';
import { AUDIENCES } from '../contracts/audiences';
import { latestRelease, writeRelease } from '../contracts/releases';
import { checkSchema } from '../contracts/schema-check';
import { canonicalSdl } from '../contracts/composition';

async function main(): Promise<void> {
  const contract = process.argv[2];
  const major = process.argv.includes('--major');
  const names = [...AUDIENCES.map((a) => a.name), 'full'];
  if (!contract || !names.includes(contract)) {
    console.error(`usage: npm run schema:release <${names.join('|')}> [-- --major]`);
    process.exit(2);
  }
  const report = await checkSchema({ cuttingMajor: major ? contract : undefined, operations: [] });
  const blocking = report.failures.filter((f) => !f.startsWith('full graph:') || contract !== 'full');
  if (blocking.length > 0) {
    for (const f of blocking) console.error(`FAIL: ${f}`);
    console.error('fix these before releasing');
    process.exit(1);
  }
  const sdl = contract === 'full' ? canonicalSdl(report.apiSdl) : report.contracts[contract]!;
  const latest = latestRelease(contract);
  const changes = latest ? await diff(buildSchema(latest.sdl), buildSchema(sdl)) : [];
  if (latest && changes.length === 0) {
    console.log(`${contract}: nothing changed since ${latest.version}; nothing to release`);
    return;
  }
  const breaking = changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking);
  if (breaking.length > 0 && !major && contract !== 'full') {
    for (const c of breaking) console.error(`BREAKING: ${c.message}`);
    console.error(`${contract}: these break ${latest!.version}; release them as a new major with -- --major`);
    process.exit(1);
  }
  const release = writeRelease({
    contract,
    sdl,
    major: major || (contract === 'full' && breaking.length > 0),
    changes: changes.map(
      (c) => `${c.criticality.level === CriticalityLevel.NonBreaking ? '' : `${c.criticality.level}: `}${c.message}`,
    ),
  });
  console.log(`released ${contract} ${release.version}: ${release.file}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
