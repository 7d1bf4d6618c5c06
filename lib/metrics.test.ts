// Who may read /metrics: with a token, whoever sends it; without one, only this machine.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { initMetrics, metricsEndpoint, operationLabel } from './metrics';

async function serve(token?: string): Promise<{ url: string; close(): void }> {
  initMetrics('test');
  const app = express();
  app.get('/metrics', metricsEndpoint(token));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, close: () => server.close() };
}

it('asks for the bearer token when one is set, and serves the metrics with it', async () => {
  const server = await serve('s3cret-token');
  try {
    const without = await fetch(server.url);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect((await fetch(server.url, { headers: { authorization: 'Bearer wrong-token!' } })).status).toBe(401);
    const ok = await fetch(server.url, { headers: { authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('process_cpu_seconds_total{service="test"}');
  } finally {
    server.close();
  }
});

it('serves loopback clients without a token', async () => {
  const server = await serve(undefined);
  try {
    expect((await fetch(server.url)).status).toBe(200);
  } finally {
    server.close();
  }
});

it('keeps operation names a bounded, safe label', () => {
  expect(operationLabel('Lineage')).toBe('Lineage');
  expect(operationLabel(undefined)).toBe('anonymous');
  expect(operationLabel('a"b{c}')).toBe('invalid');
  for (let i = 0; i < 300; i++) operationLabel(`Op${i}`);
  expect(operationLabel('OneMore')).toBe('other');
});
