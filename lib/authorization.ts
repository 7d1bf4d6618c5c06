// What a principal may ask, decided before anything runs: each field's categories (its @tag declarations, those of its
// type and of the type it returns) against the categories the principal's roles exclude, plus bounded cost — depth,
// aliases, page sizes, list lengths and an estimated number of objects. The gateway runs it on the supergraph, every
// subgraph again on its own schema, so a subgraph reached some other way refuses the same things.
import {
  Kind,
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  type ConstDirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { CATEGORY_NAMES, type Category } from '../contracts/audiences';

export interface OperationLimits {
  /** Deepest nesting of fields. */
  maxDepth: number;
  /** Aliased fields in one operation (aliases multiply work without multiplying the query's size). */
  maxAliases: number;
  /** Largest `first:` of any paginated list. */
  maxPageSize: number;
  /** Longest list in any argument, unless the field allows more (bulk ingestion). */
  maxListLength: number;
  /** Estimated objects the answer can hold: each field counts once per parent, lists multiply by their size. */
  maxCost: number;
}

/** Fields made for bulk input, with the longest list each accepts. */
export const BULK_ARGUMENTS: Record<string, number> = { 'Mutation.ingestUsageEvents(events:)': 10_000 };
/** The size assumed for a list that takes no `first:` (an invoice's lines, a plan's charges). */
export const ASSUMED_LIST_SIZE = 10;

export interface Refusal {
  code: 'FORBIDDEN' | 'QUERY_TOO_COMPLEX' | 'GRAPHQL_VALIDATION_FAILED';
  message: string;
  field: string;
  extensions: Record<string, unknown>;
}

export interface OperationReview {
  refusal?: Refusal;
  /** Schema coordinates the operation uses (`Type.field`, `Type.field(arg:)`): what schema checks compare against. */
  coordinates: Set<string>;
  depth: number;
  aliases: number;
  cost: number;
}

type Tags = ReadonlyMap<string, ReadonlySet<Category>>;
const tagIndexes = new WeakMap<GraphQLSchema, Tags>();

const categoriesOf = (directives: readonly ConstDirectiveNode[] | undefined): Category[] =>
  (directives ?? [])
    .filter((d) => d.name.value === 'tag')
    .flatMap((d) => {
      const arg = d.arguments?.find((a) => a.name.value === 'name')?.value;
      return arg?.kind === Kind.STRING && (CATEGORY_NAMES as readonly string[]).includes(arg.value)
        ? [arg.value as Category]
        : [];
    });

/** Every tagged element of a schema, by coordinate: `Type`, `Type.field`, `Type.field(arg:)`, `Input.field`. */
export function categoryIndex(schema: GraphQLSchema): Tags {
  const cached = tagIndexes.get(schema);
  if (cached) return cached;
  const index = new Map<string, Set<Category>>();
  const add = (coordinate: string, categories: Category[]) => {
    if (categories.length === 0) return;
    const set = index.get(coordinate) ?? new Set<Category>();
    for (const c of categories) set.add(c);
    index.set(coordinate, set);
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    add(
      type.name,
      [type.astNode, ...type.extensionASTNodes].flatMap((n) => categoriesOf(n?.directives)),
    );
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        add(`${type.name}.${field.name}`, categoriesOf(field.astNode?.directives));
        for (const arg of field.args)
          add(`${type.name}.${field.name}(${arg.name}:)`, categoriesOf(arg.astNode?.directives));
      }
    }
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        add(`${type.name}.${field.name}`, categoriesOf(field.astNode?.directives));
      }
    }
  }
  tagIndexes.set(schema, index);
  return index;
}

class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.message);
  }
}

interface Review {
  schema: GraphQLSchema;
  tags: Tags;
  excluded: ReadonlySet<Category>;
  who: string;
  allowIntrospection: boolean;
  limits: OperationLimits;
  variables: Record<string, unknown>;
  fragments: Map<string, FragmentDefinitionNode>;
  coordinates: Set<string>;
  depth: number;
  aliases: number;
  cost: number;
}

function checkCategories(r: Review, coordinates: Iterable<string>, field: string): void {
  for (const coordinate of coordinates) {
    for (const category of r.tags.get(coordinate) ?? []) {
      if (r.excluded.has(category)) {
        throw new Refused({
          code: 'FORBIDDEN',
          field,
          message: `${field} is in the "${category}" category, which ${r.who} may not use`,
          extensions: { category, expected: 'a credential whose role includes this category' },
        });
      }
    }
  }
}

