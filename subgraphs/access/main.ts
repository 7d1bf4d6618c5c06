import { runSubgraphProcess } from '../../lib/subgraph-server';
import { DEFAULT_PORTS } from '../../lib/topology';
import { accessSubgraph } from './index';

runSubgraphProcess(accessSubgraph, DEFAULT_PORTS.access);
