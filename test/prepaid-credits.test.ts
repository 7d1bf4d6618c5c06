// Prepaid credits end to end through the gateway: credit granted and bought, consumed by a finalized invoice in
// priority order (once, however often finalization is retried), shown as credit lines, posted to hledger as a liability,
// expired, and a low balance delivered as a signed webhook to a receiver the test runs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signatureOf } from '../subgraphs/events/deliver-webhook';
import { billedCustomer, g, hledgerCheck, ledgerBalances, legalEntity, mapAccount, posted } from './accounting-support';
import { eventually, gatewayUrl, keyFor } from './support';

const GRANT = `mutation($i: GrantPrepaidCreditsInput!) { grantPrepaidCredits(input: $i) {
  id kind amount { amount } balanceAfter { amount } grant { id priority remaining { amount } } wallet { balance { amount } } } }`;
const WALLET = `query($c: ID!) { prepaidCreditWallet(customerId: $c, currency: "USD") {
  balance { amount } lowBalanceThreshold { amount }
  grants { id kind priority amount { amount } remaining { amount } expired }
  movements { nodes { id sequence kind amount { amount } balanceAfter { amount } invoice { id } allocations { grantId amount { amount } } } }
} }`;

async function receiver() {
  const received: Array<{ id: string; timestamp: string; signature: string; body: string; event: any }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body,
        event: JSON.parse(body),
      });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

it('refuses credit that is not a positive amount in whole cents, naming the field', async () => {
  const entity = await legalEntity('PCX');
  const b = await billedCustomer('pcx', entity.code, 1, { finalize: false });
  for (const [amount, reason] of [
    ['-5', /more than zero/],
    ['1.234', /minor digits/],
  ] as const) {
    const r = await g.raw(GRANT, { i: { customerId: b.customerId, amount } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'input.amount' });
    expect(r.errors?.[0]?.message).toMatch(reason);
  }
  const r = await g.raw(GRANT, { i: { customerId: b.customerId, amount: '5.00', priority: 0 } });
  expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'input.priority' });
});

it("gives a voided invoice's credit back, and its replacement uses it again", async () => {
  const entity = await legalEntity('PCV');
  // 2,000 calls at 0.01: 20.00.
  const b = await billedCustomer('pcv', entity.code, 2_000, { finalize: false });
  await g.ok(GRANT, { i: { customerId: b.customerId, amount: '50.00', grantKey: 'prepay' } });
  const FINALIZE = `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { prepaidCreditApplied { amount } amountDue { amount } } }`;
  expect((await g.ok(FINALIZE, { id: b.invoiceId })).finalizeInvoice).toEqual({
    prepaidCreditApplied: { amount: '20.00' },
    amountDue: { amount: '0.00' },
  });
  const balance = async () => (await g.ok(WALLET, { c: b.customerId })).prepaidCreditWallet;
  expect((await balance()).balance.amount).toBe('30.00');
  await g.ok(`mutation($id: ID!) { voidInvoice(invoiceId: $id, reason: "billed to the wrong entity") { status } }`, {
    id: b.invoiceId,
  });
  // A second void changes nothing: the credit is given back once.
  await g.ok(`mutation($id: ID!) { voidInvoice(invoiceId: $id, reason: "again") { status } }`, { id: b.invoiceId });
  const restored = await balance();
  expect(restored.balance.amount).toBe('50.00');
  expect(restored.movements.nodes.map((m: any) => [m.kind, m.amount.amount, m.invoice?.id ?? null])).toEqual([
    ['GRANT', '50.00', null],
    ['CONSUMPTION', '-20.00', b.invoiceId],
    ['RESTORE', '20.00', b.invoiceId],
  ]);
  const { generateInvoice } = await g.ok(
    `mutation($s: ID!) { generateInvoice(subscriptionId: $s, period: "2026-09") { id } }`,
    { s: b.subscriptionId },
  );
  expect(generateInvoice.id).not.toBe(b.invoiceId);
  expect((await g.ok(FINALIZE, { id: generateInvoice.id })).finalizeInvoice.prepaidCreditApplied.amount).toBe('20.00');
  expect((await balance()).balance.amount).toBe('30.00');
});

