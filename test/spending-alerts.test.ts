// Spending alerts end to end through the gateway: a threshold on a usage type's quantity fires once per period when
// rating reaches it, is visible on the alert, and reaches a local webhook receiver as a signed CloudEvent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signatureOf } from '../subgraphs/events/deliver-webhook';
import { billedCustomer, g, legalEntity, rate, sendCalls } from './accounting-support';
import { eventually } from './support';

const ALERT = `mutation($i: SpendingAlertInput!) { setSpendingAlert(input: $i) { id metric threshold } }`;
const ALERTS = `query($c: ID!) { spendingAlerts(customerId: $c) { id usageTypeKey metric threshold triggers { period value currency } } }`;

it('fires a spending alert once per period when the rated quantity reaches it, delivered by a signed webhook', async () => {
  const received: Array<{ id: string; timestamp: string; signature: string; body: string; event: any }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r = {
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body,
        event: JSON.parse(body),
      };
      received.push(r);
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    const { createWebhookEndpoint } = await g.ok(
      `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } signingSecret } }`,
      { i: { url, eventTypes: ['spending_alert.*'], description: 'spending alert receiver' } },
    );
    const entity = await legalEntity('SA');
    // 60 calls at 0.01 rated in 2026-09 before any alert exists.
    const b = await billedCustomer('sa', entity.code, 60, { finalize: false });
    const bad = await g.raw(ALERT, {
      i: { customerId: b.customerId, usageTypeKey: b.usageType, metric: 'QUANTITY', threshold: '0' },
    });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'input.threshold' });
    const quantity = (
      await g.ok(ALERT, {
        i: { customerId: b.customerId, usageTypeKey: b.usageType, metric: 'QUANTITY', threshold: '100' },
      })
    ).setSpendingAlert;
    const amount = (
      await g.ok(ALERT, {
        i: { customerId: b.customerId, usageTypeKey: b.usageType, metric: 'AMOUNT', threshold: '5.00' },
      })
    ).setSpendingAlert;

    await rate(b, '2026-09'); // 60 < 100 and 0.60 < 5.00: nothing fires.
    let alerts = (await g.ok(ALERTS, { c: b.customerId })).spendingAlerts;
    expect(alerts.map((a: any) => [a.metric, a.threshold, a.triggers])).toEqual([
      ['AMOUNT', '5', []],
      ['QUANTITY', '100', []],
    ]);

    await sendCalls(b, 50, '2026-09-12T10:00:00Z');
    await rate(b, '2026-09'); // 110 ≥ 100 fires; 1.10 < 5.00 does not.
    await sendCalls(b, 5, '2026-09-13T10:00:00Z');
    await rate(b, '2026-09'); // still 115 ≥ 100: no second firing in the same period.
    alerts = (await g.ok(ALERTS, { c: b.customerId })).spendingAlerts;
    expect(alerts.map((a: any) => [a.id, a.triggers])).toEqual([
      [amount.id, []],
      [quantity.id, [{ period: '2026-09', value: '110', currency: null }]],
    ]);

    const hit = await eventually(
      'spending_alert.triggered to be delivered',
      async () => received.find((r) => r.event.type === 'usagegraph.spending_alert.triggered'),
      20_000,
    );
    expect(hit.event).toMatchObject({
      id: `spending_alert.triggered:${quantity.id}:2026-09`,
      data: { customerId: b.customerId, usageTypeKey: b.usageType, metric: 'QUANTITY', threshold: '100', value: '110' },
    });
    expect(hit.signature).toBe(
      signatureOf(createWebhookEndpoint.signingSecret, hit.id, Number(hit.timestamp), hit.body),
    );
    // Give a second (wrong) delivery time to show up: the receiver sees this alert's event once.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(
      received.filter(
        (r) => r.event.type === 'usagegraph.spending_alert.triggered' && r.event.data.customerId === b.customerId,
      ),
    ).toHaveLength(1);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}, 120_000);
