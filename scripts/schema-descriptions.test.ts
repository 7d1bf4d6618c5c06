// The subgraph schemas are the API's documentation: every element is described, and shared elements say the same thing.
import { buildSubgraphSchema } from '@apollo/subgraph';
import { Kind, parse, type DefinitionNode, type StringValueNode, type TypeNode } from 'graphql';
import { subgraphSdl } from '../lib/schema-files';
import { SUBGRAPH_NAMES } from '../lib/topology';

interface Element {
  subgraph: string;
  coordinate: string;
  description: string | undefined;
}

const text = (d: StringValueNode | undefined) => d?.value.trim() || undefined;

/** Every type, field, argument, input field, enum value and scalar a subgraph declares (federation adds its own later). */
function elementsOf(subgraph: string, definition: DefinitionNode): Element[] {
  if (!('name' in definition) || !definition.name || !('description' in definition)) return [];
  const type = definition.name.value;
  const out: Element[] = [{ subgraph, coordinate: type, description: text(definition.description) }];
  if ('fields' in definition)
    for (const field of definition.fields ?? []) {
      out.push({ subgraph, coordinate: `${type}.${field.name.value}`, description: text(field.description) });
      if (field.kind === Kind.FIELD_DEFINITION)
        for (const arg of field.arguments ?? [])
          out.push({
            subgraph,
            coordinate: `${type}.${field.name.value}(${arg.name.value}:)`,
            description: text(arg.description),
          });
    }
  if ('values' in definition)
    for (const value of definition.values ?? [])
      out.push({ subgraph, coordinate: `${type}.${value.name.value}`, description: text(value.description) });
  return out;
}

const elements = SUBGRAPH_NAMES.flatMap((name) =>
  parse(subgraphSdl(name)).definitions.flatMap((d) => elementsOf(name, d)),
);

it('finds the elements of every subgraph (a parse that found nothing would pass vacuously)', () => {
  for (const name of SUBGRAPH_NAMES) expect(elements.filter((e) => e.subgraph === name).length).toBeGreaterThan(50);
  expect(elements.map((e) => e.coordinate)).toEqual(
    expect.arrayContaining(['Money.amount', 'Query.usageTypes(status:)', 'PostingStatus.HELD', 'UsageEventInput.id']),
  );
});

it('describes every type, field, argument, input field, enum value and scalar', () => {
  const undescribed = elements.filter((e) => !e.description).map((e) => `${e.subgraph}: ${e.coordinate}`);
  expect(undescribed).toEqual([]);
});

it('describes an element declared in several subgraphs (entity stubs, shared types) the same way in each', () => {
  const byCoordinate = new Map<string, Set<string>>();
  for (const e of elements.filter((x) => !x.coordinate.startsWith('Query') && !x.coordinate.startsWith('Mutation.')))
    byCoordinate.set(e.coordinate, new Set([...(byCoordinate.get(e.coordinate) ?? []), e.description ?? '']));
  const differing = [...byCoordinate].filter(([, descriptions]) => descriptions.size > 1).map(([c]) => c);
  expect(differing).toEqual([]);
});

it('states the order of every list and connection', () => {
  const isList = (t: TypeNode): boolean =>
    t.kind === Kind.LIST_TYPE || (t.kind === Kind.NON_NULL_TYPE && isList(t.type));
  const named = (t: TypeNode): string => (t.kind === Kind.NAMED_TYPE ? t.name.value : named(t.type));
  const connections = new Set(
    elements
      .filter((e) => /^\w+Connection$/.test(e.coordinate) && e.coordinate !== 'ErpConnection')
      .map((e) => e.coordinate),
  );
  const unordered = SUBGRAPH_NAMES.flatMap((name) =>
    parse(subgraphSdl(name)).definitions.flatMap((d) =>
      d.kind === Kind.OBJECT_TYPE_DEFINITION
        ? (d.fields ?? [])
            .filter((f) => isList(f.type) || connections.has(named(f.type)))
            // A list's description says how it is ordered: "… order", "newest first", "A–Z".
            .filter((f) => !/order|first|A–Z/i.test(f.description?.value ?? ''))
            .map((f) => `${name}: ${d.name.value}.${f.name.value}`)
        : [],
    ),
  );
  expect(connections.size).toBeGreaterThan(10);
  expect(unordered).toEqual([]);
});

it('names no type after a root operation type except the roots themselves', () => {
  for (const name of SUBGRAPH_NAMES) {
    const schema = buildSubgraphSchema({ typeDefs: parse(subgraphSdl(name)) });
    expect({ name, subscriptionRoot: schema.getSubscriptionType() ?? null }).toEqual({ name, subscriptionRoot: null });
    expect({ name, subscription: schema.getType('Subscription') ?? null }).toEqual({ name, subscription: null });
    expect(schema.getType('Query')).toBe(schema.getQueryType());
    expect(schema.getType('Mutation') ?? null).toBe(schema.getMutationType() ?? null);
  }
});
