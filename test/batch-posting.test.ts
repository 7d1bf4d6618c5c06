// Posting in batches, end to end against the real ledger: a batch with a repeated id, a held document, a draft and an
// unknown id, sent twice and twice at once, books every document exactly once (read back from the ledger, checked by
// hledger); billing's finalize-and-post does both in one call and reports what it could not finalize.
import { randomBytes } from 'node:crypto';
import { eventually } from './support';
import {
  billedCustomer,
  g,
  hledgerCheck,
  ledgerBalances,
  ledgerTransactions,
  legalEntity,
  mapAccount,
  posted,
  POSTING,
} from './accounting-support';

const hex = () => randomBytes(4).toString('hex').toUpperCase();
const RESULT = `documentId code message expected posting { ${POSTING} invoice { id } }`;
const postInvoices = async (ids: string[]) =>
  (await g.ok(`mutation($ids: [ID!]!) { postInvoices(invoiceIds: $ids) { ${RESULT} } }`, { ids })).postInvoices;
const postedCount = (p: { history: Array<{ outcome: string }> }) =>
  p.history.filter((h) => h.outcome === 'POSTED' || h.outcome === 'ALREADY_IN_ERP').length;

describe('posting in batches', () => {
  it('posts each document of a batch exactly once — a repeated id, a held one, a draft and an unknown id included — however often the batch is sent', async () => {
    const entity = await legalEntity('BAT');
    const billed = [];
    for (const [n, calls] of [
      [0, 100],
      [1, 250],
      [2, 1234],
    ] as const)
      billed.push(await billedCustomer(`batch${n}`, entity.code, calls, { period: '2026-05' }));
    // Held: the ERP does not know this customer's id, so its posting waits for finance (an exception is raised).
    const unknownCustomer = await billedCustomer('batchheld', entity.code, 70, { period: '2026-05' });
    await mapAccount('ERP_CUSTOMER_ID', unknownCustomer.customerId, `NOPE-${hex()}`);
    const draft = await billedCustomer('batchdraft', entity.code, 10, { period: '2026-05', finalize: false });
    const ids = [
      billed[0]!.invoiceId,
      billed[1]!.invoiceId,
      unknownCustomer.invoiceId,
      billed[0]!.invoiceId,
      draft.invoiceId,
      'inv_does_not_exist',
      billed[2]!.invoiceId,
    ];

    const first = await postInvoices(ids);
    expect(first.map((r: any) => r.documentId)).toEqual(ids);
    expect(first.map((r: any) => r.posting?.status ?? r.code)).toEqual([
      'POSTED',
      'POSTED',
      'HELD',
      'POSTED',
      'INVOICE_NOT_FINALIZED',
      'NOT_FOUND',
      'POSTED',
    ]);
    // The repeated id is one document: the same posting in both places.
    expect(first[3].posting.id).toBe(first[0].posting.id);
    expect(first[0].posting.invoice.id).toBe(billed[0]!.invoiceId);
    expect(first[4]).toMatchObject({ posting: null, expected: 'a finalized invoice (finalizeInvoice first)' });
    expect(first[5].message).toContain('inv_does_not_exist');
    expect(first[2].posting).toMatchObject({ lastError: { code: 'ERP_CUSTOMER_UNKNOWN', kind: 'BUSINESS' } });
    expect(first[2].posting.exceptionId).toBeTruthy();
    // Each entry as the single path builds it: 1,234 calls at 0.01 on the entity's receivable.
    expect(first[6].posting.journalEntry.lines[0]).toMatchObject({
      account: entity.receivable,
      side: 'DEBIT',
      amount: { amount: '12.34' },
    });

    // The same batch again, and twice at once: nothing is posted a second time.
    const again = await postInvoices(ids);
    const [x, y] = await Promise.all([postInvoices(ids), postInvoices([...ids].reverse())]);
    for (const results of [again, x, y]) {
      const byId = new Map(results.map((r: any) => [r.documentId, r]));
      for (const b of billed) {
        const r: any = byId.get(b.invoiceId);
        expect(r.posting.status).toBe('POSTED');
        expect(r.posting.id).toBe(first[ids.indexOf(b.invoiceId)].posting.id);
      }
      expect((byId.get(unknownCustomer.invoiceId) as any).posting.status).toBe('HELD');
    }
    for (const b of billed) {
      const p = await posted(first[ids.indexOf(b.invoiceId)].posting.id);
      expect(postedCount(p)).toBe(1);
      expect(await ledgerTransactions(p.postingKey)).toHaveLength(1);
    }
    expect(await ledgerTransactions(first[2].posting.postingKey)).toHaveLength(0);
    // The events a single post tells: posting.posted once per posting.
    const { businessEvents } = await g.ok(
      `query($s: String!) { businessEvents(filter: { type: "posting.posted", subject: $s }) { nodes { id } } }`,
      { s: first[0].posting.id },
    );
    expect(businessEvents.nodes.length).toBeLessThanOrEqual(1);
    await eventually(
      'posting.posted of a batch-posted invoice',
      async () =>
        (
          await g.ok(
            `query($s: String!) { businessEvents(filter: { type: "posting.posted", subject: $s }) { nodes { id } } }`,
            { s: first[0].posting.id },
          )
        ).businessEvents.nodes.length === 1,
      20_000,
    );

    // The ledger's receivable for the entity is the three invoices, once each.
    const balances = await ledgerBalances();
    expect(balances.get(entity.receivable)).toBe(100n + 250n + 1234n);
    hledgerCheck();
  });

  it('finalizes and posts drafts in one call, and reports a draft it cannot finalize without stopping the others', async () => {
    const entity = await legalEntity('FAP');
    const drafts = [];
    for (const n of [0, 1, 2])
      drafts.push(await billedCustomer(`fap${n}`, entity.code, 100 * (n + 1), { period: '2026-05', finalize: false }));
    const running = new Date(Date.now() - 60_000).toISOString().slice(0, 7);
    const early = await billedCustomer('faprunning', entity.code, 10, { period: running, finalize: false });
    const ids = [drafts[0]!.invoiceId, early.invoiceId, drafts[1]!.invoiceId, drafts[2]!.invoiceId];

    const { finalizeAndPostInvoices: results } = await g.ok(
      `mutation($ids: [ID!]!) { finalizeAndPostInvoices(invoiceIds: $ids) { ${RESULT} } }`,
      { ids },
    );
    expect(results.map((r: any) => r.posting?.status ?? r.code)).toEqual([
      'POSTED',
      'PERIOD_NOT_ENDED',
      'POSTED',
      'POSTED',
    ]);
    expect(results[1].expected).toContain(`closeBillingPeriodEarly(legalEntityCode: "${entity.code}"`);
    const { draft } = await g.ok(`query($id: ID!) { draft: invoice(id: $id) { status number } }`, {
      id: early.invoiceId,
    });
    expect(draft).toEqual({ status: 'DRAFT', number: null });

    // Numbered in the order given, without gaps, and each invoice's number is its posting's document number.
    const { a, b, c } = await g.ok(
      `query($a: ID!, $b: ID!, $c: ID!) { a: invoice(id: $a) { number status } b: invoice(id: $b) { number } c: invoice(id: $c) { number } }`,
      { a: drafts[0]!.invoiceId, b: drafts[1]!.invoiceId, c: drafts[2]!.invoiceId },
    );
    expect(a.status).toBe('FINALIZED');
    const seq = [a, b, c].map((i: any) => Number(i.number.split('-').pop()));
    expect(seq).toEqual([seq[0], seq[0]! + 1, seq[0]! + 2]);
    expect(results[0].posting.documentNumber).toBe(a.number);

    // Called again: the finalized ones are neither renumbered nor posted twice.
    const { finalizeAndPostInvoices: again } = await g.ok(
      `mutation($ids: [ID!]!) { finalizeAndPostInvoices(invoiceIds: $ids) { ${RESULT} } }`,
      { ids },
    );
    expect(again[0].posting).toMatchObject({ id: results[0].posting.id, documentNumber: a.number, status: 'POSTED' });
    for (const r of [results[0], results[2], results[3]])
      expect(await ledgerTransactions(r.posting.postingKey)).toHaveLength(1);
    expect((await ledgerBalances()).get(entity.receivable)).toBe(100n + 200n + 300n);
  });

  it('finalizes a batch of drafts with one result per id, and posts notes in a batch', async () => {
    const entity = await legalEntity('FIN');
    const b = await billedCustomer('finb', entity.code, 50, { period: '2026-05', finalize: false });
    const { finalizeInvoices } = await g.ok(
      `mutation($ids: [ID!]!) { finalizeInvoices(invoiceIds: $ids) { invoiceId code invoice { status number } } }`,
      { ids: [b.invoiceId, 'inv_nope', b.invoiceId] },
    );
    expect(finalizeInvoices[0]).toMatchObject({ invoiceId: b.invoiceId, code: null, invoice: { status: 'FINALIZED' } });
    expect(finalizeInvoices[1]).toMatchObject({ invoiceId: 'inv_nope', code: 'NOT_FOUND', invoice: null });
    expect(finalizeInvoices[2]).toEqual(finalizeInvoices[0]);

    const { postNotes } = await g.ok(
      `mutation($ids: [ID!]!) { postNotes(noteIds: $ids) { documentId code expected posting { id } } }`,
      { ids: ['note_nope'] },
    );
    expect(postNotes).toEqual([
      { documentId: 'note_nope', code: 'NOT_FOUND', expected: 'the id of an issued note', posting: null },
    ]);
    const tooMany = await g.raw(`mutation($ids: [ID!]!) { postInvoices(invoiceIds: $ids) { documentId } }`, {
      ids: Array.from({ length: 501 }, (_, i) => `inv_${i}`),
    });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'invoiceIds' });
  });
});
