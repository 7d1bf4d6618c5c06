// A subgraph's SDL is its own schema.graphql plus the shared value types, identical in every subgraph.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, type DocumentNode } from 'graphql';
import type { SubgraphName } from './topology';

const ROOT = join(__dirname, '..');

/** The subgraph's own schema.graphql, without the shared value types. */
export const ownSubgraphSdl = (name: SubgraphName): string =>
  readFileSync(join(ROOT, 'subgraphs', name, 'schema.graphql'), 'utf8');

/** The shared value types (Money, Period, PageInfo, …), identical in every subgraph. */
export const commonSdl = (): string => readFileSync(join(ROOT, 'lib', 'graphql', 'common.graphql'), 'utf8');

export function subgraphSdl(name: SubgraphName): string {
  return `${ownSubgraphSdl(name)}\n${commonSdl()}`;
}

export function subgraphTypeDefs(name: SubgraphName): DocumentNode {
  return parse(subgraphSdl(name));
}
