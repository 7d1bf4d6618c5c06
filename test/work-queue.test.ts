// Finance's one work queue: every stage raises its business exceptions through the events subgraph, which owns the
// queue; finance resolves them with actions run by the stage that holds the records, which then run again by themselves.
import { client, clientAs, eventually, firstError, unique } from './support';

const finance = () => clientAs('finance');

const ITEM = `id kind source status problem remedy held { count unit amounts { amount currency } }
  customerKey period references { name value } raisedAt ageSeconds assignee
  resolution { action detail afterwards resolvedBy resolvedAt } dismissal { reason dismissedBy }
  history { what by detail }`;

const item = async (id: string) =>
  (await finance().ok(`query($id: ID!) { workItem(id: $id) { ${ITEM} } }`, { id })).workItem;

async function usageSetup(prefix: string) {
  const u = unique(prefix);
  const g = client(`setup-${u}`);
  await g.ok(`mutation($i: RegisterUsageTypeInput!) { registerUsageType(input: $i, activate: true) { id } }`, {
    i: {
      key: `${u}_calls`,
      unit: 'call',
      productLine: 'api',
      fields: [{ name: 'calls', type: 'INTEGER', minimum: '0' }],
      aggregation: { type: 'SUM', field: 'calls' },
    },
  });
  const { createPricePlan } = await g.ok(`mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`, {
    i: {
      key: `${u}-plan`.toLowerCase(),
      name: 'plan',
      currency: 'USD',
      charges: [{ usageTypeKey: `${u}_calls`, unitPrice: '0.01' }],
    },
  });
  await g.ok(`mutation($i: UpsertCustomerInput!) { upsertCustomer(input: $i) { id } }`, {
    i: { externalKey: `${u}-c`, name: `Customer ${u}`, currency: 'USD' },
  });
  await g.ok(`mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }`, {
    i: { customerExternalKey: `${u}-c`, pricePlanId: createPricePlan.id, startsAt: '2026-01-01T00:00:00Z' },
  });
  const ingest = (events: unknown[]) =>
    g.ok(
      `mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { held rejected results { status exceptionId quarantineId problems { code } } } }`,
      { e: events },
    );
  return { u, g, ingest, planId: createPricePlan.id as string };
}

