// Use cases: rate one subscription's period, or every subscription active in a period (a billing run).
import { config } from '../../lib/config';
import { UserFacingError, notFound } from '../../lib/errors';
import { Laps } from '../../lib/laps';
import type { Logger } from '../../lib/logger';
import { sumMoney, type Money } from '../../lib/money';
import { parsePeriod, type BillingPeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { rateSubscriptions, SUBSCRIPTION_FIELDS, type SubscriptionRating, type SubscriptionView } from './rating-run';
import type { PricingStore } from './store';
import { checkSpendingAlerts } from './spending-alerts';
import { checkUsageThresholds } from './usage-thresholds';

/** Spending alerts and usage thresholds never fail a rating: a failed check is logged and made again by the next one. */
async function alertsAfterRating(store: PricingStore, periodKey: string, results: SubscriptionRating[], log: Logger) {
  const rated = results.filter((r) => r.status === 'RATED').map((r) => r.customerId);
  await checkSpendingAlerts(store, periodKey, rated, log).catch((error: unknown) =>
    log.error({ err: error, period: periodKey }, 'spending alerts could not be checked; the next rating checks again'),
  );
  await checkUsageThresholds(store, periodKey, results, log).catch((error: unknown) =>
    log.error({ err: error, period: periodKey }, 'usage thresholds could not be checked; the next rating checks again'),
  );
}

export interface RatingResult extends SubscriptionRating {
  period: BillingPeriod;
  correlationId: string;
}

export async function rateBillingPeriod(
  store: PricingStore,
  subscriptionId: string,
  periodKey: string,
  correlationId: string,
  log: Logger,
): Promise<RatingResult> {
  const period = parsePeriod(periodKey);
  const { subscription } = await querySubgraph<{ subscription: SubscriptionView | null }>(
    'subscriptions',
    `query($id: ID!) { subscription(id: $id) { ${SUBSCRIPTION_FIELDS} } }`,
    { id: subscriptionId },
  );
  if (!subscription) throw notFound('subscription', 'subscriptionId', subscriptionId);
  const [result] = await store.locks.run(`rate:${subscriptionId}:${period.key}`, () =>
    rateSubscriptions(store, period.key, [subscription], correlationId, log),
  );
  if (result!.status === 'NOT_ACTIVE') {
    throw new UserFacingError(
      'SUBSCRIPTION_NOT_ACTIVE',
      `subscription ${subscriptionId} is not active in ${period.key}`,
      {
        field: 'period',
        expected: `a period between ${subscription.startsAt.slice(0, 7)} and ${subscription.endsAt ? subscription.endsAt.slice(0, 7) : 'now'}`,
      },
    );
  }
  await alertsAfterRating(store, period.key, [result!], log);
  if (result!.status === 'FAILED') {
    throw new UserFacingError(
      result!.error!.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'INTERNAL_SERVER_ERROR',
      result!.error!.message,
      { field: 'subscriptionId' },
    );
  }
  return { ...result!, period, correlationId };
}

export interface BillingRun {
  period: BillingPeriod;
  subscriptions: number;
  rated: number;
  held: number;
  failed: number;
  notActive: number;
  totals: Money[];
  adjustments: number;
  heldSubscriptions: SubscriptionRating[];
  failures: SubscriptionRating[];
  durationMs: number;
  correlationId: string;
}

/** Subscriptions rated per page of a billing run (and per step of its job). */
export const BILLING_RUN_PAGE = (): number => config().PRICING_RUN_PAGE_SIZE;

export function emptyBillingRun(period: BillingPeriod, correlationId: string): BillingRun {
  return {
    period,
    subscriptions: 0,
    rated: 0,
    held: 0,
    failed: 0,
    notActive: 0,
    totals: [],
    adjustments: 0,
    heldSubscriptions: [],
    failures: [],
    durationMs: 0,
    correlationId,
  };
}

/** Adds one page's ratings to a run's tally. */
export function tallyRatings(run: BillingRun, results: SubscriptionRating[]): BillingRun {
  for (const r of results) {
    run.subscriptions++;
    if (r.status === 'RATED') run.rated++;
    if (r.status === 'HELD') {
      run.held++;
      run.heldSubscriptions.push(r);
    }
    if (r.status === 'FAILED') {
      run.failed++;
      run.failures.push(r);
    }
    if (r.status === 'NOT_ACTIVE') run.notActive++;
    run.adjustments += r.adjustmentsRecorded;
    if (r.total) run.totals = mergeTotal(run.totals, r.total);
  }
  return run;
}

type SubscriptionPage = {
  subscriptionsActiveIn: {
    nodes: SubscriptionView[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
};

const readPage = (periodKey: string, first: number, after: string | null): Promise<SubscriptionPage> =>
  querySubgraph(
    'subscriptions',
    `query($p: String!, $first: Int!, $after: String) { subscriptionsActiveIn(period: $p, first: $first, after: $after) { nodes { ${SUBSCRIPTION_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
    { p: periodKey, first, after },
  );

/** Pages read ahead while the page before them is rated, by period, size and cursor; kept at most a minute. */
const readAhead = new Map<string, { at: number; page: Promise<SubscriptionPage | null> }>();
const READ_AHEAD_MS = 60_000;

/**
 * A page of the period's subscriptions, and the next one read ahead while this one is rated (the subscriptions
 * subgraph and the database answer it meanwhile). An optimisation of this process only: a page read ahead is read
 * one page's rating earlier than it would have been, a snapshot like any page; one that failed, expired or was read
 * by another process is simply read again.
 */
async function subscriptionPage(period: BillingPeriod, after: string | null): Promise<SubscriptionPage> {
  const first = BILLING_RUN_PAGE();
  const keyOf = (cursor: string | null) => `${period.key}\u0000${first}\u0000${cursor ?? ''}`;
  const now = Date.now();
  for (const [key, entry] of readAhead) if (now - entry.at > READ_AHEAD_MS) readAhead.delete(key);
  const ahead = readAhead.get(keyOf(after));
  readAhead.delete(keyOf(after));
  const page = (ahead && (await ahead.page)) ?? (await readPage(period.key, first, after));
  const { hasNextPage, endCursor } = page.subscriptionsActiveIn.pageInfo;
  if (hasNextPage && endCursor)
    readAhead.set(keyOf(endCursor), {
      at: Date.now(),
      page: readPage(period.key, first, endCursor).catch(() => null),
    });
  return page;
}

/** Rates one page of the subscriptions active in a period, after `after`; says where the next page starts. */
export async function rateBillingPeriodPage(
  store: PricingStore,
  period: BillingPeriod,
  after: string | null,
  correlationId: string,
  log: Logger,
): Promise<{ results: SubscriptionRating[]; next: string | null }> {
  const laps = config().RATING_TIMINGS ? new Laps() : undefined;
  const page = await subscriptionPage(period, after);
  laps?.lap('subscriptions');
  const results = await rateSubscriptions(
    store,
    period.key,
    page.subscriptionsActiveIn.nodes,
    correlationId,
    log,
    laps,
  );
  await alertsAfterRating(store, period.key, results, log);
  laps?.lap('alerts');
  if (laps) log.warn({ subscriptions: results.length, ms: laps.steps }, 'billing run page timings');
  const { hasNextPage, endCursor } = page.subscriptionsActiveIn.pageInfo;
  return { results, next: hasNextPage ? endCursor : null };
}

/**
 * Rates every subscription active in the period, a page at a time, within one request; one that fails is reported,
 * never blocking the rest. Kept for callers of the deprecated rateBillingPeriodForAll: startBillingRun is the job.
 */
export async function rateBillingPeriodForAll(
  store: PricingStore,
  periodKey: string,
  correlationId: string,
  log: Logger,
  onPage?: (done: number) => void,
): Promise<BillingRun> {
  const started = Date.now();
  const period = parsePeriod(periodKey);
  const run = emptyBillingRun(period, correlationId);
  let after: string | null = null;
  do {
    const page = await rateBillingPeriodPage(store, period, after, correlationId, log);
    tallyRatings(run, page.results);
    onPage?.(run.subscriptions);
    after = page.next;
  } while (after);
  run.durationMs = Date.now() - started;
  log.info(
    {
      period: period.key,
      subscriptions: run.subscriptions,
      rated: run.rated,
      held: run.held,
      failed: run.failed,
      durationMs: run.durationMs,
    },
    'billing run rated the period',
  );
  return run;
}

/** Totals per currency, exact. */
export function mergeTotal(totals: Money[], add: Money): Money[] {
  const same = totals.find((t) => t.currency === add.currency);
  return same ? totals.map((t) => (t === same ? sumMoney([t, add], t.currency) : t)) : [...totals, add];
}
