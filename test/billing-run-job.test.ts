// A billing run is a job: it starts at once, its progress is a query, two starts of the same run are one job, and a
// run whose process is killed outright resumes where it stopped, rating every subscription.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Decimal from 'decimal.js';
import { MongoClient } from 'mongodb';
import { billingRun, client, eventually, subgraphClient, unique } from './support';
import { endsAtOrOpen } from '../subgraphs/subscriptions/store';

const g = client('billing-run-job-test');
const u = unique('job');

/** A plan with one fee, and `count` subscriptions on it active in `period` only, written straight into the database. */
async function seedSubscriptions(period: string, count: number): Promise<string[]> {
  const { createPricePlan: plan } = await g.ok(
    `mutation($i: CreatePricePlanInput!) { createPricePlan(input: $i) { id } }`,
    {
      i: {
        key: unique(`${u}-plan`),
        name: 'Job plan',
        currency: 'USD',
        charges: [],
        recurringFees: [{ key: 'base', description: 'Base fee', amount: '10.00' }],
      },
    },
  );
  const startsAt = new Date(`${period}-01T00:00:00Z`);
  const endsAt = new Date(startsAt);
  endsAt.setUTCMonth(endsAt.getUTCMonth() + 1);
  const mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  try {
    const db = mongo.db(`${process.env.USAGEGRAPH_DB_PREFIX}_subscriptions`);
    const ids: string[] = [];
    const customers = [];
    const subscriptions = [];
    const lists = [];
    for (let i = 0; i < count; i++) {
      const customerId = `cus_${u}_${period}_${i}`;
      const subscriptionId = `sub_${u}_${period}_${String(i).padStart(5, '0')}`;
      ids.push(subscriptionId);
      customers.push({
        _id: customerId,
        externalKey: `${u}-${period}-${i}`,
        name: `Job customer ${i}`,
        currency: 'USD',
        legalEntityCode: 'DEFAULT',
        createdAt: new Date(),
        updatedAt: new Date(),
        correlationId: 'seed',
      });
      subscriptions.push({
        _id: subscriptionId,
        customerId,
        pricePlanId: plan.id,
        startsAt,
        endsAt,
        endsAtOrOpen: endsAtOrOpen(endsAt),
        createdAt: new Date(),
        correlationId: 'seed',
      });
      lists.push({ _id: customerId, subscriptionIds: [subscriptionId] });
    }
    await db.collection('customers').insertMany(customers as never[]);
    await db.collection('subscriptions').insertMany(subscriptions as never[]);
    await db.collection('subscriptions_by_customer').insertMany(lists as never[]);
    return ids;
  } finally {
    await mongo.close();
  }
}

const RUN_FIELDS = 'subscriptions rated failed totals { amount currency }';

/**
 * Subscriptions of other tests active in a period (theirs are open-ended, so a far period covers them too): a run
 * covers every active subscription, so this test counts on theirs plus its own.
 */
const activeIn = async (period: string): Promise<number> =>
  (
    await subgraphClient(process.env.SUBGRAPH_URL_SUBSCRIPTIONS!).ok<{ subscriptionsActiveInCount: number }>(
      `query($p: String!) { subscriptionsActiveInCount(period: $p) }`,
      { p: period },
    )
  ).subscriptionsActiveInCount;

/** The amounts of this test's own subscriptions' current charges in a period, and how many revisions they have. */
async function ownCharges(ids: string[], period: string): Promise<{ total: string; revisions: number[] }> {
  const mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  try {
    const charges = await mongo
      .db(`${process.env.USAGEGRAPH_DB_PREFIX}_pricing`)
      .collection('rated_charges')
      .find({ subscriptionId: { $in: ids }, periodKey: period })
      .project<{ amount: { amount: string }; revision: number }>({ amount: 1, revision: 1 })
      .toArray();
    const total = charges.reduce((sum, c) => sum.plus(c.amount.amount), new Decimal(0));
    return { total: total.toFixed(2), revisions: charges.map((c) => c.revision) };
  } finally {
    await mongo.close();
  }
}

