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

/** Re-rated down to 10.00 after invoicing 12.01; a credit note of 2.01 carries the difference, posted and in the ERP. */
const creditNoted = (): ReconciliationInputs => {
  const inputs = base();
  inputs.ratedLines[0]!.amount = usd('10.00');
  inputs.invoices[0]!.notes = [
    {
      id: 'note1',
      number: 'US01-CN-2026-000001',
      kind: 'CREDIT',
      lines: [{ kind: 'USAGE', productLine: 'api', amount: usd('2.01') }],
    },
  ];
  inputs.postings.push({
    id: 'p2',
    postingKey: 'ug:note1:v1',
    invoiceId: 'inv1',
    noteId: 'note1',
    status: 'POSTED',
    lines: [
      { account: 'revenue:usage:api', side: 'DEBIT', amount: usd('2.01') },
      { account: 'assets:receivable', side: 'CREDIT', amount: usd('2.01') },
    ],
  });
  inputs.ledger.push({
    tcode: 'ug:note1:v1',
    tdate: '2026-12-01',
    tdescription: 'Credit note',
    ttags: [['idem', 'ug:note1:v1']],
    tpostings: [
      {
        paccount: 'revenue:usage:api',
        pamount: [{ acommodity: 'USD', aquantity: { decimalMantissa: 201, decimalPlaces: 2 } }],
        ptags: [],
      },
    ],
  });
  return inputs;
};

it('reconciles net of a credit note: invoiced, posted and the ERP all take the note back', () => {
  const r = reconcilePeriod(creditNoted());
  expect(r.reconciled).toBe(true);
  expect(r.customers[0]!.lines[0]).toMatchObject({
    rated: usd('10.00'),
    invoiced: usd('10.00'),
    posted: usd('10.00'),
    ledger: usd('10.00'),
    differences: [],
  });
  expect(r.totals).toEqual([
    { currency: 'USD', rated: usd('10.00'), invoiced: usd('10.00'), posted: usd('10.00'), ledger: usd('10.00') },
  ]);
});

it("explains a note whose posting is held by the note's posting, and a note's missing ERP entry as unexplained", () => {
  const held = creditNoted();
  held.postings[1]!.status = 'HELD';
  held.ledger.pop();
  const r = reconcilePeriod(held);
  expect(r.reconciled).toBe(true);
  expect(r.customers[0]!.lines[0]).toMatchObject({ invoiced: usd('10.00'), posted: usd('12.01') });
  expect(r.customers[0]!.lines[0]!.differences).toEqual([
    expect.objectContaining({ from: 'INVOICED', to: 'POSTED', reason: 'POSTING_HELD', amount: usd('-2.01') }),
  ]);
  expect(r.customers[0]!.lines[0]!.differences[0]!.detail).toContain('credit note US01-CN-2026-000001');

  const lost = creditNoted();
  lost.ledger.pop();
  const l = reconcilePeriod(lost);
  expect(l.reconciled).toBe(false);
  expect(l.customers[0]!.lines[0]!.differences).toEqual([
    expect.objectContaining({ from: 'POSTED', to: 'LEDGER', reason: 'MISSING_IN_ERP', amount: usd('-2.01') }),
  ]);
});

it('names what a note does not carry yet as an adjustment without a note, and counts a debit note up', () => {
  const partly = creditNoted();
  partly.ratedLines[0]!.amount = usd('9.00');
  const r = reconcilePeriod(partly);
  expect(r.customers[0]!.lines[0]!.differences).toEqual([
    expect.objectContaining({ from: 'RATED', to: 'INVOICED', reason: 'ADJUSTMENT_WITHOUT_NOTE', amount: usd('-1.00') }),
  ]);
  expect(r.customers[0]!.lines[0]!.differences[0]!.detail).toContain('beyond US01-CN-2026-000001');

  const debited = base();
  debited.ratedLines[0]!.amount = usd('13.00');
  debited.invoices[0]!.notes = [
    {
      id: 'n2',
      number: 'US01-DN-2026-000001',
      kind: 'DEBIT',
      lines: [{ kind: 'USAGE', productLine: 'api', amount: usd('0.99') }],
    },
  ];
  const d = reconcilePeriod(debited);
  expect(d.customers[0]!.lines[0]).toMatchObject({ rated: usd('13.00'), invoiced: usd('13.00'), posted: usd('12.01') });
  expect(d.customers[0]!.lines[0]!.differences).toEqual([
    expect.objectContaining({
      from: 'INVOICED',
      to: 'POSTED',
      reason: 'NOT_POSTED',
      amount: usd('0.99'),
      recordIds: ['n2'],
    }),
  ]);
});

describe('threshold billing', () => {
  const progressive = {
    id: 'prog1',
    number: 'US01-2026-000002',
    status: 'FINALIZED' as const,
    kind: 'PROGRESSIVE' as const,
    customerId: 'c1',
    subscriptionId: 's1',
    legalEntityCode: 'US01',
    lines: [{ kind: 'USAGE' as const, productLine: 'api', amount: usd('10.00') }],
  };
  const invoicedGaps = (r: ReturnType<typeof reconcilePeriod>) =>
    r.customers[0]!.lines[0]!.differences.filter((d) => d.from === 'RATED').map((d) => [d.reason, d.amount!.amount]);

  it('counts a progressive invoice and the final invoice that deducts it as the period invoiced once', () => {
    const inputs = base();
    inputs.invoices[0]!.lines = [
      { kind: 'USAGE', productLine: 'api', amount: usd('12.01') },
      { kind: 'USAGE', productLine: 'api', amount: usd('-10.00') },
    ];
    const r = reconcilePeriod({ ...inputs, invoices: [progressive, ...inputs.invoices] });
    expect(r.customers[0]!.lines[0]!.invoiced).toEqual(usd('12.01'));
    expect(invoicedGaps(r)).toEqual([]);
  });

  it('before the final invoice, only what the progressive invoice did not bill is not invoiced', () => {
    const r = reconcilePeriod({ ...base(), invoices: [progressive] });
    expect(r.customers[0]!.lines[0]!.invoiced).toEqual(usd('10.00'));
    expect(invoicedGaps(r)).toEqual([['NOT_INVOICED', '2.01']]);
  });
});
