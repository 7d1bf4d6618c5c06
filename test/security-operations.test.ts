// Generated hostile operations through the gateway, as each role: whatever a client sends — unknown fields, wrong
// argument types, huge numbers, deep or wide selections, broken variables, garbage — the answer is a clear refusal or
// data, never an internal error and never a 5xx.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getNamedType, isObjectType, type GraphQLObjectType } from 'graphql';
import { ROLES } from '../lib/principal';
import { gatewayUrl, keyFor } from './support';

const api = buildSchema(readFileSync(join(__dirname, '..', 'schema', 'api.graphql'), 'utf8'));
const roots = [api.getQueryType()!, api.getMutationType()!];

/** A random selection of fields, following real types some of the way and inventing some. */
function selection(type: GraphQLObjectType, depth: number, rand: () => number): string {
  const fields = Object.values(type.getFields());
  const picks = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => fields[Math.floor(rand() * fields.length)]!);
  return picks
    .map((f, i) => {
      const alias = rand() < 0.2 ? `a${i}: ` : '';
      const args =
        f.args.length && rand() < 0.7 ? `(${f.args.map((a) => `${a.name}: ${hostileValue(rand)}`).join(', ')})` : '';
      const named = getNamedType(f.type);
      const inner = isObjectType(named)
        ? depth > 0 && rand() < 0.8
          ? ` { ${selection(named, depth - 1, rand)} }`
          : ' { __typename }'
        : '';
      return `${alias}${f.name}${args}${inner}`;
    })
    .concat(rand() < 0.1 ? ['notAField { x }'] : [])
    .join(' ');
}

function hostileValue(rand: () => number): string {
  const values = [
    '"x"',
    '""',
    '"$ne"',
    '{ _id: { $ne: null } }'.replace(/\$/g, ''),
    '12345678901234567890',
    '-1',
    '1.5',
    'true',
    'null',
    '["a", "b"]',
    `"${'z'.repeat(5_000)}"`,
    '{ first: 1 }',
    'ACTIVE',
    '"2026-13-45"',
    '"\\u0000"',
  ];
  return values[Math.floor(rand() * values.length)]!;
}

const garbage = [
  '{',
  '}}}}',
  'query { ... on Nothing { x } }',
  'subscription { x }',
  'query($v: Int!) { legalEntities { code } }',
  `{ ${'legalEntities { code } '.repeat(3)} }`,
  'fragment F on Query { ...F } { ...F }',
  '{ __schema { types { name } } }',
  `{ ${Array.from({ length: 200 }, (_, i) => `a${i}: __typename`).join(' ')} }`,
];

it('never answers a generated hostile operation with an internal error or a 5xx', async () => {
  const outcomes = { operations: 0, data: 0, refused: 0, statuses: new Map<number, number>() };
  const internal: string[] = [];
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.constantFrom(...ROLES),
      fc.integer({ min: 0, max: 4 }),
      fc.option(fc.constantFrom(...garbage), { freq: 5 }),
      fc.jsonValue({ maxDepth: 3 }),
      async (seed, role, depth, raw, variables) => {
        let state = seed;
        const rand = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
        const root = roots[Math.floor(rand() * roots.length)]!;
        const query = raw ?? `${root === roots[1] ? 'mutation' : 'query'} { ${selection(root, depth, rand)} }`;
        const res = await fetch(gatewayUrl(), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${keyFor(role)}` },
          body: JSON.stringify({
            query,
            variables: typeof variables === 'object' && !Array.isArray(variables) ? variables : { v: variables },
          }),
        });
        const body = (await res.json().catch(() => ({}))) as {
          data?: unknown;
          errors?: Array<{ extensions?: { code?: string } }>;
        };
        outcomes.operations++;
        outcomes.statuses.set(res.status, (outcomes.statuses.get(res.status) ?? 0) + 1);
        if (body.data && !body.errors) outcomes.data++;
        else outcomes.refused++;
        const codes = (body.errors ?? []).map((e) => e.extensions?.code);
        if (res.status >= 500 || codes.includes('INTERNAL_SERVER_ERROR'))
          internal.push(`${res.status} ${codes.join(',')} ${query.slice(0, 300)}`);
      },
    ),
    { numRuns: 600, seed: 20261130 },
  );
  process.stdout.write(
    `hostile operations: ${outcomes.operations} sent, ${outcomes.data} answered with data, ${outcomes.refused} refused; statuses ${JSON.stringify(Object.fromEntries(outcomes.statuses))}; internal errors ${internal.length}\n`,
  );
  expect(internal).toEqual([]);
}, 300_000);
