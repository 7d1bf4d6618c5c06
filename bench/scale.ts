// `npm run bench:scale`: what a request costs as data grows. One system, filled step by step:
//   - usage: 10,000, 100,000 and 1,000,000 stored events (BENCH_EVENT_SIZES); at each size the newest month's aggregate
//     of one demo customer holds the events added for that step, and that month is rated, invoiced and posted. Then,
//     sequentially (so latency is cost): the lineage query `npm start` prints on that month's invoice, the customer's
//     usage summary (`customerUsage`) and the first page of its events (`usageEvents`), each BENCH_REQUESTS times;
//     `customerUsage` twice: in the minute after the rating stored the aggregate (each read folds in what its marks
//     name since, subgraphs/usage/freshness.ts) and once that minute has passed (used as stored).
//   - billing: a billing run over 1,000 / 10,000 / 100,000 subscriptions (BENCH_SUBSCRIPTION_SIZES), each over a
//     period of its own with every subscription's aggregates stored; the smallest run once before any bulk event is
//     stored and once after the largest size, so the events already billed show whether they cost the run anything.
// Prints ms per request (median, p95) and the system's CPU-ms per request at each size, and the largest/smallest
// ratios beside the aims (pages within 1.5×; billing run linear in subscriptions, independent of events billed).
import { MongoClient, type Document } from 'mongodb';
import { mustGraphql } from '../runtime/graph-client';
import { LINEAGE_QUERY, lastCompleteMonth, loadDemoData } from '../scripts/demo-data';
import { aggregateId, eventId } from '../subgraphs/usage/enrichment';
import { SETTLE_MS } from '../subgraphs/usage/freshness';
import { fmt, freshSystem, percentile, peakRssMb, treeCpu } from './support';
import { createBenchPlans, runBillingRun, seedSubscriptions } from './billing-fixture';

type Doc = Document & { _id: string };

const sizes = (setting: string | undefined, fallback: string) => (setting ?? fallback).split(',').map(Number);
const EVENT_SIZES = sizes(process.env.BENCH_EVENT_SIZES, '10000,100000,1000000');
const SUBSCRIPTION_SIZES = sizes(process.env.BENCH_SUBSCRIPTION_SIZES, '1000,10000,100000');
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20);
const CUSTOMER = 'acme-analytics'; // a demo customer
const USAGE_TYPE = 'api_calls';
const SLOW_MS = 5_000;

interface Timing {
  medianMs: number;
  p95Ms: number;
  cpuMs: number;
  /** Timed once: the first request took longer than SLOW_MS. */
  once?: boolean;
  error?: string;
}

/** Months before `period`, oldest first: `count` of them, ending `gap` months before it. */
function monthsBefore(period: string, count: number, gap = 1): string[] {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return Array.from({ length: count }, (_, i) => {
    const d = new Date(Date.UTC(y, m - 1 - gap - (count - 1 - i), 1));
    return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  });
}

