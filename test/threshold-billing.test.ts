// Threshold (progressive) billing end to end through the gateway: a plan with thresholds 100 and 250, usage that
// accrues 0 → 120 → 300 in September; progressive invoices of 120 and 180 (one each, however many ratings race),
// a final invoice that lists the period and deducts the 300 already billed, and the three posted to the ledger.
import { randomBytes } from 'node:crypto';
import {
  billedCustomer,
  g,
  hledgerCheck,
  ledgerBalances,
  legalEntity,
  posted,
  rate,
  sendCalls,
} from './accounting-support';
import { firstError } from './support';

const INVOICES = `query($s: ID!) { invoices(filter: { subscriptionId: $s, period: "2026-09" }) { nodes {
  id kind status number subtotal { amount } taxTotal { amount } total { amount } alreadyBilled { amount }
  usageThreshold { amount index accrued }
  lines { kind description amount { amount } alreadyBilledOn { id number } }
} } }`;

it('issues a progressive invoice per threshold crossed, once, and the final invoice deducts what they billed', async () => {
  const entity = await legalEntity('THR');
  const feeLine = `fee-${randomBytes(4).toString('hex')}`;
  // 12,000 calls at 0.01: 120.00 accrued, past the threshold of 100.
  const b = await billedCustomer('thr', entity.code, 12_000, {
    finalize: false,
    usageThresholds: [{ amount: '500', recurring: true }, { amount: '250' }, { amount: '100' }],
    fees: [
      { key: 'platform', description: 'Platform fee', amount: '30.00', timing: 'IN_ARREARS', productLine: feeLine },
    ],
  });
  const { subscription } = await g.ok(
    `query($s: ID!) { subscription(id: $s) { phases { pricePlan { usageThresholds { amount recurring } } } } }`,
    { s: b.subscriptionId },
  );
  expect(subscription.phases[0].pricePlan.usageThresholds).toEqual([
    { amount: '100', recurring: false },
    { amount: '250', recurring: false },
    { amount: '500', recurring: true },
  ]);
  const invoices = async () => (await g.ok(INVOICES, { s: b.subscriptionId })).invoices.nodes as any[];
  const progressive = async () =>
    (await invoices())
      .filter((i) => i.kind === 'PROGRESSIVE')
      .sort((a, b) => a.usageThreshold.index - b.usageThreshold.index);

  const [first] = await progressive();
  expect(first).toMatchObject({
    status: 'FINALIZED',
    subtotal: { amount: '120.00' },
    alreadyBilled: { amount: '0.00' },
    usageThreshold: { amount: '100', index: 0, accrued: '120' },
  });

  // 18,000 more calls: 300.00 accrued, past 250. Two ratings race; one progressive invoice of 180.00 comes of them.
  await sendCalls(b, 18_000, '2026-09-20T10:00:00Z');
  await Promise.all([rate(b), rate(b)]);
  await rate(b);
  const both = await progressive();
  expect(both.map((i) => [i.usageThreshold.index, i.status, i.subtotal.amount, i.alreadyBilled.amount])).toEqual([
    [0, 'FINALIZED', '120.00', '0.00'],
    [1, 'FINALIZED', '180.00', '120.00'],
  ]);
  const second = both[1];
  expect(second.lines.map((l: any) => [l.amount.amount, l.alreadyBilledOn?.number ?? null])).toEqual([
    ['300.00', null],
    ['-120.00', first.number],
  ]);

  // The draft made before the second progressive invoice deducts too little: finalizing it is refused.
  const stale = firstError(
    await g.raw(`mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { id } }`, { id: b.invoiceId }),
  );
  expect(stale.extensions).toMatchObject({ code: 'DRAFT_OUTDATED', field: 'invoiceId' });
  const { generateInvoice } = await g.ok(
    `mutation($s: ID!) { generateInvoice(subscriptionId: $s, period: "2026-09") { id } }`,
    { s: b.subscriptionId },
  );
  const { finalizeInvoice: final } = await g.ok(
    `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { kind subtotal { amount } alreadyBilled { amount } total { amount }
      lines { kind amount { amount } alreadyBilledOn { number } } } }`,
    { id: generateInvoice.id },
  );
  expect(final.kind).toBe('FINAL');
  expect(final.lines.map((l: any) => [l.kind, l.amount.amount, l.alreadyBilledOn?.number ?? null])).toEqual([
    ['USAGE', '300.00', null],
    ['FEE', '30.00', null],
    ['USAGE', '-300.00', second.number],
  ]);
  expect([final.alreadyBilled.amount, final.subtotal.amount, final.total.amount]).toEqual(['300.00', '30.00', '30.00']);

  // Once the final invoice is out, more usage (800.00, past the recurring 750) issues no progressive invoice.
  await sendCalls(b, 50_000, '2026-09-25T10:00:00Z');
  await rate(b);
  expect(await progressive()).toHaveLength(2);

  // Posted like any other invoice: the receivable is the full period (330.00), usage revenue 300.00, fees 30.00.
  for (const id of [first.id, second.id, generateInvoice.id]) {
    const { postInvoice } = await g.ok(`mutation($id: ID!) { postInvoice(invoiceId: $id) { id } }`, { id });
    await posted(postInvoice.id);
  }
  const balances = await ledgerBalances();
  expect(balances.get(entity.receivable)).toBe(33000n);
  expect(balances.get(`revenue:usage:${b.productLine}`)).toBe(-30000n);
  expect(balances.get(`revenue:fees:${feeLine}`)).toBe(-3000n);
  hledgerCheck();
});