it('raises held usage into the queue and resolves it by mapping the key: the events flow on, and the queue says who and how', async () => {
  const { u, ingest } = await usageSetup('wq_held');
  const unknownKey = `${u}-unknown`;
  const result = await ingest(
    [1, 2, 3].map((n) => ({
      id: `h${n}`,
      source: u,
      type: `${u}_calls`,
      customer: unknownKey,
      timestamp: '2026-09-0' + n + 'T10:00:00Z',
      data: { calls: 100 * n },
    })),
  );
  expect(result.ingestUsageEvents.held).toBe(3);
  const exceptionId = result.ingestUsageEvents.results[0].exceptionId;

  const raised = await eventually('the held usage in the work queue', async () => {
    const w = await item(exceptionId);
    return w?.held.count === 3 && w;
  });
  expect(raised).toMatchObject({
    kind: 'CUSTOMER_UNKNOWN',
    source: 'usage',
    status: 'OPEN',
    customerKey: unknownKey,
    period: '2026-09',
    held: { count: 3, unit: 'usage events', amounts: [] },
  });
  expect(raised.problem).toContain(`"${unknownKey}"`);
  expect(raised.remedy).toMatch(/map .* to an existing customer/);
  const listed = await finance().ok(
    `query($k: String!) { workQueue(filter: { customerKey: $k }) { nodes { id status } totalCount } }`,
    { k: unknownKey },
  );
  expect(listed.workQueue.nodes).toEqual([{ id: exceptionId, status: 'OPEN' }]);

  // Customer success sees it, but may not act on it.
  const cs = clientAs('customer-success');
  expect((await cs.ok(`query($id: ID!) { workItem(id: $id) { id } }`, { id: exceptionId })).workItem.id).toBe(
    exceptionId,
  );
  const refused = await cs.raw(
    `mutation($id: ID!) { resolveUsageException(id: $id, resolution: { mapToCustomerKey: "x" }) { id } }`,
    { id: exceptionId },
  );
  expect(refused.status).toBe(403);
  expect((await cs.raw(`mutation($id: ID!) { assignWorkItem(id: $id) { id } }`, { id: exceptionId })).status).toBe(403);

  const { viewer } = await finance().ok('{ viewer { subject } }');
  const assigned = await finance().ok(`mutation($id: ID!) { assignWorkItem(id: $id) { status assignee } }`, {
    id: exceptionId,
  });
  expect(assigned.assignWorkItem).toEqual({ status: 'IN_PROGRESS', assignee: viewer.subject });

  // A wrong action for the kind is refused with what would fit.
  const wrong = await finance().raw(
    `mutation($id: ID!) { resolveUsageException(id: $id, resolution: { createSubscription: { pricePlanId: "p", startsAt: "2026-01-01T00:00:00Z" } }) { id } }`,
    { id: exceptionId },
  );
  expect(firstError(wrong).extensions).toMatchObject({
    code: 'VALIDATION_FAILED',
    field: 'resolution.createSubscription',
  });

  const resolved = await finance().ok(
    `mutation($id: ID!, $k: String!) { resolveUsageException(id: $id, resolution: { mapToCustomerKey: $k }) { status heldEventCount } }`,
    { id: exceptionId, k: `${u}-c` },
  );
  expect(resolved.resolveUsageException).toEqual({ status: 'RESOLVED', heldEventCount: 0 });
  const usage = await finance().ok(
    `query($k: String!) { customerUsage(customerKey: $k, period: "2026-09") { usage { quantity eventCount } } }`,
    { k: `${u}-c` },
  );
  expect(usage.customerUsage.usage).toEqual([{ quantity: '600', eventCount: 3 }]);

  const done = await eventually('the queue item resolved', async () => {
    const w = await item(exceptionId);
    return w?.status === 'RESOLVED' && w;
  });
  expect(done.resolution).toMatchObject({ action: 'MAPPED_TO_CUSTOMER', resolvedBy: viewer.subject });
  expect(done.resolution.detail).toContain(`"${unknownKey}" mapped to customer`);
  expect(done.resolution.afterwards).toMatch(/^3 held events stored/);
  expect(done.history.map((h: { what: string }) => h.what)).toEqual(
    expect.arrayContaining(['RAISED', 'ASSIGNED', 'RESOLVED']),
  );
});

