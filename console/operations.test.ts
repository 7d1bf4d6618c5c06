// Every operation the console sends validates against the governed API schema, so the console cannot drift from it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { OPERATIONS } from './src/operations';

const api = buildSchema(readFileSync(join(__dirname, '..', 'schema', 'api.graphql'), 'utf8'));

it.each(Object.entries(OPERATIONS))('%s validates against the API schema', (name, operation) => {
  expect({ name, errors: validate(api, parse(operation)).map((e) => e.message) }).toEqual({ name, errors: [] });
});
