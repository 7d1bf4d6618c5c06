// The audience tags on the subgraph schemas compose into each audience's contract, and each contract shows what it should.
import { composeSchemaContract } from '@theguild/federation-composition';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import {
  buildASTSchema,
  isObjectType,
  parse,
  visit,
  type ConstDirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
  type TypeNode,
} from 'graphql';
import { subgraphSdl } from '../lib/schema-files';
import { SUBGRAPH_NAMES } from '../lib/topology';
import { AUDIENCES, CATEGORY_NAMES, type AudienceName } from './audiences';

const services = SUBGRAPH_NAMES.map((name) => ({
  name,
  url: `http://${name}.invalid/graphql`,
  typeDefs: parse(printSubgraphSchema(buildSubgraphSchema({ typeDefs: parse(subgraphSdl(name)) }))),
}));

function contract(name: AudienceName): GraphQLSchema {
  const audience = AUDIENCES.find((a) => a.name === name)!;
  const result = composeSchemaContract(services, { include: new Set(), exclude: new Set(audience.exclude) }, true);
  if (result.errors) throw new Error(`${name}: ${result.errors.map((e) => e.message).join('\n')}`);
  return buildASTSchema(parse(result.publicSdl));
}

/** Every schema coordinate (Type, Type.field, Type.field(arg:)) of a schema. */
function coordinates(schema: GraphQLSchema): Set<string> {
  const out = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    out.add(type.name);
    if (!('getFields' in type)) continue;
    for (const field of Object.values(type.getFields())) {
      out.add(`${type.name}.${field.name}`);
      for (const arg of 'args' in field ? field.args : []) out.add(`${type.name}.${field.name}(${arg.name}:)`);
    }
  }
  return out;
}

const tagsOf = (directives: readonly ConstDirectiveNode[] | undefined): string[] =>
  (directives ?? [])
    .filter((d) => d.name.value === 'tag')
    .map((d) => {
      const arg = d.arguments?.find((a) => a.name.value === 'name')?.value;
      return arg?.kind === 'StringValue' ? arg.value : '';
    });

/** Type and field coordinates carrying a tag, with whether they are @inaccessible, over every subgraph. */
function taggedElements(doc: DocumentNode): Array<{ coordinate: string; tags: string[]; inaccessible: boolean }> {
  const out: Array<{ coordinate: string; tags: string[]; inaccessible: boolean }> = [];
  const record = (coordinate: string, directives: readonly ConstDirectiveNode[] | undefined) => {
    const tags = tagsOf(directives);
    if (tags.length > 0)
      out.push({ coordinate, tags, inaccessible: (directives ?? []).some((d) => d.name.value === 'inaccessible') });
  };
  const withFields = (node: {
    name: { value: string };
    directives?: readonly ConstDirectiveNode[];
    fields?: ReadonlyArray<{ name: { value: string }; directives?: readonly ConstDirectiveNode[] }>;
  }) => {
    record(node.name.value, node.directives);
    for (const f of node.fields ?? []) record(`${node.name.value}.${f.name.value}`, f.directives);
  };
  visit(doc, {
    ObjectTypeDefinition: withFields,
    ObjectTypeExtension: withFields,
    InputObjectTypeDefinition: withFields,
    EnumTypeDefinition: (node) => record(node.name.value, node.directives),
  });
  return out;
}

const tagged = SUBGRAPH_NAMES.flatMap((name) => taggedElements(parse(subgraphSdl(name))));
const internal = tagged.filter((t) => t.tags.includes('internal')).map((t) => t.coordinate);

it('tags only with the declared categories', () => {
  const used = new Set(tagged.flatMap((t) => t.tags));
  expect([...used].filter((tag) => !(CATEGORY_NAMES as readonly string[]).includes(tag))).toEqual([]);
  expect(used).toEqual(new Set(CATEGORY_NAMES));
});

it('hides every service-to-service element from the API, and tags it internal', () => {
  expect(internal).toEqual(
    expect.arrayContaining([
      'Query.usageTypesByKeys',
      'Mutation.usageForRating',
      'Query.customersByExternalKeys',
      'Query.customerDirectoryVersion',
      'Query.invoicesForSubscriptions',
    ]),
  );
  for (const t of tagged)
    expect({ coordinate: t.coordinate, inaccessible: t.inaccessible }).toEqual({
      coordinate: t.coordinate,
      inaccessible: t.tags.includes('internal'),
    });
});

