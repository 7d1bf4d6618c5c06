import { runSubgraphProcess } from '../../lib/subgraph-server';
import { DEFAULT_PORTS } from '../../lib/topology';
import { invoicesSubgraph } from './index';

runSubgraphProcess(invoicesSubgraph, DEFAULT_PORTS.invoices);
