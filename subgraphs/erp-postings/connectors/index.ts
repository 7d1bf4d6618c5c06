// Picks the ERP connector from the environment.
import { config } from '../../../lib/config';
import type { ErpConnector, TakeTurn } from './connector';
import { HledgerWebConnector } from './hledger-web';
import { JournalFileConnector } from './journal-file';

/**
 * ERP_HLEDGER_URL (an hledger-web server) or ERP_JOURNAL_FILE (an hledger journal file appended to directly). Both take
 * one write at a time, so every process writing to them takes `turn`s.
 */
export function connectorFromEnvironment(turn?: TakeTurn): ErpConnector {
  const url = config().ERP_HLEDGER_URL;
  if (url) return new HledgerWebConnector(url.replace(/\/$/, ''), turn);
  const file = config().ERP_JOURNAL_FILE;
  if (file) return new JournalFileConnector(file, turn);
  throw new Error('no ERP configured: set ERP_HLEDGER_URL (hledger-web) or ERP_JOURNAL_FILE (an hledger journal file)');
}

export type { ErpConnector, ErpDocument, LedgerTransaction, PostingForErp, TakeTurn } from './connector';
export { ErpError } from './connector';
