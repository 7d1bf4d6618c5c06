// Pure: the reference a customer quotes when paying, as an ISO 11649 creditor reference (RF + check digits + ref).
/** Letters count A=10 … Z=35, as in IBAN checks. */
function mod97(digits: string): number {
  let rest = 0;
  for (const ch of digits) rest = (rest * 10 + Number(ch)) % 97;
  return rest;
}

const asDigits = (s: string) => [...s].map((c) => (/[0-9]/.test(c) ? c : String(c.charCodeAt(0) - 55))).join('');

/** RF18US012026000001 for US01-2026-000001: the document number's letters and digits (its last 21), checked mod 97. */
export function creditorReference(documentNumber: string): string {
  const reference = documentNumber
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '')
    .slice(-21);
  const check = 98 - mod97(asDigits(`${reference}RF00`));
  return `RF${String(check).padStart(2, '0')}${reference}`;
}

/** Whether a creditor reference's check digits hold (what a bank checks before accepting it). */
export function isValidCreditorReference(value: string): boolean {
  const m = /^RF(\d{2})([A-Z0-9]{1,21})$/.exec(value);
  return m !== null && mod97(asDigits(`${m[2]}RF${m[1]}`)) === 1;
}
