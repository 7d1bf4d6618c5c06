// Picks the ERP connector from the environment.
import { config } from '../../../lib/config';
import type { ErpConnector } from './connector';
import { HledgerWebConnector } from './hledger-web';
import { JournalFileConnector } from './journal-file';

/** ERP_HLEDGER_URL (an hledger-web server) or ERP_JOURNAL_FILE (an hledger journal file appended to directly). */
export function connectorFromEnvironment(): ErpConnector {
  const url = config().ERP_HLEDGER_URL;
  if (url) return new HledgerWebConnector(url.replace(/\/$/, ''));
  const file = config().ERP_JOURNAL_FILE;
  if (file) return new JournalFileConnector(file);
  throw new Error('no ERP configured: set ERP_HLEDGER_URL (hledger-web) or ERP_JOURNAL_FILE (an hledger journal file)');
}

export type { ErpConnector, ErpDocument, LedgerTransaction, PostingForErp } from './connector';
export { ErpError } from './connector';
