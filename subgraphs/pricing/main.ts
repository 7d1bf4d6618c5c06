import { runSubgraphProcess } from '../../lib/subgraph-server';
import { DEFAULT_PORTS } from '../../lib/topology';
import { pricingSubgraph } from './index';

runSubgraphProcess(pricingSubgraph, DEFAULT_PORTS.pricing);
