// `_entities` takes representations as `_Any`: any JSON reaches every `__resolveReference`, and from there a `$in`
// query. Checked here once for every subgraph, against the entity's own @key fields, before any resolver runs.
import {
  Kind,
  isEnumType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  parse,
  type FieldNode,
  type GraphQLFieldResolver,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { fieldPath, validationFailed, type Problem } from './errors';

type EntityType = GraphQLObjectType | GraphQLInterfaceType;

interface EntityKeys {
  type: EntityType;
  /** One selection set per @key directive; a representation must satisfy one of them. */
  keys: Array<{ fields: string; selections: SelectionSetNode }>;
}

/** Every type with a @key in this subgraph's schema, with its key selections. */
export function entityKeysOf(schema: GraphQLSchema): Map<string, EntityKeys> {
  const entities = new Map<string, EntityKeys>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    const keys: EntityKeys['keys'] = [];
    for (const node of [type.astNode, ...type.extensionASTNodes]) {
      for (const directive of node?.directives ?? []) {
        if (directive.name.value !== 'key') continue;
        const arg = directive.arguments?.find((a) => a.name.value === 'fields');
        if (arg?.value.kind !== Kind.STRING) continue;
        const doc = parse(`{ ${arg.value.value} }`);
        const op = doc.definitions[0];
        if (op?.kind === Kind.OPERATION_DEFINITION) keys.push({ fields: arg.value.value, selections: op.selectionSet });
      }
    }
    if (keys.length > 0) entities.set(type.name, { type, keys });
  }
  return entities;
}

const describe = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

function scalarProblem(name: string, v: unknown, parseValue: (v: unknown) => unknown): string | null {
  switch (name) {
    case 'ID':
    case 'String':
      return typeof v === 'string' ? null : `must be a string (${name}), not ${describe(v)}`;
    case 'Int':
      return Number.isSafeInteger(v) ? null : `must be an integer (Int), not ${describe(v)}`;
    case 'Float':
      return typeof v === 'number' && Number.isFinite(v) ? null : `must be a number (Float), not ${describe(v)}`;
    case 'Boolean':
      return typeof v === 'boolean' ? null : `must be true or false (Boolean), not ${describe(v)}`;
    default:
      if (v !== null && typeof v === 'object') return `must be a ${name} value, not ${describe(v)}`;
      try {
        parseValue(v);
        return null;
      } catch {
        return `is not a valid ${name}`;
      }
  }
}

function checkValue(
  v: unknown,
  type: GraphQLOutputType,
  selections: SelectionSetNode | undefined,
  path: string,
  problems: Problem[],
): void {
  if (isNonNullType(type)) type = type.ofType;
  if (v === null || v === undefined) {
    problems.push({ code: 'VALIDATION_FAILED', field: path, reason: 'is missing or null', expected: 'the key value' });
    return;
  }
  if (isListType(type)) {
    if (!Array.isArray(v)) {
      problems.push({ code: 'VALIDATION_FAILED', field: path, reason: `must be a list, not ${describe(v)}` });
      return;
    }
    const itemType = type.ofType as GraphQLOutputType;
    v.forEach((item, i) => checkValue(item, itemType, selections, `${path}[${i}]`, problems));
    return;
  }
  if (isScalarType(type)) {
    const reason = scalarProblem(type.name, v, (x) => type.parseValue(x));
    if (reason)
      problems.push({ code: 'VALIDATION_FAILED', field: path, reason, expected: `a value of type ${type.name}` });
    return;
  }
  if (isEnumType(type)) {
    if (typeof v !== 'string' || !type.getValue(v))
      problems.push({
        code: 'VALIDATION_FAILED',
        field: path,
        reason: `must be one of ${type.name}'s values`,
        expected: type
          .getValues()
          .map((x) => x.name)
          .join(', '),
      });
    return;
  }
  if ((isObjectType(type) || isInterfaceType(type)) && selections) {
    checkObject(v, type, selections, path, problems);
    return;
  }
  problems.push({ code: 'VALIDATION_FAILED', field: path, reason: 'cannot be part of a key' });
}

function checkObject(
  v: unknown,
  type: EntityType,
  selections: SelectionSetNode,
  path: string,
  problems: Problem[],
): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push({ code: 'VALIDATION_FAILED', field: path, reason: `must be an object, not ${describe(v)}` });
    return;
  }
  const fields = type.getFields();
  for (const selection of selections.selections) {
    if (selection.kind !== Kind.FIELD) continue;
    const name = (selection as FieldNode).name.value;
    const field = fields[name];
    if (!field) continue;
    const value = Object.prototype.hasOwnProperty.call(v, name) ? (v as Record<string, unknown>)[name] : undefined;
    checkValue(value, field.type, selection.selectionSet, fieldPath(path, [name]), problems);
  }
}

/** Problems with each representation: not an object, an unknown `__typename`, or key fields of the wrong type. */
export function representationProblems(representations: unknown, entities: Map<string, EntityKeys>): Problem[] {
  if (!Array.isArray(representations))
    return [{ code: 'VALIDATION_FAILED', field: 'representations', reason: 'must be a list' }];
  const problems: Problem[] = [];
  representations.forEach((r, i) => {
    const base = `representations[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      problems.push({ code: 'VALIDATION_FAILED', field: base, reason: `must be an object, not ${describe(r)}` });
      return;
    }
    const typename = (r as { __typename?: unknown }).__typename;
    const entity = typeof typename === 'string' ? entities.get(typename) : undefined;
    if (!entity) {
      problems.push({
        code: 'VALIDATION_FAILED',
        field: `${base}.__typename`,
        reason:
          typeof typename === 'string'
            ? `${JSON.stringify(typename.slice(0, 64))} is not an entity of this subgraph`
            : 'must be the name of an entity type',
        expected: [...entities.keys()].join(', '),
      });
      return;
    }
    // Several @key directives: any one satisfied is enough; otherwise report against the first.
    let first: Problem[] | null = null;
    for (const key of entity.keys) {
      const found: Problem[] = [];
      checkObject(r, entity.type, key.selections, base, found);
      if (found.length === 0) return;
      first ??= found.map((p) => ({
        ...p,
        expected: `${p.expected ?? 'a valid value'} (key of ${typename}: ${key.fields})`,
      }));
    }
    problems.push(...(first ?? []));
  });
  return problems;
}

/** Wraps the schema's `_entities` resolver so every representation is checked before any `__resolveReference`. */
export function guardEntityRepresentations(schema: GraphQLSchema): GraphQLSchema {
  const field = schema.getQueryType()?.getFields()._entities;
  if (!field?.resolve) return schema;
  const entities = entityKeysOf(schema);
  const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve;
  field.resolve = (source, args, context, info) => {
    const problems = representationProblems((args as { representations?: unknown }).representations, entities);
    if (problems.length > 0) throw validationFailed(problems.slice(0, 20));
    return resolve(source, args, context, info);
  };
  return schema;
}