it('pays a finalized invoice from credit by priority, once, books it as a liability, expires the rest, warns at a low balance', async () => {
  const hooks = await receiver();
  try {
    const { createWebhookEndpoint } = await g.ok(
      `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } signingSecret } }`,
      { i: { url: hooks.url, eventTypes: ['prepaid_credits.*'], description: 'prepaid credit receiver' } },
    );
    const entity = await legalEntity('PC');
    const code = entity.code.toLowerCase();
    await mapAccount('PREPAID_CREDIT_ACCOUNT', entity.code, `liabilities:prepaid-credits:${code}`);
    await mapAccount('PROMOTIONAL_CREDIT_ACCOUNT', entity.code, `expenses:promotional-credits:${code}`);
    await mapAccount('EXPIRED_CREDIT_ACCOUNT', entity.code, `revenue:expired-credits:${code}`);
    // 15,000 calls at 0.01: an invoice of 150.00 (no tax: the customer has no tax address).
    const b = await billedCustomer('pc', entity.code, 15_000, { finalize: false });
    await g.ok(
      `mutation($c: ID!) { setPrepaidCreditThreshold(customerId: $c, currency: "USD", lowBalanceThreshold: "50.00") { id } }`,
      { c: b.customerId },
    );

    const bought = (
      await g.ok(GRANT, {
        i: { customerId: b.customerId, amount: '100.00', priority: 10, grantKey: 'annual', description: 'Annual' },
      })
    ).grantPrepaidCredits;
    const promo = (
      await g.ok(GRANT, {
        i: {
          customerId: b.customerId,
          amount: '30.00',
          kind: 'GRANTED',
          priority: 1,
          expiresAt: '2027-12-31T00:00:00Z',
          grantKey: 'welcome',
          description: 'Welcome credit',
        },
      })
    ).grantPrepaidCredits;
    expect(promo.wallet.balance.amount).toBe('130.00');
    // The same grantKey again grants nothing more.
    const again = (await g.ok(GRANT, { i: { customerId: b.customerId, amount: '100.00', grantKey: 'annual' } }))
      .grantPrepaidCredits;
    expect(again.id).toBe(bought.id);
    expect(again.wallet.balance.amount).toBe('130.00');

    // Three finalizations at once: one consumption of 130.00 — welcome (priority 1) first, then annual.
    const FINALIZE = `mutation($id: ID!) { finalizeInvoice(invoiceId: $id) { number total { amount }
      prepaidCreditApplied { amount } amountDue { amount } prepaidCreditLines { description amount { amount } grant { id } }
      documents { html } } }`;
    const results = await Promise.all([1, 2, 3].map(() => g.ok(FINALIZE, { id: b.invoiceId })));
    for (const { finalizeInvoice: inv } of results) {
      expect(inv).toMatchObject({
        total: { amount: '150.00' },
        prepaidCreditApplied: { amount: '130.00' },
        amountDue: { amount: '20.00' },
        prepaidCreditLines: [
          { description: 'Welcome credit', amount: { amount: '30.00' }, grant: { id: promo.grant.id } },
          { description: 'Annual', amount: { amount: '100.00' }, grant: { id: bought.grant.id } },
        ],
      });
    }
    // The document the customer receives shows the credit lines and what is left to pay.
    const html = await (
      await fetch(`${gatewayUrl().replace(/\/graphql$/, '')}${results[0]!.finalizeInvoice.documents.html}`, {
        headers: { authorization: `Bearer ${keyFor('customer-success')}` },
      })
    ).text();
    expect(html).toMatch(/Prepaid credit: Welcome credit<\/td><td class="num">-\$30\.00/);
    expect(html).toMatch(/Prepaid credit: Annual<\/td><td class="num">-\$100\.00/);
    expect(html).toMatch(/Amount due USD.*\$20\.00/);
    const { prepaidCreditWallet: wallet } = await g.ok(WALLET, { c: b.customerId });
    expect(wallet.balance.amount).toBe('0.00');
    expect(wallet.lowBalanceThreshold.amount).toBe('50.00');
    expect(
      wallet.movements.nodes.map((m: any) => [m.sequence, m.kind, m.amount.amount, m.balanceAfter.amount]),
    ).toEqual([
      [1, 'GRANT', '100.00', '100.00'],
      [2, 'GRANT', '30.00', '130.00'],
      [3, 'CONSUMPTION', '-130.00', '0.00'],
    ]);
    const consumption = wallet.movements.nodes[2];
    expect(consumption.invoice.id).toBe(b.invoiceId);

    // The low balance reaches the receiver once, signed, with the movement that crossed the threshold.
    const low = await eventually(
      'prepaid_credits.balance_low to be delivered',
      async () => hooks.received.find((r) => r.event.type === 'usagegraph.prepaid_credits.balance_low'),
      20_000,
    );
    expect(low.event).toMatchObject({
      id: `prepaid_credits.balance_low:${consumption.id}`,
      data: { balance: { amount: '0.00', currency: 'USD' }, threshold: { amount: '50.00' }, invoiceId: b.invoiceId },
    });
    expect(low.signature).toBe(
      signatureOf(createWebhookEndpoint.signingSecret, low.id, Number(low.timestamp), low.body),
    );

    // Credit that expires: granted for two seconds, then expired and booked as expired-credit income.
    const short = (
      await g.ok(GRANT, {
        i: {
          customerId: b.customerId,
          amount: '5.00',
          grantKey: 'short',
          expiresAt: new Date(Date.now() + 2_000).toISOString(),
        },
      })
    ).grantPrepaidCredits;
    await new Promise((r) => setTimeout(r, 2_500));
    const { expirePrepaidCredits } = await g.ok(
      `mutation($c: ID!) { expirePrepaidCredits(customerId: $c, currency: "USD") { balance { amount } grants { id expired remaining { amount } } movements { nodes { id kind amount { amount } } } } }`,
      { c: b.customerId },
    );
    expect(expirePrepaidCredits.balance.amount).toBe('0.00');
    const expiry = expirePrepaidCredits.movements.nodes.at(-1);
    expect([expiry.kind, expiry.amount.amount]).toEqual(['EXPIRY', '-5.00']);

    // Into the ledger: the invoice, the three grants and the expiry.
    const POST_MOVEMENT = `mutation($id: ID!) { postPrepaidCreditMovement(movementId: $id) { id kind prepaidCreditMovementId } }`;
    const invoicePosting = (
      await g.ok(`mutation($id: ID!) { postInvoice(invoiceId: $id) { id } }`, { id: b.invoiceId })
    ).postInvoice;
    const movementPostings = [];
    for (const id of [bought.id, promo.id, short.id, expiry.id])
      movementPostings.push((await g.ok(POST_MOVEMENT, { id })).postPrepaidCreditMovement);
    expect(movementPostings.map((p) => [p.kind, p.prepaidCreditMovementId])).toEqual([
      ['PREPAID_CREDIT_GRANT', bought.id],
      ['PREPAID_CREDIT_GRANT', promo.id],
      ['PREPAID_CREDIT_GRANT', short.id],
      ['PREPAID_CREDIT_EXPIRY', expiry.id],
    ]);
    // Posting a movement twice books it once.
    expect((await g.ok(POST_MOVEMENT, { id: bought.id })).postPrepaidCreditMovement.id).toBe(movementPostings[0].id);
    const booked = await posted(invoicePosting.id);
    expect(booked.journalEntry.lines.map((l: any) => [l.account, l.side, l.amount.amount])).toEqual([
      [entity.receivable, 'DEBIT', '20.00'],
      [`liabilities:prepaid-credits:${code}`, 'DEBIT', '130.00'],
      [`revenue:usage:${b.productLine}`, 'CREDIT', '150.00'],
    ]);
    for (const p of movementPostings) await posted(p.id);
    const balances = await ledgerBalances();
    // Receivable: 20.00 left on the invoice + 100.00 and 5.00 bought; the liability is fully used or expired.
    expect(balances.get(entity.receivable)).toBe(12500n);
    expect(balances.get(`liabilities:prepaid-credits:${code}`) ?? 0n).toBe(0n);
    expect(balances.get(`expenses:promotional-credits:${code}`)).toBe(3000n);
    expect(balances.get(`revenue:expired-credits:${code}`)).toBe(-500n);
    hledgerCheck();
  } finally {
    await hooks.stop();
  }
}, 120_000);

