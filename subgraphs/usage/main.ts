import { runSubgraphProcess } from '../../lib/subgraph-server';
import { DEFAULT_PORTS } from '../../lib/topology';
import { usageSubgraph } from './index';

runSubgraphProcess(usageSubgraph, DEFAULT_PORTS.usage);
