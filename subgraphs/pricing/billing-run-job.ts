// A billing run as a job (lib/jobs.ts): each step rates one page of the period's subscriptions and records its tally;
// the run's outcome is the sum of its steps. Re-running a step is harmless: unchanged inputs make no new revisions.
import type { Logger } from '../../lib/logger';
import type { JobKind, JobView } from '../../lib/jobs';
import { parsePeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { timeWork } from '../../lib/metrics';
import {
  emptyBillingRun,
  mergeTotal,
  rateBillingPeriodPage,
  tallyRatings,
  type BillingRun,
} from './rate-billing-period';
import type { PricingStore } from './store';

export const BILLING_RUN_JOB = 'billing-run';

export interface BillingRunInput {
  period: string;
}

/** One page's tally: a BillingRun without its period, duration and correlation id. */
export type BillingRunStep = Omit<BillingRun, 'period' | 'durationMs' | 'correlationId'>;

export function billingRunJob(store: PricingStore): JobKind<BillingRunInput, BillingRunStep> {
  return {
    kind: BILLING_RUN_JOB,
    async step(job, cursor, log: Logger) {
      const period = parsePeriod(job.input.period);
      const total =
        cursor === null
          ? (
              await querySubgraph<{ subscriptionsActiveInCount: number }>(
                'subscriptions',
                'query($p: String!) { subscriptionsActiveInCount(period: $p) }',
                { p: period.key },
              )
            ).subscriptionsActiveInCount
          : null;
      const page = await timeWork('rating', () => rateBillingPeriodPage(store, period, cursor, job.correlationId, log));
      const {
        period: _p,
        durationMs: _d,
        correlationId: _c,
        ...tally
      } = tallyRatings(emptyBillingRun(period, job.correlationId), page.results);
      // Held and failed subscriptions are reported by id, code and exception; their charges are not kept twice.
      const slim = (r: BillingRunStep['failures'][number]) => ({ ...r, ratedCharges: [], adjustments: [] });
      return {
        cursor: page.next,
        done: page.results.length,
        failures: tally.failed,
        total,
        result: { ...tally, heldSubscriptions: tally.heldSubscriptions.map(slim), failures: tally.failures.map(slim) },
      };
    },
  };
}

export type BillingRunJobView = JobView<BillingRunInput, BillingRunStep>;

/** The run so far (complete once the job SUCCEEDED): the sum of its steps. */
export function billingRunOf(view: JobView<BillingRunInput, BillingRunStep>): BillingRun {
  const run = emptyBillingRun(parsePeriod(view.job.input.period), view.job.correlationId);
  for (const step of view.results) {
    run.subscriptions += step.subscriptions;
    run.rated += step.rated;
    run.held += step.held;
    run.failed += step.failed;
    run.notActive += step.notActive;
    run.adjustments += step.adjustments;
    run.heldSubscriptions.push(...step.heldSubscriptions);
    run.failures.push(...step.failures);
    for (const t of step.totals) run.totals = mergeTotal(run.totals, t);
  }
  run.durationMs = (view.finishedAt ?? new Date()).getTime() - view.job.startedAt.getTime();
  return run;
}
