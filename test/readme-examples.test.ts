// The README's "Using it" examples run as written, in order, on top of the demo data `npm start` loads — and so does
// the lineage query `npm start` prints. An example that rots (a renamed field, a key the demo already uses) fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import { LINEAGE_QUERY, loadDemoData } from '../scripts/demo-data';
import { client, gatewayUrl, keyFor } from './support';

interface Example {
  /** Where it is, for the failure message: the README line of its block and the operation's first field. */
  name: string;
  query: string;
  /** The variables the operation declares; the block's comments give their values. */
  declares: string[];
  /** `# $name: <JSON>` under the block. */
  literals: Record<string, unknown>;
  /** `# $name = field.path` under the block: taken from an earlier example's answer. */
  fromAnswers: Record<string, string>;
}

/** The ```graphql blocks of the "Using it" section, one example per operation, with the block's variable comments. */
function readmeExamples(readme: string): Example[] {
  const section = readme.slice(
    readme.indexOf('\n## Using it\n'),
    readme.indexOf('\n## ', readme.indexOf('\n## Using it\n') + 1),
  );
  const offset = readme.slice(0, readme.indexOf('\n## Using it\n')).split('\n').length + 1;
  const examples: Example[] = [];
  for (const block of section.matchAll(/```graphql\n([\s\S]*?)```/g)) {
    const line = offset + section.slice(0, block.index).split('\n').length;
    const literals: Record<string, unknown> = {};
    const fromAnswers: Record<string, string> = {};
    let pending: { name: string; text: string } | null = null;
    for (const raw of block[1]!.split('\n').filter((l) => l.startsWith('#'))) {
      const text = raw.replace(/^#\s?/, '');
      const start = /^\s*\$(\w+)\s*([:=])\s*(.*)$/.exec(text);
      if (start && start[2] === '=') fromAnswers[start[1]!] = start[3]!.trim();
      if (start && start[2] === ':') pending = { name: start[1]!, text: start[3]! };
      else if (!start && pending) pending.text += `\n${text}`;
      if (!pending) continue;
      try {
        literals[pending.name] = JSON.parse(pending.text);
        pending = null;
      } catch {
        // The JSON goes on in the next comment line.
      }
    }
    if (pending) throw new Error(`README line ${line}: $${pending.name} is not valid JSON: ${pending.text}`);
    for (const definition of parse(block[1]!).definitions) {
      const operation = definition as OperationDefinitionNode;
      const first = operation.selectionSet.selections.find((s) => s.kind === Kind.FIELD);
      examples.push({
        name: `README line ${line}: ${operation.operation} ${first && 'name' in first ? first.name.value : ''}`,
        query: print(operation),
        declares: (operation.variableDefinitions ?? []).map((v) => v.variable.name.value),
        literals,
        fromAnswers,
      });
    }
  }
  return examples;
}

/** Statuses and counts that mean an example ran but did not do what it shows (events rejected, a rating failed). */
function failures(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => failures(v, `${path}[${i}]`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const here = path ? `${path}.${key}` : key;
    if (key === 'status' && (v === 'REJECTED' || v === 'FAILED')) return [`${here} is ${v}`];
    if ((key === 'rejected' || key === 'failed') && typeof v === 'number' && v > 0) return [`${here} is ${v}`];
    return failures(v, here);
  });
}

const at = (answer: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined),
      answer,
    );

const examples = readmeExamples(readFileSync(join(__dirname, '..', 'README.md'), 'utf8'));
let demo: Awaited<ReturnType<typeof loadDemoData>>;

beforeAll(async () => {
  demo = await loadDemoData(gatewayUrl(), keyFor('platform'));
}, 120_000);

it('finds the examples (a README parse that found none would pass)', () => {
  expect(examples.length).toBeGreaterThanOrEqual(12);
  const fields = examples.map((e) => e.name.replace(/^.*: \w+ /, ''));
  for (const f of [
    'usageTypes',
    'registerUsageType',
    'createPricePlan',
    'createSubscription',
    'ingestUsageEvents',
    'customerUsage',
    'rateBillingPeriod',
    'generateInvoice',
    'finalizeInvoice',
    'postInvoice',
    'usageEventBySource',
    'erpPostings',
  ])
    expect(fields).toContain(f);
});

