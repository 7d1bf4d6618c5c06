// What an operator sees of the running system: Prometheus metrics on the gateway and every subgraph, and access logs
// (method, path, status, duration, operation, client, correlation id — never a body).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SUBGRAPH_NAMES, subgraphUrlEnv } from '../lib/topology';
import { client, gatewayUrl, metricValue, metricsText, unique } from './support';

it('serves Prometheus metrics on the gateway and every subgraph: requests, events, queues, the process', async () => {
  const gateway = await metricsText(gatewayUrl());
  expect(metricValue(gateway, 'process_cpu_seconds_total', { service: 'gateway' })).toBeGreaterThan(0);
  expect(metricValue(gateway, 'nodejs_eventloop_lag_seconds', { service: 'gateway' })).toBeGreaterThanOrEqual(0);
  for (const name of SUBGRAPH_NAMES) {
    const text = await metricsText(process.env[subgraphUrlEnv(name)]!);
    expect(text).toContain(`process_resident_memory_bytes{service="${name}"}`);
  }

  const key = unique('obs');
  await client().ok(
    `mutation ObservedRegistration { registerUsageType(input: { key: "${key}", unit: "call", productLine: "obs", fields: [{ name: "calls", type: INTEGER }], aggregation: { type: SUM, field: "calls" } }, activate: true) { key } }`,
  );
  const before = await metricsText(process.env.SUBGRAPH_URL_USAGE!);
  const held = (t: string) =>
    metricValue(t, 'usagegraph_usage_events_total', { outcome: 'held', service: 'usage' }) ?? 0;
  const event = (id: string) => ({
    id,
    source: 'obs/test',
    type: key,
    customer: unique('nobody'),
    timestamp: '2026-10-03T12:00:00Z',
    data: { calls: 1 },
  });
  await client().ok(`mutation ObservedIngestion($e: [UsageEventInput!]!) { ingestUsageEvents(events: $e) { held } }`, {
    e: [event(unique('e')), event(unique('e'))],
  });
  const after = await metricsText(process.env.SUBGRAPH_URL_USAGE!);
  expect(held(after) - held(before)).toBe(2);
  // The gateway names the operations it sends a subgraph after the client's: <operation>__<subgraph>__<n>.
  expect(
    metricValue(after, 'usagegraph_graphql_request_duration_seconds_count', {
      service: 'usage',
      operation: 'ObservedIngestion__usage__0',
      outcome: 'ok',
    }),
  ).toBeGreaterThanOrEqual(1);
  expect(metricValue(after, 'usagegraph_held_usage_events', { service: 'usage' })).toBeGreaterThanOrEqual(2);
  expect(metricValue(after, 'usagegraph_open_usage_exceptions', { service: 'usage' })).toBeGreaterThanOrEqual(1);

  const gatewayAfter = await metricsText(gatewayUrl());
  expect(
    metricValue(gatewayAfter, 'usagegraph_graphql_request_duration_seconds_bucket', {
      service: 'gateway',
      operation: 'ObservedIngestion',
      outcome: 'ok',
      le: '+Inf',
    }),
  ).toBeGreaterThanOrEqual(1);
  const queue = async (subgraph: string, name: string, labels: Record<string, string>) =>
    metricValue(await metricsText(process.env[subgraphUrlEnv(subgraph as never)]!), name, {
      service: subgraph,
      ...labels,
    });
  expect(await queue('erp-postings', 'usagegraph_erp_postings', { status: 'DEAD_LETTER' })).toBeGreaterThanOrEqual(0);
  expect(await queue('pricing', 'usagegraph_open_pricing_exceptions', {})).toBeGreaterThanOrEqual(0);
  expect(await queue('events', 'usagegraph_webhook_deliveries', { status: 'PENDING' })).toBeGreaterThanOrEqual(0);
});

it('writes one access log line per request with its operation, client and correlation id, and no body', async () => {
  const correlationId = unique('access');
  const secretLooking = unique('not-in-the-logs');
  await client(correlationId).raw(`query AccessLogged($k: String!) { usageTypes(key: $k) { totalCount } }`, {
    k: secretLooking,
  });
  await new Promise((r) => setTimeout(r, 300));
  // The gateway's log rolls over: <data>/logs/gateway/gateway.<n>.log.
  const folder = join(process.env.USAGEGRAPH_TEST_DATA_DIR!, 'logs', 'gateway');
  const lines = readdirSync(folder).flatMap((f) => readFileSync(join(folder, f), 'utf8').split('\n'));
  const line = lines.find((l) => l.includes(correlationId) && l.includes('"access"'));
  expect(line).toBeDefined();
  const { access } = JSON.parse(line!) as { access: Record<string, unknown> };
  expect(access).toMatchObject({
    method: 'POST',
    path: '/graphql',
    operationName: 'AccessLogged',
    client: expect.stringMatching(/^key:/),
    correlationId,
  });
  expect(typeof access.status).toBe('number');
  expect(typeof access.durationMs).toBe('number');
  expect(lines.some((l) => l.includes(secretLooking))).toBe(false);
});
