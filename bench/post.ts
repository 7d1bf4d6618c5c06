// `npm run bench:post`: 300 invoices (taxed, one with a fee billed in advance each) finalized and posted to the
// ledger server through the gateway in batches (finalizeAndPostInvoices), then 50 credit notes issued and posted
// (issueNotes, which posts a call's notes with postNotes) — documents/s end to end — beside a
// baseline in the same run: the very same journal entries written straight to a fresh hledger-web's API by a plain
// loop. The two alternate: after each call of the path, once the system is quiet, the loop writes that call's entries,
// so both see the shared machine at the same speed (measured one after the other, minutes apart, the loop's ledger
// needed 8.4–13.0 CPU-seconds for the same writes, and the ratio followed). Prints both rates, their ratio (aim:
// within 1.5×), each call's own ratio and where the rest of the time goes. Then the revenue recognition of the fees
// billed in advance (recognizeRevenue for their month), beside the loop writing the same recognition entries.
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mustGraphql } from '../runtime/graph-client';
import { startHledgerWeb } from '../runtime/hledger';
import { toHledgerJson } from '../subgraphs/erp-postings/connectors/hledger-format';
import { SETTLE_MS } from '../subgraphs/usage/freshness';
import {
  addCpuSince,
  addSpan,
  cpuByProcess,
  cpuText,
  fmt,
  freshSystem,
  loggedLines,
  schedSeconds,
  schedSince,
  schedText,
  sumSteps,
  waitForQuiet,
} from './support';

const INVOICES = Number(process.env.BENCH_INVOICES ?? 300);
const NOTES = Number(process.env.BENCH_NOTES ?? 50);
const PERIOD = '2026-10';
const BATCH = 25;
/**
 * Documents per finalizeAndPostInvoices / issueNotes call (any size up to 500 is accepted). A call is a pipeline, so
 * its start (the first chunk finalized and made ready while the ledger waits) and its end (the last results written)
 * are paid once per call: calls of 100 pay them three times for the 300 invoices, calls of 50 six times.
 */
const POST_BATCH = Number(process.env.BENCH_POST_BATCH ?? 100);

const ms = (t: number) => performance.now() - t;

