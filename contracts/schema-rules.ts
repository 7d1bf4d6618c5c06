// Rules every subgraph schema follows: no type named after a root operation type, a description on every element,
// and a reason with a sunset date on every deprecation.
import {
  Kind,
  parse,
  type ConstDirectiveNode,
  type DefinitionNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
} from 'graphql';

export interface RuleViolation {
  rule: 'root-name' | 'description' | 'deprecation';
  /** Schema coordinate, e.g. `Invoice.total` or `Query.invoice(id:)`. */
  coordinate: string;
  message: string;
}

const ROOT_NAMES = new Set(['Query', 'Mutation', 'Subscription']);
/** Entity stubs other subgraphs own carry only their key; their owner documents them. */
const isStub = (directives: readonly ConstDirectiveNode[] | undefined) =>
  (directives ?? []).some(
    (d) =>
      d.name.value === 'key' &&
      d.arguments?.some((a) => a.name.value === 'resolvable' && a.value.kind === Kind.BOOLEAN && !a.value.value),
  );
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
    }
  };
  for (const def of parse(sdl).definitions as DefinitionNode[]) {
    if (!('name' in def) || !def.name) continue;
    const name = def.name.value;
    const isRoot = ROOT_NAMES.has(name);
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
      if (isStub(def.directives)) continue;
      if (!isRoot && def.kind === Kind.OBJECT_TYPE_DEFINITION) needDescription(name, def);
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
