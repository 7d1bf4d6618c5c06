// Lineage after a usage type is retired: found by typing the resolvers with the generated types (UsageType! was null).
import { client, unique } from './support';

const g = client('retired-usage-type-test');

it('an aggregate of a usage type whose every version is retired still names the version that counted it', async () => {
  const key = unique('retired');
  await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
    i: {
      key,
      version: '1.0',
      unit: 'call',
      productLine: 'api',
      fields: [{ name: 'calls', type: 'INTEGER' }],
      aggregation: { type: 'SUM', field: 'calls' },
    },
  });
  const u = unique('retired');
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: { key: `${u}-plan`, name: 'p', currency: 'USD', charges: [{ usageTypeKey: key, unitPrice: '1' }] },
  });
  await g.ok(`mutation { upsertCustomer(input: { externalKey: "${u}-c", name: "c", currency: "USD" }) { id } }`);
  const { createSubscription } = await g.ok(
    `mutation($p: ID!) { createSubscription(input: { customerExternalKey: "${u}-c", pricePlanId: $p, startsAt: "2026-01-01T00:00:00Z" }) { id } }`,
    { p: createPricePlan.id },
  );
  const events = [{ id: 'r1', source: key, type: key, customer: `${u}-c`, timestamp: '2026-03-02T00:00:00Z' }];
  await g.ok(`mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`, {
    e: events.map((e) => ({ ...e, data: { calls: 2 } })),
  });
  const { aggregateUsage } = await g.ok(
    `mutation($s: ID!, $k: [String!]!) { aggregateUsage(subscriptionId: $s, period: "2026-03", usageTypeKeys: $k) { id } }`,
    { s: createSubscription.id, k: [key] },
  );
  await g.ok(`mutation { deprecateUsageType(key: "${key}", version: "1.0", sunsetAt: "2030-01-01T00:00:00Z") { id } }`);
  await g.ok(`mutation { retireUsageType(key: "${key}", version: "1.0") { id } }`);

  const { usageAggregate } = await g.ok(
    `query($id: ID!) { usageAggregate(id: $id) { quantity usageType { key version status } } }`,
    { id: aggregateUsage[0].id },
  );
  expect(usageAggregate).toEqual({ quantity: '2', usageType: { key, version: '1.0', status: 'RETIRED' } });
});