it('expires credit in the background: the expiry movement and its posting come without anyone reading the wallet', async () => {
  const entity = await legalEntity('PCB');
  const code = entity.code.toLowerCase();
  await mapAccount('PREPAID_CREDIT_ACCOUNT', entity.code, `liabilities:prepaid-credits:${code}`);
  await mapAccount('EXPIRED_CREDIT_ACCOUNT', entity.code, `revenue:expired-credits:${code}`);
  const b = await billedCustomer('pcb', entity.code, 1, { finalize: false });
  // Granted for a second and a half; from then on, nothing here reads or consumes the wallet until the posting is seen.
  await g.ok(GRANT, {
    i: {
      customerId: b.customerId,
      amount: '7.00',
      grantKey: 'brief',
      expiresAt: new Date(Date.now() + 1_500).toISOString(),
    },
  });
  const expiryPosting = await eventually(
    'the background pass to post the expiry',
    async () => {
      const { erpPostings } = await g.ok(
        `query { erpPostings(kind: PREPAID_CREDIT_EXPIRY, first: 500) { nodes { id legalEntityCode prepaidCreditMovementId } } }`,
      );
      return erpPostings.nodes.find((p: any) => p.legalEntityCode === entity.code);
    },
    20_000,
  );
  const booked = await posted(expiryPosting.id);
  expect(booked.journalEntry.lines.map((l: any) => [l.account, l.side, l.amount.amount])).toEqual([
    [`liabilities:prepaid-credits:${code}`, 'DEBIT', '7.00'],
    [`revenue:expired-credits:${code}`, 'CREDIT', '7.00'],
  ]);
  const { prepaidCreditWallet: wallet } = await g.ok(WALLET, { c: b.customerId });
  expect(wallet.balance.amount).toBe('0.00');
  expect(wallet.movements.nodes.map((m: any) => [m.kind, m.amount.amount])).toEqual([
    ['GRANT', '7.00'],
    ['EXPIRY', '-7.00'],
  ]);
  expect(wallet.movements.nodes[1].id).toBe(expiryPosting.prepaidCreditMovementId);
  // Every later pass finds it done: still one expiry, one posting.
  await new Promise((r) => setTimeout(r, 1_200));
  const { erpPostings } = await g.ok(
    `query { erpPostings(kind: PREPAID_CREDIT_EXPIRY, first: 500) { nodes { legalEntityCode } } }`,
  );
  expect(erpPostings.nodes.filter((p: any) => p.legalEntityCode === entity.code)).toHaveLength(1);
  expect((await g.ok(WALLET, { c: b.customerId })).prepaidCreditWallet.movements.nodes).toHaveLength(2);
});

