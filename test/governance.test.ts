// Governance as its users meet it: released contract versions served at their own paths, a new release picked up
// under live traffic without a restart (and a broken one refused), product teams' usage-type files applied through
// the graph, and the record of what clients really send.
import { reloadConfig } from '../lib/config';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kind, visit, type DocumentNode } from 'graphql';
import { startGateway, type RunningGateway } from '../gateway/server';
import { composeSupergraph, subgraphServices } from '../contracts/composition';
import { writeRelease } from '../contracts/releases';
import { applyUsageTypes, USAGE_TYPES_DIR } from '../contracts/usage-type-files';
import { graphql, mustGraphql } from '../runtime/graph-client';
import { clientAs, eventually, gatewayUrl, keyFor, unique } from './support';

const SCHEMA = join(__dirname, '..', 'schema');

describe('a gateway serving released versions from its schema folder', () => {
  let gateway: RunningGateway;
  let dir: string;
  const saved = { ...process.env };
  const at = (path: string) => gateway.url.replace(/\/graphql$/, path);
  const ask = (path: string, query: string, role: Parameters<typeof keyFor>[0] = 'platform') =>
    graphql(at(path), query, {}, { credential: keyFor(role) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'schema-'));
    cpSync(SCHEMA, dir, { recursive: true });
    for (const contract of ['customer-success', 'product']) {
      writeRelease({
        contract,
        sdl: readFileSync(join(SCHEMA, 'contracts', `${contract}.graphql`), 'utf8'),
        major: false,
        changes: [],
        dir: join(dir, 'releases'),
      });
    }
    process.env.USAGEGRAPH_SCHEMA_POLL_MS = '200';
    process.env.LOG_LEVEL = process.env.DEBUG_RELOAD ? 'info' : 'silent';
    reloadConfig(); // this gateway runs in this process, with this environment
    gateway = await startGateway({ port: 0, schemaDir: dir });
  });
  afterAll(async () => {
    process.env = saved;
    reloadConfig();
    await gateway?.stop();
  });

  it('refuses at a contract version’s path what that version does not have, and answers what it has', async () => {
    const refused = await ask(
      '/graphql/customer-success/v1',
      'mutation($id: ID!) { postInvoice(invoiceId: $id) { id } }',
    );
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'GRAPHQL_VALIDATION_FAILED',
      contract: 'customer-success/v1',
    });
    expect(refused.errors?.[0]?.message).toMatch(
      /not part of the customer-success\/v1 contract: the contract has no mutation/,
    );
    const field = await ask('/graphql/customer-success/v1', '{ apiKeys { nodes { id } } }');
    expect(field.errors?.[0]?.message).toMatch(
      /not part of the customer-success\/v1 contract: Cannot query field "apiKeys"/,
    );
    const product = await ask(
      '/graphql/product/v1',
      '{ usageTypes(first: 1) { nodes { key } } invoices(first: 1) { nodes { id } } }',
    );
    expect(product.errors?.[0]?.message).toMatch(/Cannot query field "invoices"/);
    const ok = await ask(
      '/graphql/customer-success/v1',
      '{ invoices(first: 1) { nodes { id number } } }',
      'customer-success',
    );
    expect(ok.errors).toBeUndefined();
    expect((await ask('/graphql/finance/v9', '{ __typename }')).status).toBe(404);
  });

  it('picks up a new release under live traffic without a failed request, and refuses a broken one', async () => {
    const failures: string[] = [];
    let answered = 0;
    let running = true;
    const loop = async () => {
      while (running) {
        const r = await ask('/graphql', '{ legalEntities { code } }');
        if (r.status !== 200 || r.errors) failures.push(JSON.stringify(r.errors ?? r.status));
        else answered++;
      }
    };
    const workers = [loop(), loop(), loop(), loop()];

    // Release: a finance v1 appears, and a new supergraph hides LegalEntity.name.
    writeRelease({
      contract: 'finance',
      sdl: readFileSync(join(SCHEMA, 'contracts', 'finance.graphql'), 'utf8'),
      major: false,
      changes: [],
      dir: join(dir, 'releases'),
    });
    const services = subgraphServices().map((s) =>
      s.name === 'subscriptions' ? { ...s, typeDefs: inaccessible(s.typeDefs, 'LegalEntity', 'name') } : s,
    );
    writeFileSync(join(dir, 'supergraph.graphql'), composeSupergraph(services).supergraphSdl);
    await eventually(
      'the new supergraph to be served',
      async () =>
        (await ask('/graphql', '{ legalEntities { name } }')).errors?.[0]?.message.includes('Cannot query field'),
      15_000,
    );
    expect(
      (await ask('/graphql/finance/v1', '{ accountingPeriods(first: 1) { nodes { key } } }', 'finance')).errors,
    ).toBeUndefined();

    // A broken artefact is refused: the last good one keeps serving.
    writeFileSync(join(dir, 'supergraph.graphql'), 'this is not a supergraph');
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await ask('/graphql', '{ legalEntities { code } }')).errors).toBeUndefined();
    expect((await ask('/graphql', '{ legalEntities { name } }')).errors?.[0]?.message).toMatch(/Cannot query field/);

    running = false;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(20);
  }, 60_000);
});