function tooComplex(limit: keyof OperationLimits, value: number, maximum: number, field: string, what: string): never {
  throw new Refused({
    code: 'QUERY_TOO_COMPLEX',
    field,
    message: `${what} is ${value}, over the limit of ${maximum}`,
    extensions: { limit, value, maximum, expected: `at most ${maximum}; split the request or ask for less` },
  });
}

function argumentValue(r: Review, value: ValueNode): unknown {
  if (value.kind === Kind.VARIABLE) return r.variables[value.name.value];
  if (value.kind === Kind.INT) return Number(value.value);
  if (value.kind === Kind.LIST) return value.values;
  return value;
}

/** The longest list anywhere in an argument's value (a literal or a variable's JSON). */
function longestList(r: Review, value: ValueNode | unknown): number {
  const node = value as ValueNode;
  if (node && typeof node === 'object' && 'kind' in node) {
    if (node.kind === Kind.VARIABLE) return longestList(r, r.variables[node.name.value]);
    if (node.kind === Kind.LIST) return Math.max(node.values.length, ...node.values.map((v) => longestList(r, v)));
    if (node.kind === Kind.OBJECT) return Math.max(0, ...node.fields.map((f) => longestList(r, f.value)));
    return 0;
  }
  if (Array.isArray(value)) {
    let longest = value.length;
    // Lists of scalars need no deeper look; lists of objects may hold lists themselves.
    if (value.length > 0 && typeof value[0] === 'object')
      for (const v of value) longest = Math.max(longest, longestList(r, v));
    return longest;
  }
  if (value && typeof value === 'object') return Math.max(0, ...Object.values(value).map((v) => longestList(r, v)));
  return 0;
}

/** Input object fields an argument's value sets, with their types, so their tags are checked too. */
function inputFieldsUsed(r: Review, type: GraphQLInputType, value: unknown, out: Set<string>): void {
  const named = getNamedType(type);
  if (!isInputObjectType(named) || value === null || value === undefined) return;
  const node = value as ValueNode;
  if (node && typeof node === 'object' && 'kind' in node) {
    if (node.kind === Kind.VARIABLE) return inputFieldsUsed(r, type, r.variables[node.name.value], out);
    if (node.kind === Kind.LIST) return node.values.forEach((v) => inputFieldsUsed(r, type, v, out));
    if (node.kind !== Kind.OBJECT) return;
    for (const f of node.fields) {
      const def = named.getFields()[f.name.value];
      if (!def) continue;
      out.add(`${named.name}.${def.name}`).add(getNamedType(def.type).name);
      inputFieldsUsed(r, def.type, f.value, out);
    }
    return;
  }
  if (Array.isArray(value)) return value.forEach((v) => inputFieldsUsed(r, type, v, out));
  if (typeof value === 'object') {
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const def = named.getFields()[key];
      if (!def) continue;
      out.add(`${named.name}.${def.name}`).add(getNamedType(def.type).name);
      inputFieldsUsed(r, def.type, v, out);
    }
  }
}

const isList = (type: GraphQLOutputType): boolean => isListType(isNonNullType(type) ? type.ofType : type);

/** How many of the field's children an answer can hold per parent. */
function listSize(field: GraphQLField<unknown, unknown>, parentName: string, args: Map<string, unknown>): number {
  const returns = getNamedType(field.type).name;
  const first = args.get('first') ?? field.args.find((a) => a.name === 'first')?.defaultValue;
  if (typeof first === 'number') return Math.max(first, 1);
  if (parentName.endsWith('Connection')) return 1; // a connection's `nodes`: counted by the connection's `first`
  if (returns.endsWith('Connection')) return 50;
  return isList(field.type) ? ASSUMED_LIST_SIZE : 1;
}