it('runs every example in README order, each without an error', async () => {
  const answers: unknown[] = [];
  const g = client('readme-examples');
  for (const example of examples) {
    const variables: Record<string, unknown> = {};
    for (const name of example.declares) {
      if (name in example.literals) {
        variables[name] = example.literals[name];
        continue;
      }
      const path = example.fromAnswers[name];
      if (!path) throw new Error(`${example.name}: no comment under the example gives $${name}`);
      const found = [...answers].reverse().find((a) => at(a, path) !== undefined);
      if (found === undefined) throw new Error(`${example.name}: no earlier example answered ${path} (for $${name})`);
      variables[name] = at(found, path);
    }
    const result = await g.raw(example.query, variables);
    expect({ example: example.name, errors: result.errors ?? [] }).toEqual({ example: example.name, errors: [] });
    expect({ example: example.name, failures: failures(result.data) }).toEqual({ example: example.name, failures: [] });
    answers.push(result.data);
  }
  // The walk from the event reached the ERP document the examples posted.
  const lineage = answers.find((a) => at(a, 'usageEventBySource')) as any;
  const charges = lineage.usageEventBySource.aggregate.ratedCharges.nodes;
  const postings = charges.flatMap((c: any) => c.invoiceLines.flatMap((l: any) => l.invoice.erpPostings));
  expect(postings.map((p: any) => p.status)).toContain('POSTED');
}, 120_000);

it('has demo data with a taxed invoice, a deferred fee and a credit note, all in the ledger', async () => {
  const g = client('readme-examples');
  const POSTED = `erpPostings { kind status entry { lines { account side amount { amount } } } }`;
  const { invoiceByNumber: acme } = await g.ok(
    `query($n: String!) { invoiceByNumber(number: $n) { taxTotal { amount } taxLines { jurisdiction } ${POSTED}
      notes { number kind total { amount } erpPostings { status } } } }`,
    { n: demo.invoiceNumbers[0] },
  );
  expect(Number(acme.taxTotal.amount)).toBeGreaterThan(0);
  expect(acme.taxLines.map((t: any) => t.jurisdiction)).toEqual(['US-CA']);
  const lines = acme.erpPostings[0].entry.lines.map((l: any) => [l.account, l.side]);
  expect(lines).toContainEqual(['liabilities:deferred-revenue:us01', 'CREDIT']);
  expect(lines).toContainEqual(['liabilities:tax:us-ca', 'CREDIT']);
  expect(acme.notes).toEqual([expect.objectContaining({ kind: 'CREDIT', erpPostings: [{ status: 'POSTED' }] })]);
  expect(demo.noteNumbers).toEqual([acme.notes[0].number]);
  const { invoiceByNumber: globex } = await g.ok(
    `query($n: String!) { invoiceByNumber(number: $n) { taxTotal { amount } ${POSTED} } }`,
    { n: demo.invoiceNumbers[1] },
  );
  expect(globex.taxTotal.amount).toBe('0.00');
  expect(globex.erpPostings[0].status).toBe('POSTED');
  // Loading it again issues nothing new.
  expect((await loadDemoData(gatewayUrl(), keyFor('platform'))).noteNumbers).toEqual(demo.noteNumbers);
}, 120_000);

it('runs the lineage query `npm start` prints, for a demo invoice', async () => {
  const number = demo.invoiceNumbers[0]!;
  const result = await client().raw(LINEAGE_QUERY, { number });
  expect(result.errors).toBeUndefined();
  expect(result.data.invoiceByNumber).toMatchObject({ number, status: 'FINALIZED' });
  expect(result.data.invoiceByNumber.lines[0].ratedCharge.aggregate.events.nodes.length).toBeGreaterThan(0);
});