/** The subgraph SDL with `@inaccessible` on one field: what a release that hides a field looks like. */
function inaccessible(typeDefs: DocumentNode, type: string, field: string): DocumentNode {
  return visit(typeDefs, {
    FieldDefinition(node, _k, _p, _path, ancestors) {
      const owner = ancestors[ancestors.length - 1] as { name?: { value: string } };
      if (owner?.name?.value !== type || node.name.value !== field) return undefined;
      return {
        ...node,
        directives: [
          ...(node.directives ?? []),
          { kind: Kind.DIRECTIVE, name: { kind: Kind.NAME, value: 'inaccessible' } },
        ],
      };
    },
  });
}

describe('usage types declared as schema files', () => {
  it('are registered and activated through the graph with a product key, idempotently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'usage-types-'));
    cpSync(join(USAGE_TYPES_DIR, 'directives.graphql'), join(dir, 'directives.graphql'));
    const key = unique('seats').toLowerCase();
    const v1 = `"Seats in use." type Seats @usageType(key: "${key}", version: "1.0", unit: "seat", productLine: "platform", aggregation: MAX, aggregatedField: "seats") { "Seats." seats: Int! }`;
    const v11 = `"Seats in use." type Seats11 @usageType(key: "${key}", version: "1.1", unit: "seat", productLine: "platform", aggregation: MAX, aggregatedField: "seats") { "Seats." seats: Int! "Team." team: String }`;
    writeFileSync(join(dir, 'seats.graphql'), `${v1}\n${v11}`);
    const product = <T>(query: string, variables: Record<string, unknown>) =>
      mustGraphql<T>(gatewayUrl(), query, variables, { credential: keyFor('product') });

    const first = await applyUsageTypes({ dir, graphql: product });
    expect(first.map((r) => `${r.outcome} ${r.version} ${r.status}`)).toEqual([
      'REGISTERED 1.0 ACTIVE',
      'REGISTERED 1.1 ACTIVE',
    ]);
    const again = await applyUsageTypes({ dir, graphql: product });
    expect(again.map((r) => r.outcome)).toEqual(['UNCHANGED', 'UNCHANGED']);
    const lock = JSON.parse(readFileSync(join(dir, 'applied.json'), 'utf8'));
    expect(Object.keys(lock[key])).toEqual(['1.0', '1.1']);

    // A breaking 1.2 is refused before anything is registered.
    writeFileSync(
      join(dir, 'seats.graphql'),
      `${v1}\n${v11}\n${v11.replace('"1.1"', '"1.2"').replace('Seats11', 'Seats12').replace('seats: Int!', 'seats: Decimal!')}`,
    );
    await expect(applyUsageTypes({ dir, graphql: product })).rejects.toThrow(
      /breaking against 1\.1: field "seats" changed type/,
    );
    const { usageTypeVersions } = await clientAs('product').ok(
      `query($k: String!) { usageTypeVersions(key: $k) { nodes { version } } }`,
      { k: key },
    );
    expect(usageTypeVersions.nodes.map((n: { version: string }) => n.version)).toEqual(['1.1', '1.0']);
  });
});

describe('the record of operations clients send', () => {
  it('counts each operation with its client, contract path and the schema coordinates it uses', async () => {
    const client = unique('dashboard');
    for (let i = 0; i < 3; i++) {
      await graphql(
        gatewayUrl(),
        'query Dashboard { legalEntities { code roundingMode } }',
        {},
        {
          credential: keyFor('finance'),
          headers: { 'apollographql-client-name': client },
        },
      );
    }
    // The gateway writes its record every USAGEGRAPH_OPERATION_FLUSH_MS: on a loaded machine the three calls can span
    // two writes, so wait for all three to be written (a count that never reaches 3, or passes it, still fails).
    const recorded = await eventually(
      'the gateway to write its record of all three calls',
      async () => {
        const { operationUsage } = await clientAs('platform').ok(
          `{ operationUsage(days: 1) { operationName client contract count coordinates } }`,
        );
        const found = operationUsage.find((o: { client: string }) => o.client === client);
        return found?.count >= 3 ? found : undefined;
      },
      20_000,
    );
    expect(recorded).toEqual({
      operationName: 'Dashboard',
      client,
      contract: 'full',
      count: 3,
      coordinates: ['LegalEntity.code', 'LegalEntity.roundingMode', 'Query.legalEntities'],
    });
  });
});

describe('the released contract versions of this repository', () => {
  it('are served at their paths by the running gateway, each to its own audience', async () => {
    const roleOf = {
      finance: 'finance',
      'customer-success': 'customer-success',
      product: 'product',
      'internal-tools': 'internal-tool',
    } as const;
    for (const [audience, role] of Object.entries(roleOf)) {
      const r = await graphql(
        gatewayUrl().replace(/\/graphql$/, `/graphql/${audience}/v1`),
        '{ viewer { roles } }',
        {},
        {
          credential: keyFor(role),
        },
      );
      expect({ audience, errors: r.errors, status: r.status }).toEqual({ audience, errors: undefined, status: 200 });
    }
    // What a version does not have is refused there, even for a role that may use it on the full graph.
    const outside = await graphql(
      gatewayUrl().replace(/\/graphql$/, '/graphql/product/v1'),
      '{ invoices { nodes { id } } }',
      {},
      {
        credential: keyFor('platform'),
      },
    );
    expect(outside.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