function reviewSelections(
  r: Review,
  selectionSet: SelectionSetNode,
  parent: GraphQLNamedType,
  depth: number,
  multiplier: number,
  path: string[],
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? r.schema.getType(selection.typeCondition.name.value) : parent;
      if (!type) continue;
      checkCategories(r, [type.name], type.name);
      reviewSelections(r, selection.selectionSet, type, depth, multiplier, path);
      continue;
    }
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = r.fragments.get(selection.name.value);
      const type = fragment && r.schema.getType(fragment.typeCondition.name.value);
      if (!fragment || !type) continue;
      if (path.includes(`...${fragment.name.value}`)) continue; // validation refuses cycles; never loop here
      checkCategories(r, [type.name], type.name);
      reviewSelections(r, fragment.selectionSet, type, depth, multiplier, [...path, `...${fragment.name.value}`]);
      continue;
    }
    const name = selection.name.value;
    if (name === '__typename') continue;
    if (name === '__schema' || name === '__type') {
      if (!r.allowIntrospection) {
        throw new Refused({
          code: 'FORBIDDEN',
          field: name,
          message: `introspection (${name}) is only for the platform role`,
          extensions: { expected: 'a platform credential, or the schema files in schema/' },
        });
      }
      continue;
    }
    if (!isObjectType(parent) && !isInterfaceType(parent)) continue;
    const field = parent.getFields()[name];
    if (!field) continue; // validation reports unknown fields
    const coordinate = `${parent.name}.${name}`;
    const returns = getNamedType(field.type);
    r.coordinates.add(coordinate);
    checkCategories(r, [parent.name, coordinate, returns.name], coordinate);

    if (selection.alias) {
      r.aliases++;
      if (r.aliases > r.limits.maxAliases)
        tooComplex('maxAliases', r.aliases, r.limits.maxAliases, coordinate, 'the number of aliases');
    }
    const fieldDepth = depth + 1;
    r.depth = Math.max(r.depth, fieldDepth);
    if (fieldDepth > r.limits.maxDepth) tooComplex('maxDepth', fieldDepth, r.limits.maxDepth, coordinate, 'the depth');

    const args = new Map<string, unknown>();
    for (const arg of selection.arguments ?? []) {
      const def: GraphQLArgument | undefined = field.args.find((a) => a.name === arg.name.value);
      if (!def) continue;
      const argCoordinate = `${coordinate}(${def.name}:)`;
      r.coordinates.add(argCoordinate);
      const used = new Set([argCoordinate, getNamedType(def.type).name]);
      inputFieldsUsed(r, def.type, arg.value, used);
      for (const u of used) if (u.includes('.') && !u.includes('(')) r.coordinates.add(u); // input fields set
      checkCategories(r, [...used], argCoordinate);
      const value = argumentValue(r, arg.value);
      args.set(def.name, value);
      const longest = longestList(r, arg.value);
      const allowed = BULK_ARGUMENTS[argCoordinate] ?? r.limits.maxListLength;
      if (longest > allowed) tooComplex('maxListLength', longest, allowed, argCoordinate, `a list in ${argCoordinate}`);
      if (def.name === 'first' && typeof value === 'number' && value > r.limits.maxPageSize) {
        tooComplex('maxPageSize', value, r.limits.maxPageSize, argCoordinate, 'the page size');
      }
    }
    r.cost += multiplier;
    if (r.cost > r.limits.maxCost) tooComplex('maxCost', r.cost, r.limits.maxCost, coordinate, 'the estimated cost');
    if (selection.selectionSet) {
      const size = listSize(field, parent.name, args);
      reviewSelections(r, selection.selectionSet, returns, fieldDepth, multiplier * size, [...path, name]);
    }
  }
}

/** Reviews one operation for one principal: the first refusal found, and what the operation uses. */
export function reviewOperation(input: {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  excluded: ReadonlySet<Category>;
  who: string;
  allowIntrospection: boolean;
  limits: OperationLimits;
}): OperationReview {
  const fragments = new Map<string, FragmentDefinitionNode>();
  const operations: OperationDefinitionNode[] = [];
  for (const d of input.document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    if (d.kind === Kind.OPERATION_DEFINITION) operations.push(d);
  }
  const operation = input.operationName
    ? operations.find((o) => o.name?.value === input.operationName)
    : operations.length === 1
      ? operations[0]
      : undefined;
  const r: Review = {
    schema: input.schema,
    tags: categoryIndex(input.schema),
    excluded: input.excluded,
    who: input.who,
    allowIntrospection: input.allowIntrospection,
    limits: input.limits,
    variables: input.variables ?? {},
    fragments,
    coordinates: new Set(),
    depth: 0,
    aliases: 0,
    cost: 0,
  };
  const root = operation && input.schema.getRootType(operation.operation);
  if (!operation) return { coordinates: r.coordinates, depth: 0, aliases: 0, cost: 0 };
  if (!root) {
    // graphql-js 16 does not validate the operation type against the schema's roots; the planner would fail on it.
    return {
      refusal: {
        code: 'GRAPHQL_VALIDATION_FAILED',
        field: operation.operation,
        message: `this graph has no ${operation.operation} operations`,
        extensions: { expected: 'a query or a mutation' },
      },
      coordinates: r.coordinates,
      depth: 0,
      aliases: 0,
      cost: 0,
    };
  }
  try {
    reviewSelections(r, operation.selectionSet, root, 0, 1, []);
    return { coordinates: r.coordinates, depth: r.depth, aliases: r.aliases, cost: r.cost };
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    return { refusal: error.refusal, coordinates: r.coordinates, depth: r.depth, aliases: r.aliases, cost: r.cost };
  }
}
