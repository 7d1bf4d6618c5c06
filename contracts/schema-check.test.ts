import { readFileSync } from 'node:fs';
import { parse, print, visit } from 'graphql';
import { join } from 'node:path';
import { contractChanges, fullGraphChanges, type RecordedOperation } from './schema-check';

const SCHEMA = join(__dirname, '..', 'schema');
const finance = readFileSync(join(SCHEMA, 'contracts', 'finance.graphql'), 'utf8');
const api = readFileSync(join(SCHEMA, 'api.graphql'), 'utf8');

/** The SDL without one field (or enum value) of a type. */
function without(sdl: string, type: string, member: string): string {
  let found = false;
  const edited = visit(parse(sdl), {
    FieldDefinition(node, _key, _parent, _path, ancestors) {
      const owner = ancestors[ancestors.length - 1] as { name?: { value: string } };
      if (owner?.name?.value === type && node.name.value === member) {
        found = true;
        return null;
      }
      return undefined;
    },
    EnumValueDefinition(node, _key, _parent, _path, ancestors) {
      const owner = ancestors[ancestors.length - 1] as { name?: { value: string } };
      if (owner?.name?.value === type && node.name.value === member) {
        found = true;
        return null;
      }
      return undefined;
    },
  });
  if (!found) throw new Error(`${type}.${member} is not in the schema`);
  return print(edited);
}

const operation = (coordinates: string[], client = 'billing-dashboard'): RecordedOperation => ({
  signature: 'sig-1',
  operationName: 'Dashboard',
  coordinates,
  client,
  contract: 'full',
  count: 42,
  lastSeen: '2026-11-30',
});

describe('a released contract', () => {
  it('is broken by removing a field it exposes: the check names the field and the contract', async () => {
    const changes = await contractChanges('finance v1.0', finance, without(finance, 'Invoice', 'issueDate'));
    expect(changes.breaking).toEqual([
      expect.stringMatching(/^finance v1\.0: BREAKING: Field 'issueDate' was removed from object type 'Invoice'/),
    ]);
  });

  it('takes an additive change as compatible', async () => {
    const added = finance.replace('\ntype Invoice ', '\ntype Extra { "x" x: Int }\n\ntype Invoice ');
    const changes = await contractChanges('finance v1.0', finance, added);
    expect(changes).toEqual({ breaking: [], dangerous: [], compatible: expect.any(Number) });
    expect(changes.compatible).toBeGreaterThan(0);
  });
});

describe('the unversioned full graph', () => {
  const removed = without(api, 'LegalEntity', 'name');

  it('reports a breaking change with the recorded operations and clients it breaks', async () => {
    const result = await fullGraphChanges(api, removed, [operation(['Query.legalEntities', 'LegalEntity.name'])], 30);
    expect(result.failures).toEqual([
      expect.stringMatching(
        /Field 'name' was removed from object type 'LegalEntity'.*breaks 1 recorded operation\(s\): Dashboard by billing-dashboard via full \(42×/,
      ),
    ]);
    expect(result.safe).toEqual([]);
  });

  it('reports it as safe when no recorded operation used it', async () => {
    const result = await fullGraphChanges(api, removed, [operation(['Query.legalEntities', 'LegalEntity.code'])], 30);
    expect(result.failures).toEqual([]);
    expect(result.safe).toEqual([
      expect.stringMatching(/'name' was removed.*safe: no operation used it in the last 30 days/),
    ]);
  });

  it('fails when there is no record to tell who uses it', async () => {
    expect((await fullGraphChanges(api, removed, undefined, 30)).failures[0]).toMatch(/no operation record was given/);
  });

  it('treats a removed enum value as breaking whoever reads or sends that enum', async () => {
    const fewer = without(api, 'RoundingMode', 'HALF_EVEN');
    const uses = await fullGraphChanges(
      api,
      fewer,
      [operation(['Query.legalEntities', 'LegalEntity.roundingMode'])],
      30,
    );
    expect(uses.failures).toEqual([expect.stringMatching(/HALF_EVEN.*breaks 1 recorded/)]);
  });
});
