import { parse } from 'graphql';
import { composeArtefacts, staleArtefacts } from './compose';

describe('the governed supergraph', () => {
  const artefacts = composeArtefacts();

  it('composes from the subgraphs without hints to act on', () => {
    expect(artefacts.hints).toEqual([]);
    expect(Object.keys(artefacts.files).sort()).toEqual([
      'api.graphql',
      'contracts/customer-success.graphql',
      'contracts/finance.graphql',
      'contracts/internal-tools.graphql',
      'contracts/product.graphql',
      'subgraphs/access.graphql',
      'subgraphs/erp-postings.graphql',
      'subgraphs/events.graphql',
      'subgraphs/invoices.graphql',
      'subgraphs/pricing.graphql',
      'subgraphs/subscriptions.graphql',
      'subgraphs/usage.graphql',
      'supergraph.graphql',
    ]);
  });

  it('is committed as composed (run `npm run schema:compose` after changing a subgraph schema)', () => {
    expect(staleArtefacts(artefacts)).toEqual([]);
  });

  it('exposes the spine and lineage entities in the public API', () => {
    const api = parse(artefacts.files['api.graphql']!);
    const types = new Set(api.definitions.flatMap((d) => ('name' in d && d.name ? [d.name.value] : [])));
    for (const t of [
      'Customer',
      'PlanSubscription',
      'UsageType',
      'UsageEvent',
      'UsageAggregate',
      'PricePlan',
      'RatedCharge',
      'Invoice',
      'InvoiceLine',
      'ErpPosting',
      'AccountingPeriod',
    ]) {
      expect(types).toContain(t);
    }
  });
});