it('groups rejected usage per type, problem and day; a correction and a discard clear the group, and nothing is deleted', async () => {
  const { u, ingest } = await usageSetup('wq_quar');
  const bad = (n: number) => ({
    id: `q${n}`,
    source: u,
    type: `${u}_calls`,
    customer: `${u}-c`,
    timestamp: '2026-09-05T10:00:00Z',
    data: { calls: -n },
  });
  const result = await ingest([bad(1), bad(2)]);
  expect(result.ingestUsageEvents.rejected).toBe(2);
  const [first, second] = result.ingestUsageEvents.results.map((r: { quarantineId: string }) => r.quarantineId);
  const entry = (
    await finance().ok(`query($id: ID!) { quarantinedEvent(id: $id) { groupId problems { code } } }`, { id: first })
  ).quarantinedEvent;
  expect(entry.groupId).toBeTruthy();
  const group = await eventually('one queue item for both rejected events', async () => {
    const w = await item(entry.groupId);
    return w?.held.count === 2 && w;
  });
  expect(group).toMatchObject({ kind: 'INVALID_USAGE', source: 'usage', status: 'OPEN' });
  expect(group.problem).toMatch(new RegExp(`^2 ${u}_calls events were rejected on \\d{4}-\\d{2}-\\d{2}`));
  const inGroup = await finance().ok(`query($g: ID!) { quarantinedEvents(groupId: $g) { nodes { id } totalCount } }`, {
    g: entry.groupId,
  });
  expect(inGroup.quarantinedEvents.nodes.map((n: { id: string }) => n.id).sort()).toEqual([first, second].sort());

  // A correction that is still wrong comes back with its problems, and the entry stays open.
  const stillWrong = await finance().ok(
    `mutation($id: ID!, $e: JSON!) { correctQuarantinedEvent(id: $id, event: $e) { status problems { code field } entry { status } } }`,
    { id: first, e: { ...bad(1), data: { calls: 'many' } } },
  );
  expect(stillWrong.correctQuarantinedEvent.status).toBe('REJECTED');
  expect(stillWrong.correctQuarantinedEvent.entry.status).toBe('OPEN');

  const corrected = await finance().ok(
    `mutation($id: ID!, $e: JSON!) { correctQuarantinedEvent(id: $id, event: $e) { status usageEventId entry { status correction { payloadText correctedBy } } } }`,
    { id: first, e: { ...bad(1), data: { calls: 1 } } },
  );
  expect(corrected.correctQuarantinedEvent).toMatchObject({ status: 'ACCEPTED', entry: { status: 'RESOLVED' } });
  expect(JSON.parse(corrected.correctQuarantinedEvent.entry.correction.payloadText).data).toEqual({ calls: 1 });
  await eventually('the group holds one event now', async () => (await item(entry.groupId))?.held.count === 1);

  const noReason = await finance().raw(
    `mutation($ids: [ID!]!) { discardQuarantinedEvents(ids: $ids, reason: "") { id } }`,
    { ids: [second] },
  );
  expect(firstError(noReason).extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'reason' });
  const discarded = await finance().ok(
    `mutation($ids: [ID!]!) { discardQuarantinedEvents(ids: $ids, reason: "test traffic from a load test") { id status discard { reason discardedBy } } }`,
    { ids: [second] },
  );
  expect(discarded.discardQuarantinedEvents[0]).toMatchObject({
    id: second,
    status: 'DISCARDED',
    discard: { reason: 'test traffic from a load test' },
  });
  // Kept: still readable, with the reason.
  const kept = await finance().ok(`query($id: ID!) { quarantinedEvent(id: $id) { status payload } }`, { id: second });
  expect(kept.quarantinedEvent.status).toBe('DISCARDED');
  expect(kept.quarantinedEvent.payload.data).toEqual({ calls: -2 });

  const done = await eventually('the group resolved', async () => {
    const w = await item(entry.groupId);
    return w?.status === 'RESOLVED' && w;
  });
  expect(done.resolution).toMatchObject({ action: 'DISCARDED' });
  expect(done.resolution.afterwards).toBe('1 event ingested, 1 discarded (kept with the reason)');
});

it('dismisses an item with a reason, and refuses to act on a closed one', async () => {
  const { u, ingest } = await usageSetup('wq_dismiss');
  const result = await ingest([
    {
      id: 'd1',
      source: u,
      type: `${u}_calls`,
      customer: `${u}-ghost`,
      timestamp: '2026-09-02T10:00:00Z',
      data: { calls: 1 },
    },
  ]);
  const id = result.ingestUsageEvents.results[0].exceptionId;
  await eventually('the item', () => item(id));
  const dismissed = await finance().ok(
    `mutation($id: ID!) { dismissWorkItem(id: $id, reason: "a test key from the staging product") { status dismissal { reason dismissedBy } } }`,
    { id },
  );
  expect(dismissed.dismissWorkItem).toMatchObject({
    status: 'DISMISSED',
    dismissal: { reason: 'a test key from the staging product' },
  });
  const again = await finance().raw(`mutation($id: ID!) { assignWorkItem(id: $id, assignee: "someone") { id } }`, {
    id,
  });
  expect(firstError(again).extensions).toMatchObject({ code: 'CONFLICT', field: 'id' });
  const summary = await finance().ok('{ workQueueSummary { status kind count } }');
  const dismissedCount = summary.workQueueSummary.find(
    (s: { status: string; kind: string }) => s.status === 'DISMISSED' && s.kind === 'CUSTOMER_UNKNOWN',
  );
  expect(dismissedCount.count).toBeGreaterThanOrEqual(1);
});
