// `npm run bench:rate`: a billing run rating one period for 10,000 subscriptions with three usage types each (their
// aggregates already stored; three plans mixing every charge model, tiered blocks, graduated percentage and dynamic
// prices included), beside a baseline in the same run: reading the same subscriptions and aggregates through the same
// calls, without rating. Prints subscriptions/s, total time, the ratio (aims: within 2× the read, issue 11; within
// 1.3×, issue 13), the job's progress as it runs, and each process's peak memory. `npm run bench:rate:100k` is the
// same with 100,000 subscriptions: the billing run is a background job (startBillingRun), polled for its progress.
import { mustGraphql } from '../runtime/graph-client';
import { querySubgraph } from '../lib/subgraph-client';
import { SUBSCRIPTION_FIELDS, type SubscriptionView } from '../subgraphs/pricing/rating-run';
import { cpuByProcess, cpuSinceText, fmt, freshSystem, loggedLines, peakRssMb, sumSteps } from './support';
import { BENCH_TYPES, createBenchPlans, runBillingRun, seedSubscriptions } from './billing-fixture';
import { SUBGRAPH_NAMES, subgraphUrlEnv } from '../lib/topology';

const SUBSCRIPTIONS = Number(process.env.BENCH_SUBSCRIPTIONS ?? 10_000);
const PERIOD = '2026-10';
const PROGRESS_EVERY_MS = 5_000;

async function main(): Promise<void> {
  console.log(
    `bench:rate — one period for ${fmt(SUBSCRIPTIONS)} subscriptions × ${BENCH_TYPES.length} usage types, aggregates already stored`,
  );
  // The pricing subgraph logs each billing-run page's step timings, read back below to say where the time goes.
  const { system, credential, cleanup } = await freshSystem('rate', { RATING_TIMINGS: '1' });
  try {
    for (const name of SUBGRAPH_NAMES) process.env[subgraphUrlEnv(name)] = system.subgraphUrls[name];
    const gql = <T = any>(q: string, v: Record<string, unknown> = {}) =>
      mustGraphql<T>(system.gatewayUrl, q, v, { correlationId: 'bench-rate', credential });

    // Setup through the graph where it is one call, straight into the databases where it is thousands.
    const plans = await createBenchPlans(gql);
    const { aggregates } = await seedSubscriptions(system, plans, { count: SUBSCRIPTIONS, period: PERIOD });
    console.error(`  [setup] seeded ${fmt(SUBSCRIPTIONS)} customers and subscriptions, ${fmt(aggregates)} aggregates`);

    // Baseline: the same reads the billing run makes — every subscription page, then its aggregates — and nothing else.
    // CPU seconds of each process over a phase: which one the phase's time went to.
    const cpuNow = () => cpuByProcess(system.processes);
    const cpuSince = (before: Map<string, number>) => cpuSinceText(system.processes, before);
    let cpu = cpuNow();
    const tRead = performance.now();
    let read = 0;
    let pagingMs = 0;
    let after: string | null = null;
    do {
      const tPage = performance.now();
      const page: {
        subscriptionsActiveIn: {
          nodes: SubscriptionView[];
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        };
      } = await querySubgraph(
        'subscriptions',
        `query($p: String!, $first: Int!, $after: String) { subscriptionsActiveIn(period: $p, first: $first, after: $after) { nodes { ${SUBSCRIPTION_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
        { p: PERIOD, first: 500, after },
      );
      pagingMs += performance.now() - tPage;
      const nodes = page.subscriptionsActiveIn.nodes;
      for (let i = 0; i < nodes.length; i += 200) {
        await querySubgraph(
          'usage',
          'mutation($p: String!, $r: [UsageForRatingRequest!]!) { usageForRating(period: $p, requests: $r) { subscriptionId usageTypeKey productLine unit aggregate { id } segments { from to quantity eventCount values } } }',
          {
            p: PERIOD,
            r: nodes.slice(i, i + 200).map((s) => ({ subscriptionId: s.id, usageTypeKeys: [...BENCH_TYPES] })),
          },
        );
      }
      read += nodes.length;
      after = page.subscriptionsActiveIn.pageInfo.hasNextPage ? page.subscriptionsActiveIn.pageInfo.endCursor : null;
    } while (after);
    const readSeconds = (performance.now() - tRead) / 1000;
    const readCpu = cpuSince(cpu);

    // The job's own progress (done / total, rate), every PROGRESS_EVERY_MS, as a finance user polling it would see it.
    const billingRun = (label: string) => {
      let shown = performance.now();
      return runBillingRun(gql, PERIOD, (p) => {
        if (performance.now() - shown < PROGRESS_EVERY_MS) return;
        shown = performance.now();
        console.error(
          `  [${label}] ${fmt(p.done)} / ${p.total === null ? '?' : fmt(p.total)} subscriptions, ${p.failures} failed, ${fmt(p.ratePerSecond)}/s`,
        );
      });
    };
    cpu = cpuNow();
    const tRate = performance.now();
    const run = await billingRun('billing run');
    const rateSeconds = (performance.now() - tRate) / 1000;
    const rateCpu = cpuSince(cpu);
    const pageTimings = () =>
      loggedLines<{ subscriptions: number; ms: Record<string, number> }>(system, 'pricing', 'billing run page timings');
    const firstRunPages = pageTimings();
    const tAgain = performance.now();
    const again = await billingRun('re-run');
    const againSeconds = (performance.now() - tAgain) / 1000;
    const reRunPages = pageTimings().slice(firstRunPages.length);
    const whereItGoes = (pages: typeof firstRunPages) =>
      `${pages.length} pages: ${[...sumSteps(pages)].map(([step, ms]) => `${step} ${(ms / 1000).toFixed(1)} s`).join(', ')}`;

    console.log('');
    console.log(
      `rated ${fmt(run.rated)} of ${fmt(run.subscriptions)} subscriptions (${run.failed} failed, ${run.held} held); total ${run.totals.map((t: any) => `${t.amount} ${t.currency}`).join(', ')}`,
    );
    console.log(
      `baseline: read subscriptions + aggregates  ${fmt(read / readSeconds).padStart(7)} subscriptions/s   (${readSeconds.toFixed(1)} s)`,
    );
    console.log(
      `  of which paging subscriptions             ${(pagingMs / 1000).toFixed(1)} s, aggregates ${(readSeconds - pagingMs / 1000).toFixed(1)} s`,
    );
    console.log(
      `billing run: rate and store                ${fmt(run.subscriptions / rateSeconds).padStart(7)} subscriptions/s   (${rateSeconds.toFixed(1)} s)`,
    );
    console.log(`  CPU s: read ${readCpu}; billing run ${rateCpu}`);
    console.log(`  where it goes (pricing's own timings, ${whereItGoes(firstRunPages)})`);
    console.log(
      `ratio rating / read                         ${(rateSeconds / readSeconds).toFixed(2)}   (aims: ≤ 2, issue 11; ≤ 1.3, issue 13)`,
    );
    console.log(
      `re-run, nothing changed (no new revisions)  ${fmt(run.subscriptions / againSeconds).padStart(7)} subscriptions/s   (${againSeconds.toFixed(1)} s; total ${again.totals[0]?.amount} — same: ${again.totals[0]?.amount === run.totals[0]?.amount})`,
    );
    console.log(`  where it goes (${whereItGoes(reRunPages)})`);
    const rss = system.processes
      .filter((p) => p.child.pid)
      .map((p) => `${p.name} ${peakRssMb(p.child.pid)} MB`)
      .join(', ');
    console.log(`peak memory (VmHWM): ${rss}`);
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