it('starts at once, is one job however often it is started, reports progress, and rates every subscription', async () => {
  const others = await activeIn('2031-01');
  const ids = await seedSubscriptions('2031-01', 120);
  const start = () =>
    g.ok(`mutation { startBillingRun(period: "2031-01") { id status startedBy progress { done total } } }`);
  const [first, second] = await Promise.all([start(), start()]);
  expect(second.startBillingRun.id).toBe(first.startBillingRun.id);
  expect(['QUEUED', 'RUNNING']).toContain(first.startBillingRun.status);
  expect(first.startBillingRun.startedBy).toMatch(/^key:/); // the authenticated caller, never a typed name

  const finished = await eventually(
    'the run to finish',
    async () => {
      const { billingRunJob } = await g.ok(
        `query($id: ID!) { billingRunJob(id: $id) { status progress { done total failures ratePerSecond } run { ${RUN_FIELDS} } } }`,
        { id: first.startBillingRun.id },
      );
      return billingRunJob.status === 'SUCCEEDED' ? billingRunJob : undefined;
    },
    60_000,
  );
  expect(finished.progress).toMatchObject({ done: others + 120, total: others + 120, failures: 0 });
  expect(finished.progress.ratePerSecond).toBeGreaterThan(0);
  expect(finished.run).toMatchObject({ subscriptions: others + 120, failed: 0 });
  // Its own 120 subscriptions: one fee of 10.00 each, one revision each.
  expect(await ownCharges(ids, '2031-01')).toEqual({ total: '1200.00', revisions: Array(120).fill(1) });

  // Finished: starting the period again is a new run, which changes nothing (the same inputs make no new revisions).
  const again = await billingRun(g, '2031-01', RUN_FIELDS);
  expect(again.id).not.toBe(first.startBillingRun.id);
  expect(again.run.totals).toEqual(finished.run.totals);
  expect(await ownCharges(ids, '2031-01')).toEqual({ total: '1200.00', revisions: Array(120).fill(1) });
}, 120_000);

it('resumes a run whose process was killed outright, and rates every subscription exactly once', async () => {
  const others = await activeIn('2031-02');
  const ids = await seedSubscriptions('2031-02', 300);
  const { startBillingRun: job } = await g.ok(`mutation { startBillingRun(period: "2031-02") { id } }`);
  const progress = async () =>
    (
      await g.raw(`query($id: ID!) { billingRunJob(id: $id) { status runners progress { done total } } }`, {
        id: job.id,
      })
    ).data?.billingRunJob;
  await eventually('the run to be under way', async () => ((await progress())?.progress.done ?? 0) >= 50, 60_000);
  const processes = JSON.parse(
    readFileSync(join(process.env.USAGEGRAPH_TEST_DATA_DIR!, 'run', 'processes.json'), 'utf8'),
  ) as Array<{ pid: number; command: string }>;
  process.kill(processes.find((p) => p.command.includes('subgraphs/pricing/main'))!.pid, 'SIGKILL');
  const before = await eventually('the restarted pricing subgraph to answer', progress, 60_000);
  expect(before.status).not.toBe('SUCCEEDED');

  const done = await eventually(
    'the resumed run to finish',
    async () => {
      const p = await progress();
      return p?.status === 'SUCCEEDED' ? p : undefined;
    },
    120_000,
  );
  expect(done.progress).toEqual({ done: others + 300, total: others + 300 });
  expect(done.runners).toBe(2);
  const { billingRunJob } = await g.ok(`query($id: ID!) { billingRunJob(id: $id) { run { ${RUN_FIELDS} } } }`, {
    id: job.id,
  });
  expect(billingRunJob.run).toMatchObject({ subscriptions: others + 300, failed: 0 });
  // Each subscription has its fee once: a page rated twice (before and after the crash) made no second revision.
  const mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  try {
    const charges = await mongo
      .db(`${process.env.USAGEGRAPH_DB_PREFIX}_pricing`)
      .collection('rated_charges')
      .find({ subscriptionId: { $in: ids }, periodKey: '2031-02' })
      .project({ subscriptionId: 1, revision: 1 })
      .toArray();
    expect(charges).toHaveLength(300);
    expect(new Set(charges.map((c) => c.subscriptionId)).size).toBe(300);
    expect(charges.every((c) => c.revision === 1)).toBe(true);
  } finally {
    await mongo.close();
  }
}, 240_000);