async function main(): Promise<void> {
  console.log(
    `bench:post — ${INVOICES} taxed invoices finalized and posted, then ${NOTES} credit notes; machine: ${require('node:os').cpus().length} cores`,
  );
  console.log(
    `  batch size: ${POST_BATCH} documents per call (a pipeline: 5 finalized first, then 15 at a time while the ledger writes the chunk before)`,
  );
  // The erp-postings subgraph logs each batch's step timings, read back below to say where the time goes.
  // A call of 50 invoices must not fail the run when the shared machine stalls: subgraph timeout 120 s (30 s default).
  // The fees pay for November, which has ended here: left to the background worker, their recognition would post to
  // the same ledger while the invoices are posted. In production a month's recognition falls due when it ends, after
  // its invoices were posted; the bench's backdated month makes them coincide. So the worker waits (a day) and the
  // bench recognizes the month itself once the documents are posted, timed on a line of its own.
  const { system, credential, cleanup } = await freshSystem('post', {
    ERP_BATCH_TIMINGS: '1',
    USAGEGRAPH_SUBGRAPH_TIMEOUT_MS: '120000',
    REVENUE_RECOGNITION_POLL_MS: '86400000',
  });
  let stopBaseline = async (): Promise<void> => undefined;
  try {
    const gql = <T = any>(q: string, v: Record<string, unknown> = {}) =>
      mustGraphql<T>(system.gatewayUrl, q, v, { correlationId: 'bench-post', credential });
    /** Many independent mutations in one request, as aliases. */
    const batched = async (items: string[]) => {
      for (let i = 0; i < items.length; i += BATCH) await gql(`mutation { ${items.slice(i, i + BATCH).join('\n')} }`);
    };

    // Setup through the graph: an entity with its accounts, a tax table, a plan, customers, usage, a rated period, drafts.
    await gql(`mutation { upsertLegalEntity(input: { code: "BENCH", name: "Bench Inc", functionalCurrency: "USD" }) { code }
      a: setAccountMapping(input: { kind: RECEIVABLE_ACCOUNT, key: "BENCH", value: "assets:receivable:bench" }) { id }
      b: setAccountMapping(input: { kind: DEFERRED_REVENUE_ACCOUNT, key: "BENCH", value: "liabilities:deferred-revenue:bench" }) { id }
      c: setTaxRate(input: { jurisdiction: "US-CA", name: "State sales tax", ratePercent: "7.25", effectiveFrom: "2026-01-01" }) { id }
      d: setTaxRate(input: { jurisdiction: "US-CA-SF", name: "City tax", ratePercent: "1.375", effectiveFrom: "2026-01-01" }) { id }
      registerUsageType(input: { key: "bench_calls", unit: "call", productLine: "api", fields: [{ name: "calls", type: INTEGER }], aggregation: { type: SUM, field: "calls" } }, activate: true) { id } }`);
    const { createPricePlan: plan } =
      await gql(`mutation { createPricePlan(input: { key: "bench-post", name: "Bench", currency: "USD",
      charges: [{ usageTypeKey: "bench_calls", unitPrice: "0.0123" }],
      recurringFees: [{ key: "platform", description: "Platform fee", amount: "49.00", timing: IN_ADVANCE }] }) { id } }`);
    const ids = Array.from({ length: INVOICES }, (_, i) => i);
    await batched(
      ids.map(
        (i) =>
          `c${i}: upsertCustomer(input: { externalKey: "bench-${i}", name: "Bench ${i}", currency: "USD", legalEntityCode: "BENCH", taxJurisdiction: "US-CA-SF" }) { id }`,
      ),
    );
    const subscriptions: string[] = [];
    for (let i = 0; i < INVOICES; i += BATCH) {
      const page = ids.slice(i, i + BATCH);
      const r = await gql(
        `mutation { ${page.map((n) => `s${n}: createSubscription(input: { customerExternalKey: "bench-${n}", pricePlanId: "${plan.id}", startsAt: "2026-01-01T00:00:00Z" }) { id }`).join('\n')} }`,
      );
      subscriptions.push(...page.map((n) => r[`s${n}`].id as string));
    }
    await gql(`mutation($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { accepted } }`, {
      e: ids.map((i) => ({
        id: `u${i}`,
        source: 'bench',
        type: 'bench_calls',
        customer: `bench-${i}`,
        timestamp: `${PERIOD}-15T12:00:00Z`,
        data: { calls: 1000 + i * 37 },
      })),
    });
    const run = await gql(`mutation { rateBillingPeriodForAll(period: "${PERIOD}") { rated failed } }`);
    // Rating computed the aggregates: the keeper comes back to each a minute later (SETTLE_MS) to drop the event marks
    // it remembers. Timed from here, not from the ingestion: in one run that pass fell inside the path (the usage
    // subgraph 1.6 CPU-seconds, FerretDB 2 more).
    const ratedAt = performance.now();
    const invoices: string[] = [];
    for (let i = 0; i < INVOICES; i += BATCH) {
      const page = subscriptions.slice(i, i + BATCH);
      const r = await gql(
        `mutation { ${page.map((s, k) => `i${k}: generateInvoice(subscriptionId: "${s}", period: "${PERIOD}") { id }`).join('\n')} }`,
      );
      invoices.push(...page.map((_, k) => r[`i${k}`].id as string));
    }
    console.error(
      `  [setup] ${fmt(INVOICES)} customers, subscriptions and drafts; rated ${run.rateBillingPeriodForAll.rated}`,
    );

    // CPU seconds of each process over a phase: on two cores the ledger writes share the machine with the rest.
    const cpuNow = () => cpuByProcess(system.processes);

    // The setup's background work ends first: the aggregate keeper settles the usage rated a minute after it was rated
    // (SETTLE_MS; at period close that is long past), and events are forwarded.
    const settleLeft = ratedAt + SETTLE_MS + 5_000 - performance.now();
    if (settleLeft > 0) await new Promise((resolve) => setTimeout(resolve, settleLeft));
    const quiet = await waitForQuiet(system);
    console.error(
      `  [setup] system quiet after ${fmt(quiet.waitedMs / 1000, 1)} s (${fmt(quiet.cores * 100, 0)} % of a core in its last second)`,
    );

    // Every ERP posting of the system with the fields asked for, a page of 500 at a time.
    const allPostings = async (fields: string, status = ''): Promise<any[]> => {
      const nodes: any[] = [];
      let after: string | null = null;
      do {
        const page: any = await gql(
          `query($after: String) { erpPostings(${status ? `status: ${status}, ` : ''}first: 500, after: $after) { nodes { ${fields} } pageInfo { hasNextPage endCursor } } }`,
          { after },
        );
        nodes.push(...page.erpPostings.nodes);
        after = page.erpPostings.pageInfo.hasNextPage ? page.erpPostings.pageInfo.endCursor : null;
      } while (after);
      return nodes;
    };
    const hledgerJson = (p: any): Record<string, unknown> =>
      toHledgerJson({
        postingKey: p.postingKey,
        correlationId: p.correlationId,
        legalEntityCode: p.legalEntityCode,
        kind: p.kind,
        entry: { ...p.entry, lines: p.entry.lines.map((l: any) => ({ ...l, invoiceLineIds: [] })) },
      });
    const ENTRY_FIELDS =
      'postingKey kind legalEntityCode correlationId entry { documentDate postingDate accountingPeriod requestedPeriod description currency lines { lineNo account side amount { amount currency } memo dimensions { name value } } }';

    // The baseline's own fresh ledger, started now and idle until the loop's first turn.
    const dir = mkdtempSync(join(tmpdir(), 'usagegraph-bench-baseline-'));
    const baseline = await startHledgerWeb('hledger-web', join(dir, 'baseline.journal'), join(dir, 'hledger-web.log'));
    const baselinePid = baseline.process.child.pid!;
    stopBaseline = async () => {
      stopBaseline = async () => undefined;
      await baseline.stop();
      if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    };
    const putAll = async (bodies: Array<Record<string, unknown>>) => {
      const t = performance.now();
      for (const body of bodies) {
        const res = await fetch(`${baseline.url}/add`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (res.status !== 201) throw new Error(`baseline PUT answered ${res.status}`);
      }
      return ms(t);
    };
    /** Each call of the path beside the loop's turn that wrote the same entries right after it. */
    const calls: Array<{ what: string; documents: number; pathMs: number; entries: number; loopMs: number }> = [];
    const written = new Set<string>();
    const baselineLedger = { running: 0, waiting: 0, idle: 0 };
    const afterCalls = new Map<string, number>();
    /** The loop's turn: once the system is quiet, the entries the path has posted since the last turn, timed. */
    const loopTurn = async (what: string, documents: number, pathMs: number) => {
      const before = cpuNow();
      await waitForQuiet(system);
      addCpuSince(afterCalls, system.processes, before);
      const fresh = (await allPostings(ENTRY_FIELDS, 'POSTED')).filter(
        (p) => (p.kind === 'INVOICE' || p.kind === 'CREDIT_NOTE') && !written.has(p.postingKey),
      );
      const sched = schedSeconds(baselinePid);
      const loopMs = await putAll(fresh.map(hledgerJson));
      addSpan(baselineLedger, schedSince(baselinePid, sched, loopMs));
      for (const p of fresh) written.add(p.postingKey);
      calls.push({ what, documents, pathMs, entries: fresh.length, loopMs });
    };

    // The path: a billing run finalizes and posts the invoices in batches (finalizeAndPostInvoices), one call after
    // another, each followed by the loop's turn.
    // The ledger's threads: on a CPU, waiting for one (the two cores busy), or idle (waiting for the system's writes).
    const ledgerPid = system.processes.find((p) => p.name === 'hledger-web')!.child.pid!;
    const invoicesLedger = { running: 0, waiting: 0, idle: 0 };
    const cpuTotals = new Map<string, number>();
    /** Adds one call's CPU seconds per process and the ledger's spans to the phase's totals. */
    const addCall = (
      cpuBefore: Map<string, number>,
      schedBefore: { running: number; waiting: number },
      callMs: number,
      ledger: { running: number; waiting: number; idle: number },
    ) => {
      addCpuSince(cpuTotals, system.processes, cpuBefore);
      addSpan(ledger, schedSince(ledgerPid, schedBefore, callMs));
    };
    let invoicesMs = 0;
    for (let i = 0; i < invoices.length; i += POST_BATCH) {
      const ids = invoices.slice(i, i + POST_BATCH);
      const cpu = cpuNow();
      const ledgerSched = schedSeconds(ledgerPid);
      const t = performance.now();
      const { finalizeAndPostInvoices: results } = await gql(
        `mutation($ids: [ID!]!) { finalizeAndPostInvoices(invoiceIds: $ids) { documentId code message posting { status } } }`,
        { ids },
      );
      const callMs = ms(t);
      invoicesMs += callMs;
      addCall(cpu, ledgerSched, callMs, invoicesLedger);
      const bad = results.find((r: any) => r.posting?.status !== 'POSTED');
      if (bad) throw new Error(`invoice ${bad.documentId}: ${JSON.stringify(bad)}`);
      await loopTurn(`invoices ${i + 1}–${i + ids.length}`, ids.length, callMs);
    }
    const invoicesCpu = cpuText(cpuTotals);
    cpuTotals.clear();

    // Late corrections: a 10 % discount agreed for 50 customers, re-rated (not timed), then their credit notes issued
    // and posted in batches (issueNotes posts the notes of one call together with postNotes).
    const corrected = subscriptions.slice(0, NOTES);
    await batched(
      corrected.map(
        (s, k) => `t${k}: setContractTerms(subscriptionId: "${s}", terms: { discountPercent: "10" }) { id }`,
      ),
    );
    for (let i = 0; i < corrected.length; i += BATCH)
      await gql(
        `mutation { ${corrected
          .slice(i, i + BATCH)
          .map(
            (s, k) => `r${k}: rateBillingPeriod(subscriptionId: "${s}", period: "${PERIOD}") { adjustmentsRecorded }`,
          )
          .join('\n')} }`,
      );
    await waitForQuiet(system);
    const notesLedger = { running: 0, waiting: 0, idle: 0 };
    let notesMs = 0;
    let notes = 0;
    const toCorrect = invoices.slice(0, NOTES);
    for (let i = 0; i < toCorrect.length; i += POST_BATCH) {
      const ids = toCorrect.slice(i, i + POST_BATCH);
      const cpu = cpuNow();
      const ledgerSched = schedSeconds(ledgerPid);
      const t = performance.now();
      const { issueNotes } = await gql(
        `mutation($ids: [ID!]!) { issueNotes(invoiceIds: $ids) { invoiceId status notes { kind erpPostings { status } } } }`,
        { ids },
      );
      const callMs = ms(t);
      notesMs += callMs;
      addCall(cpu, ledgerSched, callMs, notesLedger);
      for (const r of issueNotes) {
        if (r.status !== 'ISSUED' || r.notes[0].kind !== 'CREDIT' || r.notes[0].erpPostings[0]?.status !== 'POSTED')
          throw new Error(`credit note for ${r.invoiceId}: ${JSON.stringify(r)}`);
        notes++;
      }
      await loopTurn(`credit notes ${i + 1}–${i + ids.length}`, ids.length, callMs);
    }
    const notesCpu = cpuText(cpuTotals);
    const pathLedgerCpu = invoicesLedger.running + notesLedger.running;
    const pathMs = invoicesMs + notesMs;
    const documents = INVOICES + notes;

    // Revenue recognition of the fees' month (the month after PERIOD), posted in batches by recognizeRevenue.
    const [py, pm] = PERIOD.split('-').map(Number) as [number, number];
    const feeMonth = new Date(Date.UTC(py, pm, 1)).toISOString().slice(0, 7);
    const tRecognition = performance.now();
    const { recognizeRevenue } = await gql(
      `mutation($m: String!) { recognizeRevenue(month: $m, legalEntityCode: "BENCH") { recognized waiting postings { status } } }`,
      { m: feeMonth },
    );
    const recognitionMs = ms(tRecognition);
    const recognitionPosted = recognizeRevenue.postings.filter((p: any) => p.status === 'POSTED').length;
    if (recognizeRevenue.waiting > 0 || recognitionPosted !== recognizeRevenue.postings.length)
      throw new Error(`recognition of ${feeMonth}: ${JSON.stringify({ ...recognizeRevenue, postings: undefined })}`);

    // The loop's last turn: the recognition entries, once the system is quiet, then the cost of a look-up.
    await waitForQuiet(system);
    const recognitionEntries = (await allPostings(ENTRY_FIELDS, 'POSTED'))
      .filter((p) => p.kind === 'REVENUE_RECOGNITION')
      .map(hledgerJson);
    let recognitionBaselineMs = 0;
    let lookupMs = 0;
    let otherPostings = 0;
    try {
      recognitionBaselineMs = await putAll(recognitionEntries);
      const tl = performance.now();
      for (let i = 0; i < 20; i++) await (await fetch(`${baseline.url}/transactions`)).arrayBuffer();
      lookupMs = ms(tl) / 20;
      otherPostings = (await allPostings('postingKey')).length - written.size - recognitionEntries.length;
    } finally {
      await stopBaseline();
    }
    const baselineMs = calls.reduce((sum, c) => sum + c.loopMs, 0);
    const entries = calls.reduce((sum, c) => sum + c.entries, 0);

    const rate = (n: number, t: number) => (n / t) * 1000;
    const ledgerCpuSeconds = baselineLedger.running;
    console.log('');
    console.log(
      `  path      ${fmt(rate(documents, pathMs), 1)} documents/s  (${fmt(documents)} documents in ${fmt(pathMs / 1000, 1)} s: ${INVOICES} invoices ${fmt(invoicesMs / 1000, 1)} s, ${notes} credit notes ${fmt(notesMs / 1000, 1)} s)`,
    );
    console.log(
      `  baseline  ${fmt(rate(entries, baselineMs), 1)} entries/s    (${fmt(entries)} PUT /add to a fresh hledger-web in ${fmt(baselineMs / 1000, 1)} s, its CPU ${ledgerCpuSeconds.toFixed(1)} s${otherPostings ? `; ${fmt(otherPostings)} other postings of the system left out` : ''})`,
    );
    console.log(
      `  ratio     ${fmt(pathMs / documents / (baselineMs / entries), 2)}× the direct loop per document (aim: ≤ 1.5)`,
    );
    console.log(
      `  by call   ${calls.map((c) => `${c.what} ${fmt(c.pathMs / 1000, 1)} s / ${fmt(c.loopMs / 1000, 1)} s = ${fmt(c.pathMs / c.documents / (c.loopMs / c.entries), 2)}×`).join(', ')} (each call, then the loop's turn right after it writing the same entries)`,
    );
    console.log(
      `  between   the system's background work after the calls (events forwarded, …) before each loop turn, outside both timings: ${cpuText(afterCalls)} CPU-seconds`,
    );
    // Wall time per second of the ledger's own CPU: what the ratio would be if the ledger's work had cost the same in
    // both — it flatters the path a little, since sharing two cores also makes the ledger's own work slower there.
    console.log(
      `  per ledger CPU-second: the path ${fmt(pathMs / 1000 / pathLedgerCpu, 2)} s, the loop ${fmt(baselineMs / 1000 / ledgerCpuSeconds, 2)} s: ${fmt(pathMs / pathLedgerCpu / (baselineMs / ledgerCpuSeconds), 2)}× (the ledger's CPU for the same writes: ${fmt(pathLedgerCpu, 1)} s on the path, ${fmt(ledgerCpuSeconds, 1)} s in the loop)`,
    );
    console.log(
      `  recognition of ${feeMonth}: ${fmt(recognitionPosted)} entries in ${fmt(recognitionMs / 1000, 1)} s (${fmt(rate(recognitionPosted, recognitionMs), 1)}/s) by recognizeRevenue, the loop ${fmt(recognitionEntries.length)} in ${fmt(recognitionBaselineMs / 1000, 1)} s: ${fmt(recognitionMs / recognitionPosted / (recognitionBaselineMs / recognitionEntries.length), 2)}× per entry`,
    );
    console.log(
      `  ledger look-up GET /transactions at the end ≈ ${fmt(lookupMs, 0)} ms (once per batch on the path, not per document)`,
    );
    console.log(`  CPU seconds by process — invoices: ${invoicesCpu}; credit notes: ${notesCpu}`);
    console.log(
      `  the ledger's time — invoices: ${schedText(invoicesLedger)}; credit notes: ${schedText(notesLedger)}; the loop: ${schedText(baselineLedger)}`,
    );
    const timings = loggedLines<{ documents?: number; ms: Record<string, number> }>(
      system,
      'erp-postings',
      'batch posting timings',
    );
    const steps = sumSteps(timings);
    const timedDocuments = timings.reduce((sum, t) => sum + (t.documents ?? 0), 0);
    const finalizeWait = loggedLines<{ ms: number }>(system, 'erp-postings', 'batch waited for finalization').reduce(
      (sum, t) => sum + t.ms,
      0,
    );
    const posting = [...steps.values()].reduce((a, b) => a + b, 0);
    // The invoices subgraph's own timings of finalizeInvoices (bulk pass steps, then anything finalized singly).
    const finalization = sumSteps(loggedLines(system, 'invoices', 'batch finalization timings'));
    console.log(
      `  where it goes (erp-postings' own timings, ${fmt(timedDocuments)} documents in ${timings.length} log lines): waiting for finalization ${fmt(finalizeWait / 1000, 1)} s; posting ${fmt(posting / 1000, 1)} s = ${[...steps].map(([k, v]) => `${k} ${fmt(v / 1000, 2)} s`).join(', ')}`,
    );
    console.log(
      `  finalization (invoices' own timings of finalizeInvoices): ${[...finalization].map(([k, v]) => `${k} ${fmt(v / 1000, 2)} s`).join(', ')}`,
    );
  } finally {
    await stopBaseline();
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
