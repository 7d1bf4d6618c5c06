import { reconcilePeriod, type ReconciliationInputs } from './reconciliation';

const usd = (amount: string) => ({ amount, currency: 'USD' });
const base = (): ReconciliationInputs => ({
  period: '2026-10',
  revenueAccount: (productLine, kind) =>
    kind === 'COMMITMENT' ? 'revenue:commitment' : `revenue:${kind === 'FEE' ? 'fees' : 'usage'}:${productLine}`,
  legalEntityCode: null,
  customers: [{ id: 'c1', externalKey: '=acme', name: 'Acme', legalEntityCode: 'US01' }],
  ratedLines: [
    {
      id: 'r1',
      subscriptionId: 's1',
      customerId: 'c1',
      kind: 'USAGE',
      productLine: 'api',
      usageTypeKey: 'calls',
      unit: 'call',
      quantity: '1200.5',
      eventCount: 3,
      amount: usd('12.01'),
    },
  ],
  invoices: [
    {
      id: 'inv1',
      number: 'US01-2026-000001',
      status: 'FINALIZED',
      customerId: 'c1',
      subscriptionId: 's1',
      legalEntityCode: 'US01',
      lines: [{ kind: 'USAGE', productLine: 'api', amount: usd('12.01') }],
    },
  ],
  postings: [
    {
      id: 'p1',
      postingKey: 'ug:inv1:v1',
      invoiceId: 'inv1',
      status: 'POSTED',
      lines: [
        { account: 'assets:receivable', side: 'DEBIT', amount: usd('12.01') },
        { account: 'revenue:usage:api', side: 'CREDIT', amount: usd('12.01') },
      ],
    },
  ],
  heldUsage: [],
  lateUsage: [],
  ledger: [
    {
      tcode: 'ug:inv1:v1',
      tdate: '2026-11-02',
      tdescription: 'Invoice',
      ttags: [['idem', 'ug:inv1:v1']],
      tpostings: [
        {
          paccount: 'revenue:usage:api',
          pamount: [{ acommodity: 'USD', aquantity: { decimalMantissa: -1201, decimalPlaces: 2 } }],
          ptags: [],
        },
      ],
    },
  ],
});

it('matches every stage to the ledger with no difference', () => {
  const r = reconcilePeriod(base());
  expect(r.reconciled).toBe(true);
  expect(r.customers[0]!.lines[0]).toMatchObject({
    rated: usd('12.01'),
    invoiced: usd('12.01'),
    posted: usd('12.01'),
    ledger: usd('12.01'),
    differences: [],
    usage: [{ usageTypeKey: 'calls', quantity: '1200.5', eventCount: 3, unit: 'call' }],
  });
});

it('leaves the period open when a posted document is missing from the ERP', () => {
  const r = reconcilePeriod({ ...base(), ledger: [] });
  expect(r.reconciled).toBe(false);
  expect(r.unexplainedCount).toBe(1);
  expect(r.customers[0]!.lines[0]!.differences).toEqual([
    expect.objectContaining({
      from: 'POSTED',
      to: 'LEDGER',
      reason: 'MISSING_IN_ERP',
      explained: false,
      amount: usd('12.01'),
    }),
  ]);
});

it.each([
  ['HELD', 'POSTING_HELD'],
  ['DEAD_LETTER', 'POSTING_DEAD_LETTERED'],
  ['RETRY_SCHEDULED', 'POSTING_IN_FLIGHT'],
] as const)('explains an invoice whose posting is %s as %s', (status, reason) => {
  const inputs = base();
  inputs.postings[0]!.status = status;
  const r = reconcilePeriod(inputs);
  expect(r.reconciled).toBe(true);
  expect(r.customers[0]!.lines[0]!.differences.map((d) => [d.from, d.to, d.reason, d.amount])).toEqual([
    ['INVOICED', 'POSTED', reason, usd('12.01')],
  ]);
});

it('names a re-rating after finalization as an adjustment without a note, and held events per customer', () => {
  const inputs = base();
  inputs.ratedLines[0]!.amount = usd('13.00');
  inputs.heldUsage = [{ exceptionId: 'uex1', customerKey: '=acme', heldEventCount: 4, problem: 'no subscription' }];
  const r = reconcilePeriod(inputs);
  expect(r.customers[0]!.lines[0]!.differences).toEqual([
    expect.objectContaining({ reason: 'ADJUSTMENT_WITHOUT_NOTE', amount: usd('0.99') }),
  ]);
  expect(r.customers[0]!.differences).toEqual([
    expect.objectContaining({ reason: 'HELD_EVENTS', count: 4, amount: null }),
  ]);
});

it('keeps a formula out of the CSV and digests the same figures the same way', () => {
  const r = reconcilePeriod(base());
  expect(r.csv.split('\r\n')[1]).toContain(`"'=acme"`);
  expect(reconcilePeriod(base()).digest).toBe(r.digest);
});

it('reads a zero amount hledger wrote without a commodity as nothing', () => {
  const inputs = base();
  inputs.ledger[0]!.tpostings.push({
    paccount: 'revenue:fees:api',
    pamount: [{ acommodity: '', aquantity: { decimalMantissa: 0, decimalPlaces: 0 } }],
    ptags: [],
  });
  expect(reconcilePeriod(inputs).reconciled).toBe(true);
});
