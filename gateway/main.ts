// `gateway/main.ts`: the gateway alone, on PORT (default 4000; 0 for any free port); subgraph addresses from
// SUBGRAPH_URL_<NAME> (or the launcher's address book).
import { config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { runUntilSignalled } from '../lib/lifecycle';
import { portFromEnvironment } from '../lib/listen';
import { DEFAULT_PORTS } from '../lib/topology';
import { startGateway } from './server';

runUntilSignalled(
  async () => startGateway({ ...portFromEnvironment(DEFAULT_PORTS.gateway), host: config().HOST }),
  createLogger('gateway'),
  'gateway',
);
