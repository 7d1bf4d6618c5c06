// `tsx gateway/hive/serve.ts`: Hive Gateway's runtime on node:http serving schema/supergraph.graphql with our plugins,
// on PORT (default 4100); subgraph addresses and the OIDC issuer from the same environment as our gateway.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { config as settings } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { runUntilSignalled } from '../../lib/lifecycle';
import { hiveGatewayConfig, type HiveGatewayOptions } from './config';
import { createGatewayRuntime } from './runtime';

export interface RunningHiveGateway {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startHiveGateway(
  options: HiveGatewayOptions & { port: number; host?: string },
): Promise<RunningHiveGateway> {
  const gateway = createGatewayRuntime(hiveGatewayConfig(options));
  const server = http.createServer(gateway);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/graphql`,
    port,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await gateway.dispose();
    },
  };
}

if (require.main === module) {
  const log = createLogger('hive-gateway');
  runUntilSignalled(
    async () => {
      const running = await startHiveGateway({
        port: settings().PORT ?? 4100,
        host: settings().HOST,
        planner: settings().USAGEGRAPH_HIVE_PLANNER,
      });
      log.info({ url: running.url }, 'hive gateway ready');
      return running;
    },
    log,
    'hive gateway',
  );
}