async function main(): Promise<void> {
  console.log(
    `bench:scale — lineage and usage pages at ${EVENT_SIZES.map((s) => fmt(s)).join(' / ')} stored events; billing runs at ${SUBSCRIPTION_SIZES.map((s) => fmt(s)).join(' / ')} subscriptions; ${REQUESTS} sequential requests per measurement`,
  );
  // Rating one aggregate of 900,000 events takes minutes: the subgraphs' own timeout is raised so that the setup can
  // finish (a billing-run job has no client timeout); what a request costs is what is measured, not whether it fits.
  const { system, credential, cleanup } = await freshSystem('scale', { USAGEGRAPH_SUBGRAPH_TIMEOUT_MS: '1800000' });
  const mongo = await MongoClient.connect(system.mongoUri);
  try {
    const gql = <T = any>(q: string, v: Record<string, unknown> = {}) =>
      mustGraphql<T>(system.gatewayUrl, q, v, { correlationId: 'bench-scale', credential });
    const demoPeriod = lastCompleteMonth();
    await loadDemoData(system.gatewayUrl, credential, demoPeriod, (m) => console.error(`  [setup] ${m.trim()}`));
    const subsDb = mongo.db(`${system.dbPrefix}_subscriptions`);
    const events = mongo.db(`${system.dbPrefix}_usage`).collection<Doc>('usage_events');
    const customer = await subsDb.collection<Doc>('customers').findOne({ externalKey: CUSTOMER });
    const subscription = await subsDb.collection<Doc>('subscriptions').findOne({ customerId: customer!._id });
    const template = await events.findOne({ customerKey: CUSTOMER, usageTypeKey: USAGE_TYPE });
    if (!subscription || !template) throw new Error('the demo data has no subscription or event for the customer');
    const backend = system.processes.filter((p) => p.child.pid).map((p) => p.child.pid!);

    /** Sequential requests after two warm-ups: latency percentiles and the whole system's CPU per request. */
    const measure = async (query: string, variables: Record<string, unknown>): Promise<Timing> => {
      try {
        // A request that takes seconds is timed once: its figure is clear, and repeating it would take the run hours.
        const cpuFirst = treeCpu(backend);
        const first = performance.now();
        await gql(query, variables);
        const firstMs = performance.now() - first;
        if (firstMs > SLOW_MS)
          return { medianMs: firstMs, p95Ms: firstMs, cpuMs: (treeCpu(backend) - cpuFirst) * 1000, once: true };
        await gql(query, variables);
        const times: number[] = [];
        const cpuBefore = treeCpu(backend);
        for (let i = 0; i < REQUESTS; i++) {
          const started = performance.now();
          await gql(query, variables);
          times.push(performance.now() - started);
        }
        const cpuMs = ((treeCpu(backend) - cpuBefore) * 1000) / REQUESTS;
        times.sort((a, b) => a - b);
        return { medianMs: percentile(times, 50), p95Ms: percentile(times, 95), cpuMs };
      } catch (error) {
        return { medianMs: NaN, p95Ms: NaN, cpuMs: NaN, error: (error as Error).message.slice(0, 160) };
      }
    };

    // Billing: plans and the smallest run before any bulk event exists.
    const billingPeriods = monthsBefore(demoPeriod, SUBSCRIPTION_SIZES.length + 1, EVENT_SIZES.length + 1);
    const plans = await createBenchPlans(gql);
    const [lastY, lastM] = billingPeriods[billingPeriods.length - 1]!.split('-').map(Number) as [number, number];
    const billingEnd = new Date(Date.UTC(lastY, lastM, 1));
    const billingRows: Array<{ label: string; subscriptions: number; seconds: number; perSecond: number }> = [];
    let seeded = 0;
    const billingRun = async (label: string, target: number, period: string) => {
      // They end with the last billing month, so the usage months below rate only the demo's subscriptions.
      if (target > seeded)
        await seedSubscriptions(system, plans, { from: seeded, count: target - seeded, period, endsAt: billingEnd });
      // The subscriptions seeded in earlier steps get this period's aggregates too, so every run rates the same mix.
      if (seeded > 0)
        await seedSubscriptions(system, plans, { count: Math.min(seeded, target), period, aggregatesOnly: true });
      seeded = Math.max(seeded, target);
      const started = performance.now();
      const run = await runBillingRun(gql, period);
      const seconds = (performance.now() - started) / 1000;
      billingRows.push({ label, subscriptions: run.subscriptions, seconds, perSecond: run.subscriptions / seconds });
      console.log(
        `  billing run ${label.padEnd(34)} ${fmt(run.subscriptions).padStart(7)} subscriptions in ${seconds.toFixed(1)} s: ${fmt(run.subscriptions / seconds)}/s (${run.failed} failed, ${run.held} held)`,
      );
    };
    await billingRun(`${fmt(SUBSCRIPTION_SIZES[0]!)}, before bulk events`, SUBSCRIPTION_SIZES[0]!, billingPeriods[0]!);

    // Usage: fill to each size, rate and invoice that step's month, then measure.
    const usagePeriods = monthsBefore(demoPeriod, EVENT_SIZES.length);
    const usageRows: Array<{ size: number; aggregateEvents: number; results: Record<string, Timing> }> = [];
    let stored = 0;
    for (const [step, size] of EVENT_SIZES.entries()) {
      const period = usagePeriods[step]!;
      const [y, m] = period.split('-').map(Number) as [number, number];
      const start = Date.UTC(y, m - 1, 1);
      const span = Date.UTC(y, m, 1) - start;
      const adding = size - stored;
      const receivedAt = new Date(Date.now() - 3_600_000);
      const loadStarted = performance.now();
      for (let done = 0; done < adding; done += 5_000) {
        const batch = Array.from({ length: Math.min(5_000, adding - done) }, (_, i) => {
          const n = stored + done + i;
          const id = `scale-${n}`;
          const calls = 1 + (n % 50);
          return {
            ...template,
            _id: eventId('bench/scale', id),
            eventId: id,
            source: 'bench/scale',
            timestamp: new Date(start + Math.floor((n * 7919) % span)),
            periodKey: period,
            aggregateId: aggregateId(subscription._id, USAGE_TYPE, period),
            data: { ...template.data, calls },
            value: String(calls),
            contentHash: `scale-${n}`,
            correlationId: `bench-scale-${step}`,
            receivedAt,
          };
        });
        await events.insertMany(batch);
      }
      stored = size;
      const loadSeconds = (performance.now() - loadStarted) / 1000;
      const rateStarted = performance.now();
      await runBillingRun(gql, period); // the month's subscriptions: the demo's (the seeded ones ended before)
      const ratedAt = performance.now();
      const rateSeconds = (ratedAt - rateStarted) / 1000;
      const { generateInvoice } = await gql(
        `mutation($s: ID!, $p: String!) { generateInvoice(subscriptionId: $s, period: $p) { id } }`,
        { s: subscription._id, p: period },
      );
      const { finalizeAndPostInvoices } = await gql(
        `mutation($ids: [ID!]!) { finalizeAndPostInvoices(invoiceIds: $ids) { code posting { documentNumber } } }`,
        { ids: [generateInvoice.id] },
      );
      const number = finalizeAndPostInvoices[0]?.posting?.documentNumber;
      if (!number) throw new Error(`the invoice for ${period} was not finalized: ${finalizeAndPostInvoices[0]?.code}`);
      console.error(
        `  [setup] ${fmt(size)} events stored (${fmt(adding)} added in ${loadSeconds.toFixed(1)} s); ${period} rated (billing-run job, one aggregate of ${fmt(adding)} events) in ${rateSeconds.toFixed(1)} s, invoice ${number}`,
      );
      const usageQuery = `query($c: String!, $p: String) { customerUsage(customerKey: $c, period: $p) { usage { usageTypeKey quantity eventCount } heldEventCount } }`;
      const results: Record<string, Timing> = {
        lineage: await measure(LINEAGE_QUERY, { number }),
        // Within a minute of its computation (by the rating above) an aggregate is not used as stored: each read folds
        // in the events its marks name since (subgraphs/usage/freshness.ts) — none here.
        'customerUsage (first minute)': await measure(usageQuery, { c: CUSTOMER, p: period }),
        usageEvents: await measure(
          `query($c: String!, $p: String) { usageEvents(filter: { customerKey: $c, period: $p }, first: 50) { nodes { eventId timestamp quantity } pageInfo { hasNextPage endCursor } } }`,
          { c: CUSTOMER, p: period },
        ),
      };
      // Past that minute, with no mark since, it is used as stored.
      const settled = ratedAt + SETTLE_MS + 1_000 - performance.now();
      if (settled > 0) await new Promise((resolve) => setTimeout(resolve, settled));
      results['customerUsage (settled)'] = await measure(usageQuery, { c: CUSTOMER, p: period });
      usageRows.push({ size, aggregateEvents: adding, results });
      for (const [name, t] of Object.entries(results))
        console.log(
          `  ${fmt(size).padStart(9)} events  ${name.padEnd(28)} ${t.error ? `failed: ${t.error}` : t.once ? `${fmt(t.medianMs, 0)} ms (one request: over ${SLOW_MS / 1000} s), system CPU ${fmt(t.cpuMs, 0)} ms` : `median ${fmt(t.medianMs, 1)} ms, p95 ${fmt(t.p95Ms, 1)} ms, system CPU ${fmt(t.cpuMs, 1)} ms/request`}`,
        );
    }

    // Billing at each size, the smallest again first: after every bulk event is stored and billed.
    for (const [i, size] of SUBSCRIPTION_SIZES.entries())
      await billingRun(i === 0 ? `${fmt(size)}, after ${fmt(stored)} events` : fmt(size), size, billingPeriods[i + 1]!);

    console.log('\nlargest / smallest size (aim for pages: ≤ 1.5×):');
    const [small, large] = [usageRows[0]!, usageRows[usageRows.length - 1]!];
    for (const name of Object.keys(small.results)) {
      const a = small.results[name]!;
      const b = large.results[name]!;
      console.log(
        `  ${name.padEnd(28)} median ${fmt(b.medianMs / a.medianMs, 2)}×, CPU ${fmt(b.cpuMs / a.cpuMs, 2)}×   (${fmt(small.size)} → ${fmt(large.size)} events)`,
      );
    }
    const [before, after] = [billingRows[0]!, billingRows[1]!];
    console.log(
      `  billing run, same size before/after ${fmt(stored)} events: ${fmt(after.seconds / before.seconds, 2)}× the time (aim ≈ 1: independent of events billed)`,
    );
    const runs = billingRows.slice(1);
    console.log(
      `  billing run subscriptions/s from ${fmt(runs[0]!.subscriptions)} to ${fmt(runs[runs.length - 1]!.subscriptions)}: ${runs.map((r) => fmt(r.perSecond)).join(' → ')} (aim: flat, i.e. time linear in subscriptions)`,
    );
    const rss = system.processes
      .filter((p) => p.child.pid)
      .map((p) => `${p.name} ${peakRssMb(p.child.pid)} MB`)
      .join(', ');
    console.log(`peak memory: ${rss}`);
  } finally {
    await mongo.close();
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
