import { runSubgraphProcess } from '../../lib/subgraph-server';
import { DEFAULT_PORTS } from '../../lib/topology';
import { erpPostingsSubgraph } from './index';

runSubgraphProcess(erpPostingsSubgraph, DEFAULT_PORTS['erp-postings']);