it('tags every field and argument with the tags of the type it takes or returns (else contracts do not compose)', () => {
  const docs = SUBGRAPH_NAMES.map((name) => parse(subgraphSdl(name)));
  const typeTags = new Map<string, Set<string>>();
  for (const doc of docs)
    for (const def of doc.definitions)
      if ('name' in def && def.name && 'directives' in def)
        for (const tag of tagsOf(def.directives as readonly ConstDirectiveNode[]))
          typeTags.set(def.name.value, new Set([...(typeTags.get(def.name.value) ?? []), tag]));
  const named = (type: TypeNode): string => (type.kind === 'NamedType' ? type.name.value : named(type.type));
  const missing: string[] = [];
  const check = (coordinate: string, type: TypeNode, own: string[]) => {
    const lacking = [...(typeTags.get(named(type)) ?? [])].filter((tag) => !own.includes(tag));
    if (lacking.length > 0) missing.push(`${coordinate} lacks ${lacking.join(', ')} of ${named(type)}`);
  };
  for (const doc of docs)
    for (const def of doc.definitions) {
      if (!('fields' in def) || !def.fields) continue;
      const inherited = tagsOf(def.directives);
      for (const field of def.fields) {
        check(`${def.name.value}.${field.name.value}`, field.type, [...inherited, ...tagsOf(field.directives)]);
        for (const arg of 'arguments' in field ? (field.arguments ?? []) : [])
          check(`${def.name.value}.${field.name.value}(${arg.name.value}:)`, arg.type, [
            ...inherited,
            ...tagsOf(arg.directives),
          ]);
      }
    }
  expect(missing).toEqual([]);
});

describe.each(AUDIENCES.map((a) => a.name))('the %s contract', (name) => {
  const schema = contract(name);
  const has = coordinates(schema);

  it('composes, and has none of the internal fields', () => {
    expect(schema.getQueryType()).toBeDefined();
    expect(internal.filter((c) => has.has(c))).toEqual([]);
  });
});

describe('what each audience sees', () => {
  const product = coordinates(contract('product'));
  const customerSuccess = contract('customer-success');
  const cs = coordinates(customerSuccess);
  const finance = coordinates(contract('finance'));
  const tools = coordinates(contract('internal-tools'));

  it('product teams: usage types and usage, no money and no invoices', () => {
    expect(product).not.toContain('Money');
    expect(product).not.toContain('Invoice');
    expect(product).not.toContain('PricePlan');
    expect(product).not.toContain('UsageAggregate.ratedCharges');
    expect(product).not.toContain('Mutation.upsertCustomer');
    for (const c of [
      'Mutation.registerUsageType',
      'Mutation.ingestUsageEvents',
      'Query.usageTypes',
      'UsageEvent.aggregate',
    ])
      expect(product).toContain(c);
  });

  it('customer success: invoices and lineage both ways, read-only', () => {
    for (const c of [
      'Query.invoice',
      'Invoice.lines',
      'Invoice.total',
      'Query.usageEventBySource',
      'UsageEvent.aggregate',
      'UsageAggregate.events',
      'UsageAggregate.ratedCharges',
      'RatedCharge.invoiceLines',
      'InvoiceLine.ratedCharge',
      'Invoice.erpPostings',
      'ErpPosting.erpDocument',
      'Query.customerUsage',
    ])
      expect(cs).toContain(c);
    for (const c of [
      'Mutation.postInvoice',
      'Mutation.finalizeInvoice',
      'Mutation.generateInvoice',
      'Mutation.rateBillingPeriod',
      'Mutation.closeAccountingPeriod',
      'Mutation.reopenAccountingPeriod',
      'Mutation.setContractTerms',
      'Mutation.approvePricingException',
      'Mutation.ingestUsageEvents',
      'Mutation.registerUsageType',
      'Mutation.upsertCustomer',
    ])
      expect(cs).not.toContain(c);
    const mutation = customerSuccess.getMutationType();
    expect(mutation && isObjectType(mutation) ? Object.keys(mutation.getFields()) : []).toEqual([]);
  });

  it('finance: posts and closes periods, but neither registers usage types nor sends usage', () => {
    for (const c of ['Mutation.postInvoice', 'Mutation.closeAccountingPeriod', 'Mutation.approvePricingException'])
      expect(finance).toContain(c);
    expect(finance).not.toContain('Mutation.registerUsageType');
    expect(finance).not.toContain('Mutation.ingestUsageEvents');
  });

  it('internal tools: every public operation', () => {
    for (const c of ['Mutation.ingestUsageEvents', 'Mutation.registerUsageType', 'Mutation.postInvoice'])
      expect(tools).toContain(c);
  });
});
