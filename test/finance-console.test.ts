// The finance work queue page: served by the gateway, and every operation it sends is valid against the governed API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { clientAs, gatewayUrl } from './support';

const operationsOf = (html: string): Record<string, string> =>
  JSON.parse(/<script type="application\/json" id="operations">([\s\S]*?)<\/script>/.exec(html)![1]!);

it('is served at /finance, and every operation on it validates against the API schema', async () => {
  const res = await fetch(gatewayUrl().replace(/\/graphql$/, '/finance'));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  const operations = operationsOf(await res.text());
  expect(Object.keys(operations).sort()).toEqual([
    'approve',
    'closePeriod',
    'customerByKey',
    'mapAlias',
    'queue',
    'release',
    'reopenPeriod',
    'replay',
  ]);
  const api = buildSchema(readFileSync(join(__dirname, '..', 'schema', 'api.graphql'), 'utf8'));
  for (const [name, operation] of Object.entries(operations)) {
    expect({ name, errors: validate(api, parse(operation)).map((e) => e.message) }).toEqual({ name, errors: [] });
  }
});

it('loads the work queue and closes and reopens a period with the page’s own operations', async () => {
  const operations = operationsOf(readFileSync(join(__dirname, '..', 'gateway', 'finance-console.html'), 'utf8'));
  const finance = clientAs('finance');
  const queue = await finance.raw(operations.queue!);
  expect(queue.errors).toBeUndefined();
  expect(Object.keys(queue.data)).toEqual([
    'usageExceptions',
    'pricingExceptions',
    'held',
    'dead',
    'accountingPeriods',
    'ratingAdjustments',
  ]);
  const closed = await finance.raw(operations.closePeriod!, { key: '2031-01' });
  expect(closed.data.closeAccountingPeriod).toEqual({ key: '2031-01', status: 'CLOSED' });
  const reopened = await finance.raw(operations.reopenPeriod!, { key: '2031-01' });
  expect(reopened.data.reopenAccountingPeriod).toEqual({ key: '2031-01', status: 'OPEN' });
});
