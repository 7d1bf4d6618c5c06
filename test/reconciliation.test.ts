// Reconciliation through the graph with the finance role: a period from usage to the ERP's own balances, read back
// from the real hledger-web, with every difference named; the CSV export; sign-off recorded in the audit trail.
import { toHledgerJson } from '../subgraphs/erp-postings/connectors/hledger-format';
import { money } from '../lib/money';
import { billedCustomer, legalEntity, posted as postedToLedger, rate, sendCalls } from './accounting-support';
import { clientAs, draftInvoice, eventually, finalizedInvoice, keyFor, unique } from './support';

const RECONCILIATION = `query($p: String!, $e: String) { reconciliation(period: $p, legalEntityCode: $e) {
  period status unexplainedCount csv digest ledger { system }
  totals { currency rated { amount } invoiced { amount } posted { amount } ledger { amount } }
  customers { customerKey reconciled
    lines { account productLine kind rated { amount } invoiced { amount } posted { amount } ledger { amount }
      usage { usageTypeKey unit quantity eventCount } reconciled invoiceIds
      differences { from to reason explained amount { amount currency } count detail recordIds } }
    differences { reason count } }
  differences { reason amount { amount } }
  signOff { signedOffBy current digest } } }`;

/** A revenue entry made in the ledger by hand (no UsageGraph posting key), tagged for the customer and period. */
async function manualLedgerEntry(customerKey: string, period: string, amount: string) {
  const json = toHledgerJson({
    postingKey: 'manual',
    correlationId: 'manual',
    entry: {
      documentDate: `${period}-28`,
      postingDate: `${period}-28`,
      accountingPeriod: period,
      description: 'Invoice MANUAL manual correction',
      currency: 'USD',
      lines: [
        { account: 'assets:receivable', side: 'DEBIT', amount: money(amount, 'USD') },
        { account: 'revenue:usage:api', side: 'CREDIT', amount: money(amount, 'USD'), productLine: 'api' },
      ].map((l, i) => ({
        lineNo: i + 1,
        account: l.account,
        side: l.side as 'DEBIT' | 'CREDIT',
        amount: l.amount,
        memo: 'manual revenue correction',
        dimensions: [
          { name: 'customer', value: customerKey },
          { name: 'servicePeriod', value: period },
          ...(l.productLine ? [{ name: 'productLine', value: l.productLine }] : []),
        ],
        invoiceLineIds: [],
      })),
    },
  }) as Record<string, any>;
  json.tcode = '';
  json.tdescription = 'Manual revenue correction';
  json.tcomment = '';
  const res = await fetch(`${process.env.USAGEGRAPH_TEST_LEDGER_URL}/add`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  expect(res.status).toBeLessThan(300);
}

it('reconciles a period down to the ledger, names every difference, exports CSV and is signed off by finance', async () => {
  const finance = clientAs('finance', unique('recon'));
  // A month that has ended (a running one cannot be invoiced), reconciled for an entity of its own: other tests bill
  // the same month for other entities.
  const period = '2026-02';
  const { code: legalEntityCode } = await legalEntity('RECON');
  const posted = await finalizedInvoice('recon_posted', 1_000, { period, legalEntityCode });
  const draft = await draftInvoice('recon_draft', 250, { period, legalEntityCode });
  const { postInvoice } = await finance.ok(`mutation($i: ID!) { postInvoice(invoiceId: $i) { id status } }`, {
    i: posted.invoiceId,
  });
  await eventually('the posting to reach the ledger', async () => {
    const { erpPosting } = await finance.ok(`query($id: ID!) { erpPosting(id: $id) { status } }`, {
      id: postInvoice.id,
    });
    return erpPosting.status === 'POSTED';
  });

  const first = (await finance.ok(RECONCILIATION, { p: period, e: legalEntityCode })).reconciliation;
  expect(first).toMatchObject({ period, status: 'RECONCILED', unexplainedCount: 0, ledger: { system: 'hledger-web' } });
  expect(first.customers.map((c: any) => c.customerKey)).toEqual([
    expect.stringMatching(/^recon_draft_/),
    expect.stringMatching(/^recon_posted_/),
  ]);
  const [draftCustomer, postedCustomer] = first.customers;
  expect(postedCustomer.lines).toEqual([
    expect.objectContaining({
      account: 'revenue:usage:api',
      kind: 'USAGE',
      rated: { amount: '10.00' },
      invoiced: { amount: '10.00' },
      posted: { amount: '10.00' },
      ledger: { amount: '10.00' },
      differences: [],
      reconciled: true,
      invoiceIds: [posted.invoiceId],
      usage: [expect.objectContaining({ quantity: '1000', eventCount: 1, unit: 'call' })],
    }),
  ]);
  expect(draftCustomer.lines[0]).toMatchObject({ rated: { amount: '2.50' }, invoiced: { amount: '0.00' } });
  expect(draftCustomer.lines[0].differences).toEqual([
    expect.objectContaining({
      from: 'RATED',
      to: 'INVOICED',
      reason: 'DRAFT_INVOICE',
      explained: true,
      amount: { amount: '2.50', currency: 'USD' },
      recordIds: [draft.invoiceId],
    }),
  ]);
  expect(first.totals).toEqual([
    {
      currency: 'USD',
      rated: { amount: '12.50' },
      invoiced: { amount: '10.00' },
      posted: { amount: '10.00' },
      ledger: { amount: '10.00' },
    },
  ]);
  const csvRows = first.csv.trim().split('\r\n');
  expect(csvRows[0]).toBe(
    'period,legal_entity,customer_key,customer_name,account,product_line,currency,usage,events,rated,invoiced,posted,ledger,differences,reconciled',
  );
  expect(csvRows).toContainEqual(
    `${period},${legalEntityCode},${postedCustomer.customerKey},Customer ${postedCustomer.customerKey.slice(0, -2)},revenue:usage:api,api,USD,1000 call,1,10.00,10.00,10.00,10.00,,true`,
  );

  // A revenue correction entered in the ERP by hand: the ledger now differs from our postings, for a named reason.
  await manualLedgerEntry(postedCustomer.customerKey, period, '2.50');
  const second = (await finance.ok(RECONCILIATION, { p: period, e: legalEntityCode })).reconciliation;
  expect(second.customers[1].lines[0]).toMatchObject({ posted: { amount: '10.00' }, ledger: { amount: '12.50' } });
  expect(second.customers[1].lines[0].differences).toEqual([
    expect.objectContaining({
      from: 'POSTED',
      to: 'LEDGER',
      reason: 'MANUAL_ERP_ENTRY',
      explained: true,
      amount: { amount: '-2.50', currency: 'USD' },
      count: 1,
    }),
  ]);
  expect(second.status).toBe('RECONCILED');
  expect(second.digest).not.toBe(first.digest);

  // Customer success reads but cannot sign off; finance signs off, as itself, once for the same figures.
  const refused = await clientAs('customer-success').raw(
    `mutation($p: String!, $e: String) { signOffReconciliation(period: $p, legalEntityCode: $e) { status } }`,
    { p: period, e: legalEntityCode },
  );
  expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const signed = (
    await finance.ok(
      `mutation($p: String!, $e: String) { signOffReconciliation(period: $p, legalEntityCode: $e) { signOff { signedOffBy current digest } } }`,
      { p: period, e: legalEntityCode },
    )
  ).signOffReconciliation;
  const subject = `key:key_${keyFor('finance').slice(4, 12)}`;
  expect(signed.signOff).toEqual({ signedOffBy: subject, current: true, digest: second.digest });
  const again = (await finance.ok(RECONCILIATION, { p: period, e: legalEntityCode })).reconciliation;
  expect(again.signOff).toEqual(signed.signOff);
  const { auditEvents } = await finance.ok(
    `query($s: String!) { auditEvents(filter: { subject: $s, field: "signOffReconciliation" }, first: 1) { nodes { fields variables outcome } } }`,
    { s: subject },
  );
  expect(auditEvents.nodes[0]).toMatchObject({
    fields: ['signOffReconciliation'],
    variables: { p: period, e: legalEntityCode },
    outcome: 'SUCCEEDED',
  });
}, 90_000);

it('reconciles net of notes: a re-rating after finalization is an adjustment without a note until the note is issued and booked', async () => {
  const finance = clientAs('finance', unique('recon-note'));
  const period = '2026-03';
  const { code: legalEntityCode } = await legalEntity('RNOTE');
  const b = await billedCustomer('recon_note', legalEntityCode, 1_000, { period });
  const { postInvoice } = await finance.ok(`mutation($i: ID!) { postInvoice(invoiceId: $i) { id } }`, {
    i: b.invoiceId,
  });
  await postedToLedger(postInvoice.id);
  // Late usage re-rates the finalized invoice's line from 10.00 to 15.00.
  await sendCalls(b, 500, `${period}-20T10:00:00Z`);
  await rate(b, period);
  const open = (await finance.ok(RECONCILIATION, { p: period, e: legalEntityCode })).reconciliation;
  expect(open.customers[0].lines[0]).toMatchObject({
    rated: { amount: '15.00' },
    invoiced: { amount: '10.00' },
    posted: { amount: '10.00' },
    ledger: { amount: '10.00' },
  });
  expect(open.customers[0].lines[0].differences).toEqual([
    expect.objectContaining({
      from: 'RATED',
      to: 'INVOICED',
      reason: 'ADJUSTMENT_WITHOUT_NOTE',
      explained: true,
      amount: { amount: '5.00', currency: 'USD' },
      recordIds: [b.invoiceId],
    }),
  ]);

  const { issueNotes } = await finance.ok(
    `mutation($i: [ID!]!) { issueNotes(invoiceIds: $i) { status notes { number kind total { amount } erpPostings { id } } } }`,
    { i: [b.invoiceId] },
  );
  expect(issueNotes[0].notes).toEqual([
    expect.objectContaining({ kind: 'DEBIT', total: { amount: '5.00' }, erpPostings: [expect.anything()] }),
  ]);
  await postedToLedger(issueNotes[0].notes[0].erpPostings[0].id);
  const closed = (await finance.ok(RECONCILIATION, { p: period, e: legalEntityCode })).reconciliation;
  expect(closed.status).toBe('RECONCILED');
  expect(closed.customers[0].lines[0]).toMatchObject({
    rated: { amount: '15.00' },
    invoiced: { amount: '15.00' },
    posted: { amount: '15.00' },
    ledger: { amount: '15.00' },
    differences: [],
  });
}, 90_000);

it('refuses a malformed period with the field and what is accepted', async () => {
  const result = await clientAs('finance').raw(`{ reconciliation(period: "2026-13") { status } }`);
  expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'period' });
});
