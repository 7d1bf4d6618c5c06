// The subgraphs by name, and the variable that names each one's URL: no imports, so the configuration can use them.
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

export function subgraphUrlEnv(name: SubgraphName): string {
  return `SUBGRAPH_URL_${name.toUpperCase().replace(/-/g, '_')}`;
}
