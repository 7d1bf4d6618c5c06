// Where each part listens. Defaults for a subgraph run by hand; the launcher keeps an address book of where its own
// children really listen, and `SUBGRAPH_URL_<NAME>` overrides both.
import { readFileSync, statSync } from 'node:fs';
import { config } from './config';
import { SUBGRAPH_NAMES, subgraphUrlEnv, type SubgraphName } from './subgraph-names';

export { SUBGRAPH_NAMES, subgraphUrlEnv, type SubgraphName };

/** Ports `npm start` prefers (and falls back from when taken); a subgraph run by hand listens here unless PORT says. */
export const DEFAULT_PORTS: Record<SubgraphName | 'gateway', number> = {
  gateway: 4000,
  usage: 4001,
  subscriptions: 4002,
  pricing: 4003,
  invoices: 4004,
  'erp-postings': 4005,
  access: 4006,
  events: 4007,
};

/** The file the launcher keeps current with each child's address, rewritten (atomically) when a child moves. */
export const ADDRESS_BOOK_ENV = 'USAGEGRAPH_ADDRESS_BOOK';

type AddressBook = Partial<Record<SubgraphName, string | (string | null)[]>>;
let cachedBook: { file: string; mtimeMs: number; size: number; urls: AddressBook } | undefined;

/** The launcher's address book, re-read whenever the file changed; empty while it does not exist yet. */
function addressBook(file: string): AddressBook {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return {};
  }
  if (cachedBook?.file === file && cachedBook.mtimeMs === stat.mtimeMs && cachedBook.size === stat.size)
    return cachedBook.urls;
  try {
    const urls = JSON.parse(readFileSync(file, 'utf8')) as AddressBook;
    cachedBook = { file, mtimeMs: stat.mtimeMs, size: stat.size, urls };
    return urls;
  } catch {
    return cachedBook?.file === file ? cachedBook.urls : {}; // caught between the launcher's write and rename
  }
}

/**
 * The GraphQL endpoint of a subgraph: `SUBGRAPH_URL_<NAME>` when set; else, under a launcher, its address book (and
 * never a default port, which could belong to another system on this machine); else the default port on loopback.
 */
const nextReplica: Partial<Record<SubgraphName, number>> = {};

export function subgraphUrl(name: SubgraphName): string {
  const explicit = (config() as Record<string, unknown>)[subgraphUrlEnv(name)] as string | undefined;
  if (explicit) return explicit;
  const book = config().USAGEGRAPH_ADDRESS_BOOK;
  if (book) {
    const entry = addressBook(book)[name];
    // Several processes of one subgraph: each call goes to the next one (round robin), so load and failures spread.
    const urls = (Array.isArray(entry) ? entry : [entry]).filter((u): u is string => typeof u === 'string');
    if (urls.length === 0)
      throw new Error(`the address of the ${name} subgraph is not known yet (it is starting or restarting)`);
    const turn = (nextReplica[name] = ((nextReplica[name] ?? -1) + 1) % urls.length);
    return urls[turn]!;
  }
  return `http://127.0.0.1:${DEFAULT_PORTS[name]}/graphql`;
}

export function isSubgraphName(value: string): value is SubgraphName {
  return (SUBGRAPH_NAMES as readonly string[]).includes(value);
}
