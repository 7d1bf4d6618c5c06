// Composition of the governed artefacts: the supergraph with Apollo's composer (what the gateway executes), the same
// with The Guild's (a second, independent opinion: their public schemas must agree), and one contract per audience.
import { composeServices as composeWithApollo } from '@apollo/composition';
import { Supergraph } from '@apollo/federation-internals';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import { composeSchemaContract, composeServices as composeWithGuild } from '@theguild/federation-composition';
import { buildSchema, lexicographicSortSchema, parse, printSchema, type DocumentNode } from 'graphql';
import { subgraphSdl } from '../lib/schema-files';
import { DEFAULT_PORTS, SUBGRAPH_NAMES, type SubgraphName } from '../lib/topology';
import { AUDIENCES, type Audience } from './audiences';

export interface SubgraphService {
  name: SubgraphName;
  url: string;
  typeDefs: DocumentNode;
  /** The subgraph's SDL as @apollo/subgraph prints it: what composition reads. */
  printed: string;
}

export function subgraphServices(urls: Partial<Record<SubgraphName, string>> = {}): SubgraphService[] {
  return SUBGRAPH_NAMES.map((name) => {
    const printed = printSubgraphSchema(buildSubgraphSchema({ typeDefs: parse(subgraphSdl(name)) }));
    return {
      name,
      url: urls[name] ?? `http://127.0.0.1:${DEFAULT_PORTS[name]}/graphql`,
      typeDefs: parse(printed),
      printed,
    };
  });
}

const asInput = (services: SubgraphService[]) => services.map(({ name, url, typeDefs }) => ({ name, url, typeDefs }));

/** Public schemas compared as GraphQL sees them: sorted, so declaration order does not count as a difference. */
export const canonicalSdl = (sdl: string): string => printSchema(lexicographicSortSchema(buildSchema(sdl)));

export interface ComposedGraph {
  supergraphSdl: string;
  /** The public API: what clients of the full graph see (no @inaccessible elements). */
  apiSdl: string;
  hints: string[];
}

export function composeSupergraph(services: SubgraphService[]): ComposedGraph {
  const result = composeWithApollo(asInput(services));
  if (result.errors) {
    throw new Error(`composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  return {
    supergraphSdl: result.supergraphSdl,
    apiSdl: printSchema(Supergraph.build(result.supergraphSdl).apiSchema().toGraphQLJSSchema()),
    hints: result.hints.map((h) => `${h.definition.code}: ${h.message}`),
  };
}

/** Differences between Apollo's public schema and The Guild's for the same subgraphs (empty when they agree). */
export function composerDisagreements(services: SubgraphService[], apollo: ComposedGraph): string[] {
  const guild = composeWithGuild(asInput(services));
  if (guild.errors) return guild.errors.map((e) => `The Guild's composer: ${e.message}`);
  const a = canonicalSdl(apollo.apiSdl).split('\n');
  const g = canonicalSdl(guild.publicSdl).split('\n');
  if (a.join('\n') === g.join('\n')) return [];
  const onlyA = a.filter((l) => !g.includes(l)).slice(0, 10);
  const onlyG = g.filter((l) => !a.includes(l)).slice(0, 10);
  return [
    `the composers disagree on the public schema: only Apollo's has ${JSON.stringify(onlyA)}; only The Guild's has ${JSON.stringify(onlyG)}`,
  ];
}

/** An audience's contract: the supergraph without the categories it excludes, unreachable types removed. */
export function composeContract(services: SubgraphService[], audience: Audience): string {
  const result = composeSchemaContract(
    asInput(services),
    { include: new Set(), exclude: new Set(audience.exclude) },
    true,
  );
  if (result.errors) {
    throw new Error(
      `the ${audience.name} contract does not compose:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`,
    );
  }
  return canonicalSdl(result.publicSdl);
}

export function composeContracts(services: SubgraphService[]): Record<string, string> {
  return Object.fromEntries(AUDIENCES.map((a) => [a.name, composeContract(services, a)]));
}
