// Pure: how a posting is written for hledger (JSON for hledger-web's PUT /add, and journal text).
import { minorDigits, toMinorUnits } from '../../../lib/money';
import type { PostingForErp } from './connector';

// hledger re-parses codes and descriptions from text: "(", ")", ";" and newlines would corrupt the journal.
const SAFE_CODE = /^[A-Za-z0-9:._-]{1,120}$/;
const UNSAFE_TEXT = /[^A-Za-z0-9 .,'&/_:-]/g;

export function safeText(value: string): string {
  return value.replace(UNSAFE_TEXT, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** Tag values end at a comma, so commas become spaces. */
function tagValue(value: string): string {
  return safeText(value).replace(/,/g, ' ');
}

export function assertSafeCode(code: string): void {
  if (!SAFE_CODE.test(code)) throw new RangeError(`posting key "${code}" has characters hledger cannot round-trip`);
}

function transactionTags(p: PostingForErp): string {
  const tags = [
    `idem:${p.postingKey}`,
    `correlation:${tagValue(p.correlationId)}`,
    `period:${p.entry.accountingPeriod}`,
  ];
  if (p.legalEntityCode) tags.push(`legalEntity:${tagValue(p.legalEntityCode)}`);
  if (p.kind) tags.push(`kind:${tagValue(p.kind)}`);
  // A posting moved out of a closed period says which one it was meant for (its secondary date is the document's).
  if (p.entry.requestedPeriod)
    tags.push(`requestedPeriod:${p.entry.requestedPeriod}`, 'moved:closed-period-to-next-open');
  return tags.join(', ');
}

/** The document date as hledger's secondary date, when the entry is booked on another day. */
const secondaryDate = (p: PostingForErp): string | null =>
  p.entry.documentDate !== p.entry.postingDate ? p.entry.documentDate : null;

function postingTags(line: PostingForErp['entry']['lines'][number]): string {
  return line.dimensions.map((d) => `${d.name}:${tagValue(d.value)}`).join(', ');
}

function signedMinor(line: PostingForErp['entry']['lines'][number]): bigint {
  const minor = toMinorUnits(line.amount);
  return line.side === 'DEBIT' ? minor : -minor;
}

/** The transaction as hledger-web 1.25's PUT /add accepts it (see erp-notes §2.3). */
export function toHledgerJson(p: PostingForErp): Record<string, unknown> {
  assertSafeCode(p.postingKey);
  const digits = minorDigits(p.entry.currency);
  return {
    tdate: p.entry.postingDate,
    tdate2: secondaryDate(p),
    tstatus: 'Unmarked',
    tcode: p.postingKey,
    tdescription: safeText(p.entry.description),
    tcomment: `${transactionTags(p)}\n`,
    ttags: [],
    tprecedingcomment: '',
    tindex: 0,
    tsourcepos: [
      { sourceName: '', sourceLine: 1, sourceColumn: 1 },
      { sourceName: '', sourceLine: 1, sourceColumn: 1 },
    ],
    tpostings: p.entry.lines.map((line) => {
      const mantissa = signedMinor(line);
      if (mantissa > BigInt(Number.MAX_SAFE_INTEGER) || mantissa < -BigInt(Number.MAX_SAFE_INTEGER))
        throw new RangeError(`amount on line ${line.lineNo} is too large for hledger's JSON API`);
      return {
        paccount: line.account,
        pamount: [
          {
            acommodity: p.entry.currency,
            aquantity: { decimalMantissa: Number(mantissa), decimalPlaces: digits },
            astyle: { ascommodityside: 'R', ascommodityspaced: true, asprecision: digits },
          },
        ],
        pcomment: `${postingTags(line)}\n`,
        pstatus: 'Unmarked',
        ptags: [],
        ptype: 'RegularPosting',
      };
    }),
  };
}

/** The same transaction as journal text, for appending to a file that hledger reads. */
export function toJournalText(p: PostingForErp): string {
  assertSafeCode(p.postingKey);
  const date2 = secondaryDate(p);
  const head = `${p.entry.postingDate}${date2 ? `=${date2}` : ''} (${p.postingKey}) ${safeText(p.entry.description)}  ; ${transactionTags(p)}`;
  const body = p.entry.lines.map((line) => {
    const digits = minorDigits(p.entry.currency);
    const minor = signedMinor(line);
    const abs = minor < 0n ? -minor : minor;
    const s = abs.toString().padStart(digits + 1, '0');
    const amount = `${minor < 0n ? '-' : ''}${digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s}`;
    return `    ${line.account.padEnd(36)} ${amount.padStart(16)} ${p.entry.currency}  ; ${postingTags(line)}`;
  });
  return `${[head, ...body].join('\n')}\n\n`;
}
