// The subgraph schemas are the API's documentation: the rules `npm run schema:check` enforces hold on every subgraph,
// and each rule catches what it is for.
import { schemaRuleViolations } from '../contracts/schema-rules';
import { commonSdl, ownSubgraphSdl } from '../lib/schema-files';
import { SUBGRAPH_NAMES } from '../lib/topology';

it('holds on every subgraph and on the shared types: described, ordered, no root-name collision', () => {
  const violations = [
    ...SUBGRAPH_NAMES.flatMap((name) => schemaRuleViolations(ownSubgraphSdl(name), name)),
    ...schemaRuleViolations(commonSdl(), 'common'),
  ];
  expect(violations.map((v) => v.message)).toEqual([]);
});

it('names every element without a description, a list without an order, and a type named Subscription', () => {
  const sdl = `
    "Reads."
    type Query { "A plan." plan(id: ID!): Plan plans: [Plan!]! }
    type Plan { "Its id." id: ID! name: String @deprecated(reason: "use title") }
    type Subscription { "Its id." id: ID! }
    enum Color { "Red." RED BLUE }
    "Input." input PlanInput { name: String }`;
  const found = schemaRuleViolations(sdl, 'x').map((v) => `${v.rule} ${v.coordinate}`);
  expect(found).toEqual(
    expect.arrayContaining([
      'description Query.plan(id:)',
      'description Query.plans',
      'list-order Query.plans',
      'description Plan',
      'description Plan.name',
      'deprecation Plan.name',
      'root-name Subscription',
      'description Subscription',
      'description Color',
      'description Color.BLUE',
      'description PlanInput.name',
    ]),
  );
  expect(found).not.toContain('description Query.plan');
  expect(found).not.toContain('description Color.RED');
});
