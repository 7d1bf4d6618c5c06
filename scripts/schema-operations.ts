// `npm run schema:operations -- [--days N] [--out file]`: exports the record of operations clients sent (from the
// running system's database) for `schema:check --operations <file>` in CI.
import { writeFileSync } from 'node:fs';
import { connectMongo, databaseName } from '../lib/mongo';
import { runningSystemState } from '../runtime/system-state';
import { operationUsage } from '../subgraphs/access/operation-usage';
import { accessStore } from '../subgraphs/access/store';
import type { RecordedOperation } from '../contracts/schema-check';

/** From MONGODB_URI (and USAGEGRAPH_DB_PREFIX), else from the system `npm start` runs from this data folder. */
export async function readOperationRecord(days: number): Promise<RecordedOperation[]> {
  const running = runningSystemState();
  const uri = process.env.MONGODB_URI ?? running?.mongoUri;
  if (!uri) throw new Error('no database: set MONGODB_URI, or run this while `npm start` runs from this folder');
  const prefix = process.env.USAGEGRAPH_DB_PREFIX ?? running?.dbPrefix;
  if (prefix) process.env.USAGEGRAPH_DB_PREFIX = prefix;
  const client = await connectMongo(uri);
  try {
    return await operationUsage(accessStore(client.db(databaseName('access'))), days);
  } finally {
    await client.close();
  }
}

if (require.main === module) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const days = Number(arg('days') ?? 30);
  readOperationRecord(days).then(
    (ops) => {
      const text = `${JSON.stringify(ops, null, 2)}\n`;
      const out = arg('out');
      if (out) {
        writeFileSync(out, text);
        console.log(`wrote ${ops.length} operations of the last ${days} days to ${out}`);
      } else process.stdout.write(text);
    },
    (error) => {
      console.error(`could not read the operation record: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
