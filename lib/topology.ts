// Where each part listens. Defaults for `npm start`; every address can be overridden by the environment.
export const SUBGRAPH_NAMES = [
  'usage',
  'subscriptions',
  'pricing',
  'invoices',
  'erp-postings',
  'access',
  'events',
] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

export const DEFAULT_PORTS: Record<SubgraphName | 'gateway', number> = {
  gateway: 4000,
  usage: 4001,
  subscriptions: 4002,
  pricing: 4003,
  invoices: 4004,
  'erp-postings': 4005,
  access: 4006,
  events: 4007,
};

export function subgraphUrlEnv(name: SubgraphName): string {
  return `SUBGRAPH_URL_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** The GraphQL endpoint of a subgraph, from `SUBGRAPH_URL_<NAME>` or the default port on loopback. */
export function subgraphUrl(name: SubgraphName): string {
  return process.env[subgraphUrlEnv(name)] ?? `http://127.0.0.1:${DEFAULT_PORTS[name]}/graphql`;
}

export function isSubgraphName(value: string): value is SubgraphName {
  return (SUBGRAPH_NAMES as readonly string[]).includes(value);
}
