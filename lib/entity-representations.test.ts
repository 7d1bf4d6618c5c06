import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { entityKeysOf, representationProblems } from './entity-representations';

const schema = buildSubgraphSchema({
  typeDefs: parse(`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
    type Query { ping: String }
    type Event @key(fields: "id") { id: ID! }
    type Seat @key(fields: "room { code } number") @key(fields: "seatId") { seatId: String! room: Room! number: Int! }
    type Room { code: String! }
  `),
});
const entities = entityKeysOf(schema);

describe('entity representations', () => {
  it('are checked against every key of the entity', () => {
    expect([...entities.keys()].sort()).toEqual(['Event', 'Seat']);
    expect(
      representationProblems(
        [
          { __typename: 'Event', id: 'e1' },
          { __typename: 'Seat', room: { code: 'A' }, number: 3 },
          { __typename: 'Seat', seatId: 's-1' },
        ],
        entities,
      ),
    ).toEqual([]);
  });

  it('refuse operator objects, wrong scalar types, unknown types and missing keys, naming index and field', () => {
    const problems = representationProblems(
      [
        { __typename: 'Event', id: { $ne: null } },
        { __typename: 'Event', id: ['e1'] },
        { __typename: 'Seat', room: { code: { $regex: '^A' } }, number: 3 },
        { __typename: 'Seat', room: { code: 'A' }, number: '3' },
        { __typename: 'Nope', id: 'x' },
        { id: 'x' },
        { __typename: 'Event' },
        'Event',
      ],
      entities,
    );
    expect(problems.map((p) => [p.field, p.reason])).toEqual([
      ['representations[0].id', 'must be a string (ID), not an object'],
      ['representations[1].id', 'must be a string (ID), not an array'],
      ['representations[2].room.code', 'must be a string (String), not an object'],
      ['representations[3].number', 'must be an integer (Int), not a string'],
      ['representations[4].__typename', '"Nope" is not an entity of this subgraph'],
      ['representations[5].__typename', 'must be the name of an entity type'],
      ['representations[6].id', 'is missing or null'],
      ['representations[7]', 'must be an object, not a string'],
    ]);
  });
});
