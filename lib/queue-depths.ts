// The queues an operator watches, per subgraph, as gauges read from the subgraph's own collections on scrape: held
// usage, open exceptions, postings waiting or dead-lettered, webhook deliveries waiting. Each count uses an index.
import type { Db } from 'mongodb';
import { registerQueueDepth } from './metrics';
import type { SubgraphName } from './topology';

const count = (db: Db, collection: string, filter: object) => db.collection(collection).countDocuments(filter);

const byStatus = (db: Db, collection: string, statuses: readonly string[]) => async () =>
  Promise.all(statuses.map(async (status) => ({ labels: { status }, value: await count(db, collection, { status }) })));

export function registerQueueDepths(subgraph: SubgraphName, db: Db): void {
  if (subgraph === 'usage') {
    registerQueueDepth({
      name: 'usagegraph_held_usage_events',
      help: 'Usage events held until finance maps their customer or a subscription covers them',
      labelNames: [],
      read: async () => [{ labels: {}, value: await count(db, 'held_events', {}) }],
    });
    registerQueueDepth({
      name: 'usagegraph_open_usage_exceptions',
      help: 'Usage exceptions open in the finance work queue',
      labelNames: [],
      read: async () => [{ labels: {}, value: await count(db, 'usage_exceptions', { status: 'OPEN' }) }],
    });
    registerQueueDepth({
      name: 'usagegraph_quarantined_usage_events',
      help: 'Rejected usage events in quarantine, not yet replayed',
      labelNames: [],
      read: async () => [{ labels: {}, value: await count(db, 'quarantined_events', { status: 'OPEN' }) }],
    });
  }
  if (subgraph === 'pricing') {
    registerQueueDepth({
      name: 'usagegraph_open_pricing_exceptions',
      help: 'Contracts outside the pricing policy waiting for approval or correction',
      labelNames: [],
      read: async () => [{ labels: {}, value: await count(db, 'pricing_exceptions', { status: 'OPEN' }) }],
    });
  }
  if (subgraph === 'erp-postings') {
    registerQueueDepth({
      name: 'usagegraph_erp_postings',
      help: 'ERP postings not yet posted, by status: pending, sending, retry scheduled, held, dead-lettered',
      labelNames: ['status'],
      read: byStatus(db, 'erp_postings', ['PENDING', 'SENDING', 'RETRY_SCHEDULED', 'HELD', 'DEAD_LETTER']),
    });
  }
  if (subgraph === 'events') {
    registerQueueDepth({
      name: 'usagegraph_webhook_deliveries',
      help: 'Webhook deliveries not yet delivered, by status',
      labelNames: ['status'],
      read: byStatus(db, 'webhook_deliveries', ['PENDING', 'SENDING', 'RETRY_SCHEDULED', 'DEAD_LETTER']),
    });
  }
}
