// Numbers, amounts and dates in the reader's locale; amounts in their own currency, exactly as the graph sent them.
export interface Money {
  amount: string;
  currency: string;
}

const locale = () => navigator.languages?.[0] ?? navigator.language;

/** Formats the decimal string itself (Intl formats strings exactly), so no amount passes through a float. */
export function formatMoney(m: Money | null | undefined): string {
  if (!m) return '—';
  try {
    return new Intl.NumberFormat(locale(), { style: 'currency', currency: m.currency }).format(
      m.amount as unknown as number,
    );
  } catch {
    return `${m.amount} ${m.currency}`;
  }
}

export function formatNumber(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 20 }).format(value as number);
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value));
}

export function formatDay(value: string | null | undefined): string {
  if (!value) return '—';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(value));
}

/** "3 days", "5 hours" — how long something has waited, in the reader's language. */
export function formatAge(seconds: number): string {
  const units: Array<[string, number]> = [
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
    ['second', 1],
  ];
  const [unit, size] = units.find(([, size]) => seconds >= size) ?? ['second', 1];
  return new Intl.NumberFormat(locale(), { style: 'unit', unit, unitDisplay: 'long' }).format(
    Math.floor(Math.max(0, seconds) / size),
  );
}

/** A CSV file the browser downloads. */
export function download(filename: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

export function toCsv(rows: Array<Array<string | number | boolean | null | undefined>>): string {
  const cell = (v: string | number | boolean | null | undefined) => {
    const text = v === null || v === undefined ? '' : String(v);
    const safe = /^[=+\-@\t\r]/.test(text) && !/^-?\d/.test(text) ? `'${text}` : text;
    return /[",\n\r]/.test(safe) || safe !== text ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}