it('books the credited part as the liability on the batch path too (finalizeAndPostInvoices), as postInvoice does', async () => {
  const entity = await legalEntity('PCB');
  const code = entity.code.toLowerCase();
  await mapAccount('PREPAID_CREDIT_ACCOUNT', entity.code, `liabilities:prepaid-credits:${code}`);
  // 2,000 calls at 0.01: 20.00, of which 15.00 paid from credit.
  const b = await billedCustomer('pcb', entity.code, 2_000, { finalize: false });
  await g.ok(GRANT, { i: { customerId: b.customerId, amount: '15.00', grantKey: 'batch' } });
  const { finalizeAndPostInvoices } = await g.ok(
    `mutation($ids: [ID!]!) { finalizeAndPostInvoices(invoiceIds: $ids) { code posting { id } } }`,
    { ids: [b.invoiceId] },
  );
  expect(finalizeAndPostInvoices[0].code).toBeNull();
  const booked = await posted(finalizeAndPostInvoices[0].posting.id);
  expect(booked.journalEntry.lines.map((l: any) => [l.account, l.side, l.amount.amount])).toEqual([
    [entity.receivable, 'DEBIT', '5.00'],
    [`liabilities:prepaid-credits:${code}`, 'DEBIT', '15.00'],
    [`revenue:usage:${b.productLine}`, 'CREDIT', '20.00'],
  ]);
});
