// A subgraph's SDL is its own schema.graphql plus the shared value types, identical in every subgraph.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, type DocumentNode } from 'graphql';
import type { SubgraphName } from './topology';

const ROOT = join(__dirname, '..');

export function subgraphSdl(name: SubgraphName): string {
  const own = readFileSync(join(ROOT, 'subgraphs', name, 'schema.graphql'), 'utf8');
  const common = readFileSync(join(ROOT, 'lib', 'graphql', 'common.graphql'), 'utf8');
  return `${own}\n${common}`;
}

export function subgraphTypeDefs(name: SubgraphName): DocumentNode {
  return parse(subgraphSdl(name));
}
