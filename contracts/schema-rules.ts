// Rules every subgraph schema follows: no type named after a root operation type, a description on every element
// (entity stubs too: composition requires they read the same as the owner's), a reason with a sunset date on every
// deprecation, and every list or connection saying in what order it comes.
import {
  Kind,
  parse,
  type ConstDirectiveNode,
  type DefinitionNode,
  type TypeNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
} from 'graphql';

export interface RuleViolation {
  rule: 'root-name' | 'description' | 'deprecation' | 'list-order';
  /** Schema coordinate, e.g. `Invoice.total` or `Query.invoice(id:)`. */
  coordinate: string;
  message: string;
}

const ROOT_NAMES = new Set(['Query', 'Mutation', 'Subscription']);
/** A list's description says how it is ordered: "… order", "newest first", "A–Z". */
const STATES_ORDER = /order|first|A–Z/i;
const isList = (t: TypeNode): boolean => t.kind === Kind.LIST_TYPE || (t.kind === Kind.NON_NULL_TYPE && isList(t.type));
const namedType = (t: TypeNode): string => (t.kind === Kind.NAMED_TYPE ? t.name.value : namedType(t.type));
/** `ErpConnection` is the ledger connection, not a page. */
const isConnection = (name: string) => /^\w+Connection$/.test(name) && name !== 'ErpConnection';
const SUNSET = /sunset \d{4}-\d{2}-\d{2}/i;

export function schemaRuleViolations(sdl: string, subgraph: string): RuleViolation[] {
  const out: RuleViolation[] = [];
  const where = (coordinate: string) => `${subgraph}: ${coordinate}`;
  const needDescription = (coordinate: string, node: { description?: { value: string } | undefined }) => {
    if (!node.description?.value.trim()) {
      out.push({ rule: 'description', coordinate, message: `${where(coordinate)} has no description` });
    }
  };
  const deprecation = (coordinate: string, directives: readonly ConstDirectiveNode[] | undefined) => {
    const d = directives?.find((x) => x.name.value === 'deprecated');
    if (!d) return;
    const reason = d.arguments?.find((a) => a.name.value === 'reason')?.value;
    if (reason?.kind !== Kind.STRING || !SUNSET.test(reason.value)) {
      out.push({
        rule: 'deprecation',
        coordinate,
        message: `${where(coordinate)} is deprecated without a reason naming its sunset ("…, sunset YYYY-MM-DD")`,
      });
    }
  };
  const inputValues = (owner: string, values: readonly InputValueDefinitionNode[] | undefined, args: boolean) => {
    for (const v of values ?? []) {
      const coordinate = args ? `${owner}(${v.name.value}:)` : `${owner}.${v.name.value}`;
      needDescription(coordinate, v);
      deprecation(coordinate, v.directives);
    }
  };
  const fields = (type: string, list: readonly FieldDefinitionNode[] | undefined) => {
    for (const f of list ?? []) {
      const coordinate = `${type}.${f.name.value}`;
      needDescription(coordinate, f);
      deprecation(coordinate, f.directives);
      inputValues(coordinate, f.arguments, true);
      if ((isList(f.type) || isConnection(namedType(f.type))) && !STATES_ORDER.test(f.description?.value ?? '')) {
        out.push({
          rule: 'list-order',
          coordinate,
          message: `${where(coordinate)} is a list; say in what order it comes`,
        });
      }
    }
  };
  for (const def of parse(sdl).definitions as DefinitionNode[]) {
    if (!('name' in def) || !def.name) continue;
    const name = def.name.value;
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION && name === 'Subscription') {
      out.push({
        rule: 'root-name',
        coordinate: name,
        message: `${where(name)}: a type named Subscription is taken as the subscription root; give it a business name`,
      });
    }
    if (
      (def.kind === Kind.ENUM_TYPE_DEFINITION ||
        def.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION ||
        def.kind === Kind.SCALAR_TYPE_DEFINITION ||
        def.kind === Kind.UNION_TYPE_DEFINITION ||
        def.kind === Kind.INTERFACE_TYPE_DEFINITION) &&
      ROOT_NAMES.has(name)
    ) {
      out.push({
        rule: 'root-name',
        coordinate: name,
        message: `${where(name)}: ${name} is a root operation type name`,
      });
    }
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) {
      if (def.kind === Kind.OBJECT_TYPE_DEFINITION) needDescription(name, def);
      fields(name, def.fields);
    } else if (def.kind === Kind.INTERFACE_TYPE_DEFINITION) {
      needDescription(name, def);
      fields(name, def.fields);
    } else if (def.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION) {
      needDescription(name, def);
      inputValues(name, def.fields, false);
    } else if (def.kind === Kind.ENUM_TYPE_DEFINITION) {
      needDescription(name, def);
      for (const v of def.values ?? []) {
        needDescription(`${name}.${v.name.value}`, v);
        deprecation(`${name}.${v.name.value}`, v.directives);
      }
    } else if (def.kind === Kind.SCALAR_TYPE_DEFINITION || def.kind === Kind.UNION_TYPE_DEFINITION) {
      needDescription(name, def);
    }
  }
  return out;
}
