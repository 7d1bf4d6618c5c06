// `tsx gateway/main.ts`: the gateway alone, on PORT (default 4000); subgraph addresses from SUBGRAPH_URL_<NAME>.
import { createLogger } from '../lib/logger';
import { runUntilSignalled } from '../lib/lifecycle';
import { DEFAULT_PORTS } from '../lib/topology';
import { startGateway } from './server';

runUntilSignalled(
  () =>
    startGateway({ port: Number(process.env.PORT ?? DEFAULT_PORTS.gateway), host: process.env.HOST ?? '127.0.0.1' }),
  createLogger('gateway'),
  'gateway',
);
