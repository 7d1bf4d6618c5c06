// `npm run schema:check [-- --operations <file> | --from-database] [--days N]`: every governance check, in one run.
// The operation record comes from an exported file (npm run schema:operations) or straight from the database
// (MONGODB_URI and USAGEGRAPH_DB_PREFIX of the running system).
import { config } from '../lib/config';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSchema, type RecordedOperation } from '../contracts/schema-check';
import { composeArtefacts } from './compose';
import { readOperationRecord } from './schema-operations';

const SCHEMA_DIR = join(__dirname, '..', 'schema');

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const days = Number(argument('days') ?? config().USAGEGRAPH_SCHEMA_CHECK_DAYS);
  let operations: RecordedOperation[] | undefined;
  const file = argument('operations');
  if (file) operations = JSON.parse(readFileSync(file, 'utf8')) as RecordedOperation[];
  else if (process.argv.includes('--from-database')) operations = await readOperationRecord(days);
  const report = await checkSchema({
    operations,
    days,
    expectedArtefacts: composeArtefacts().files,
    committed: (path) => {
      try {
        return readFileSync(join(SCHEMA_DIR, path), 'utf8');
      } catch {
        return undefined;
      }
    },
  });
  if (operations) console.log(`checked against ${operations.length} recorded operations of the last ${days} days`);
  for (const n of report.notes) console.log(`note: ${n}`);
  for (const s of report.safe) console.log(`safe: ${s}`);
  for (const d of report.dangerous) console.log(`review: ${d}`);
  for (const f of report.failures) console.error(`FAIL: ${f}`);
  if (report.failures.length > 0) {
    console.error(`schema check failed: ${report.failures.length} problem(s)`);
    process.exit(1);
  }
  console.log('schema check passed');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
