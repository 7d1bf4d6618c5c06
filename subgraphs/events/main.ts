import { runSubgraphProcess } from '../../lib/subgraph-server';
import { DEFAULT_PORTS } from '../../lib/topology';
import { eventsSubgraph } from './index';

runSubgraphProcess(eventsSubgraph, DEFAULT_PORTS.events);
