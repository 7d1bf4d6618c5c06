import { buildSchema, parse } from 'graphql';
import type { Category } from '../contracts/audiences';
import { reviewOperation, type OperationLimits } from './authorization';

const schema = buildSchema(`
  directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | INPUT_OBJECT | ENUM
  type Query {
    customer(id: ID!): Customer
    invoices(first: Int = 50): InvoiceConnection! @tag(name: "billing")
    customers(first: Int = 50): CustomerConnection!
  }
  type Mutation {
    close(key: String!): Boolean @tag(name: "billing-ops")
    note(input: NoteInput!): Boolean
  }
  input NoteInput { text: String amount: String @tag(name: "billing") }
  type Customer { id: ID! name: String invoices: [Invoice!]! @tag(name: "billing") friends: [Customer!]! }
  type CustomerConnection { nodes: [Customer!]! }
  type Invoice @tag(name: "billing") { id: ID! total: String }
  type InvoiceConnection @tag(name: "billing") { nodes: [Invoice!]! }
`);

const roomy: OperationLimits = { maxDepth: 10, maxAliases: 5, maxPageSize: 100, maxListLength: 3, maxCost: 1_000 };
const review = (
  query: string,
  options: {
    excluded?: Category[];
    limits?: Partial<OperationLimits>;
    variables?: object;
    introspection?: boolean;
  } = {},
) =>
  reviewOperation({
    schema,
    document: parse(query),
    variables: options.variables as Record<string, unknown>,
    excluded: new Set(options.excluded ?? []),
    who: 'tester',
    allowIntrospection: options.introspection ?? false,
    limits: { ...roomy, ...options.limits },
  });

describe('categories', () => {
  it('refuses a field tagged with an excluded category, naming it', () => {
    expect(review('mutation { close(key: "x") }', { excluded: ['billing-ops'] }).refusal).toMatchObject({
      code: 'FORBIDDEN',
      field: 'Mutation.close',
      extensions: { category: 'billing-ops' },
    });
  });

  it('refuses a field whose type is tagged, and any field of a tagged type, however it is reached', () => {
    expect(review('{ customer(id: "c") { invoices { id } } }', { excluded: ['billing'] }).refusal?.field).toBe(
      'Customer.invoices',
    );
    expect(review('{ invoices { nodes { id } } }', { excluded: ['billing'] }).refusal?.field).toBe('Query.invoices');
    expect(
      review('{ customer(id: "c") { ...F } } fragment F on Customer { invoices { total } }', { excluded: ['billing'] })
        .refusal?.field,
    ).toBe('Customer.invoices');
  });

  it('refuses a tagged input field when the argument sets it, in a literal or a variable', () => {
    expect(review('mutation { note(input: { text: "hi" }) }', { excluded: ['billing'] }).refusal).toBeUndefined();
    expect(review('mutation { note(input: { amount: "1" }) }', { excluded: ['billing'] }).refusal?.field).toBe(
      'Mutation.note(input:)',
    );
    expect(
      review('mutation($i: NoteInput!) { note(input: $i) }', {
        excluded: ['billing'],
        variables: { i: { amount: '1' } },
      }).refusal?.field,
    ).toBe('Mutation.note(input:)');
  });

  it('allows everything untagged, and introspection only when asked to', () => {
    expect(
      review('{ customer(id: "c") { name __typename } }', { excluded: ['billing', 'billing-ops'] }).refusal,
    ).toBeUndefined();
    expect(review('{ __schema { types { name } } }').refusal?.code).toBe('FORBIDDEN');
    expect(review('{ __schema { types { name } } }', { introspection: true }).refusal).toBeUndefined();
  });

  it('records the coordinates an operation uses, arguments and input fields included', () => {
    expect([...review('mutation { note(input: { text: "x" }) }').coordinates].sort()).toEqual([
      'Mutation.note',
      'Mutation.note(input:)',
      'NoteInput.text',
    ]);
  });
});

describe('limits', () => {
  it('counts depth through fragments and refuses beyond the limit', () => {
    const q = '{ customer(id: "c") { friends { friends { friends { name } } } } }';
    expect(review(q).depth).toBe(5);
    expect(review(q, { limits: { maxDepth: 4 } }).refusal?.extensions).toMatchObject({
      limit: 'maxDepth',
      value: 5,
      maximum: 4,
    });
  });

  it('counts aliases', () => {
    expect(review('{ a: customer(id: "1") { id } b: customer(id: "2") { id } }').aliases).toBe(2);
    expect(
      review('{ a: customer(id: "1") { id } b: customer(id: "2") { id } }', { limits: { maxAliases: 1 } }).refusal
        ?.extensions.limit,
    ).toBe('maxAliases');
  });

  it('refuses a page over the limit and a list argument over its length, from literals and variables', () => {
    expect(review('{ customers(first: 101) { nodes { id } } }').refusal?.extensions.limit).toBe('maxPageSize');
    expect(
      review('query($n: Int) { customers(first: $n) { nodes { id } } }', { variables: { n: 500 } }).refusal?.extensions
        .limit,
    ).toBe('maxPageSize');
    expect(
      review('mutation($i: NoteInput!) { note(input: $i) }', { variables: { i: { text: 'x' } } }).refusal,
    ).toBeUndefined();
  });

  it('estimates cost as objects per parent: a page multiplies what is inside it, connection nodes do not again', () => {
    // customers (1) + nodes (once per page of 10: 10) + friends (once per node: 10) + name (once per friend, 10 each: 100)
    expect(
      review('{ customers(first: 10) { nodes { friends { name } } } }', { limits: { maxCost: 10_000 } }).cost,
    ).toBe(121);
    expect(
      review('{ customers(first: 10) { nodes { friends { name } } } }', { limits: { maxCost: 100 } }).refusal
        ?.extensions,
    ).toMatchObject({
      limit: 'maxCost',
      maximum: 100,
    });
  });
});
