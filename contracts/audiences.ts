// What each audience of the graph may see. Fields and types carry category tags (`@tag(name: "billing")`); an
// audience's contract is the supergraph without the categories it excludes. Untagged fields are plain reads that
// every audience sees. The same declarations decide what each role may do (see gateway/authorization.ts).

/** The categories a field or type can be tagged with, and what each one means. */
export const CATEGORIES = {
  billing: 'Amounts, prices and the documents that carry them: plans, rated charges, invoices, notes, postings.',
  'billing-ops':
    'Changes to money or accounting: rating, invoicing, posting, periods, pricing policy and approvals, contract terms, notes, tax and mappings.',
  'usage-schema': 'Registering, activating, deprecating and retiring usage types.',
  ingest: 'Sending usage events.',
  'usage-ops': 'Working held and quarantined usage: releasing, replaying, correcting or discarding events.',
  'master-data': 'Creating and changing legal entities, customers, aliases and subscriptions.',
  audit: 'Reading the audit log.',
  platform: 'Access management (API keys) and the record of operations clients send.',
  internal: 'Service-to-service fields the subgraphs use to talk to each other; @inaccessible, never in a contract.',
} as const;

export type Category = keyof typeof CATEGORIES;
export const CATEGORY_NAMES = Object.keys(CATEGORIES) as Category[];

export interface Audience {
  name: string;
  description: string;
  /** Categories removed from this audience's contract. */
  exclude: readonly Category[];
}

/** Platform engineers see the full supergraph; every other audience sees a contract. */
export const AUDIENCES = [
  {
    name: 'finance',
    description:
      'Finance: billing, invoices, postings, periods, pricing policy, exceptions and the audit log; usage read-only.',
    exclude: ['usage-schema', 'ingest', 'platform', 'internal'],
  },
  {
    name: 'customer-success',
    description: 'Customer success: customers, subscriptions, invoices, usage and lineage, read-only.',
    exclude: ['billing-ops', 'usage-schema', 'ingest', 'usage-ops', 'master-data', 'audit', 'platform', 'internal'],
  },
  {
    name: 'product',
    description: 'Product teams: usage types and usage; no money.',
    exclude: ['billing', 'billing-ops', 'master-data', 'audit', 'platform', 'internal'],
  },
  {
    name: 'internal-tools',
    description:
      'Internal tools: everything but access management and the audit log; each key is further limited by its scopes.',
    exclude: ['audit', 'platform', 'internal'],
  },
] as const satisfies readonly Audience[];

export type AudienceName = (typeof AUDIENCES)[number]['name'];
