import { runSubgraphProcess } from '../../lib/subgraph-server';
import { DEFAULT_PORTS } from '../../lib/topology';
import { subscriptionsSubgraph } from './index';

runSubgraphProcess(subscriptionsSubgraph, DEFAULT_PORTS.subscriptions);
