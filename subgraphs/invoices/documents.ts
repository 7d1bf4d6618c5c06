// Invoices and notes as documents a customer could receive: one model (who issues, who is billed, number, dates,
// lines with quantities and unit prices, tax, totals in the currency's format, the reference to quote), rendered as
// HTML and as PDF (pdfkit, standard Helvetica). Served on the subgraph's /documents route, which only answers
// requests the gateway signed; the gateway serves it to authenticated callers who may read billing.
import type express from 'express';
import PDFDocument from 'pdfkit';
import { fromMinorUnits, minorDigits, toMinorUnits, type Money } from '../../lib/money';
import { parsePeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { applyPrepaidCredits, creditAppliedOf, creditLinesOf } from './credit-wallets';
import { creditorReference } from './payment-reference';
import {
  amountsOf,
  type InvoiceDoc,
  type InvoicesStore,
  type LineTaxDoc,
  type NoteDoc,
  type TaxLineDoc,
} from './store';

export type DocumentCollection = 'invoices' | 'notes';

/** The gateway paths of a document. */
export function documentLinks(collection: DocumentCollection, id: string): { pdf: string; html: string } {
  return { pdf: `/documents/${collection}/${id}.pdf`, html: `/documents/${collection}/${id}.html` };
}

interface Party {
  name: string;
  reference: string;
  address: string[];
  taxId: string | null;
}

export interface DocumentModel {
  title: 'Invoice' | 'Credit note' | 'Debit note';
  number: string;
  voided: string | null;
  issueDate: string;
  period: string;
  paymentReference: string;
  corrects: string | null;
  seller: Party;
  buyer: Party;
  currency: string;
  lines: Array<{
    no: number;
    description: string;
    servicePeriod: string;
    quantity: string;
    unitPrice: string;
    amount: string;
    tax: string;
  }>;
  taxLines: Array<{ label: string; amount: string }>;
  exemption: string | null;
  subtotal: string;
  taxTotal: string;
  total: string;
  /** Prepaid credit applied (one line per grant) and what is left to pay; none on notes or without credit. */
  credits?: Array<{ label: string; amount: string }>;
  amountDue?: string | null;
}

/** An amount as the customer reads it in its currency: $1,234.56, ¥15,000, KWD 1.250. */
export function formatMoney(m: Money): string {
  const digits = minorDigits(m.currency);
  // Intl formats the decimal string exactly (NumberFormat v3); a number never holds the amount.
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: m.currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(m.amount as unknown as number);
}

/** A unit price keeps its own precision (0.0004), at least the currency's minor digits. */
export function formatUnitPrice(value: string, currency: string): string {
  const decimals = value.includes('.') ? value.split('.')[1]!.length : 0;
  const digits = Math.min(20, Math.max(minorDigits(currency), decimals));
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value as unknown as number);
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const servicePeriod = (p: { from: Date; to: Date }) => `${day(p.from)} to ${day(new Date(p.to.getTime() - 1))}`;
const taxText = (taxes: readonly LineTaxDoc[]) =>
  taxes.map((t) => `${t.ratePercent}% ${formatMoney(t.amount)}`).join(', ');
const taxLineText = (t: TaxLineDoc) => `${t.name} (${t.jurisdiction}) ${t.ratePercent}% of ${formatMoney(t.taxable)}`;
const EXEMPTION: Record<string, string> = {
  REVERSE_CHARGE: 'Reverse charge: the customer accounts for the tax.',
  EXEMPTION_CERTIFICATE: 'Exempt from tax under certificate',
  EXEMPT_ORGANIZATION: 'Exempt from tax: exempt organization.',
};

interface PartyView {
  name: string;
  address: {
    line1: string;
    line2: string | null;
    city: string;
    postalCode: string | null;
    region: string | null;
    country: string;
  } | null;
  taxId: string | null;
}
const addressLines = (a: PartyView['address']) =>
  a
    ? [a.line1, ...(a.line2 ? [a.line2] : []), [a.postalCode, a.city, a.region].filter(Boolean).join(' '), a.country]
    : [];

async function parties(legalEntityCode: string, customerId: string): Promise<{ seller: Party; buyer: Party }> {
  const ADDRESS = 'address: billingAddress { line1 line2 city postalCode region country }';
  const { legalEntity, customer } = await querySubgraph<{
    legalEntity: (PartyView & { code: string }) | null;
    customer: (PartyView & { externalKey: string }) | null;
  }>(
    'subscriptions',
    `query($e: String!, $c: ID!) { legalEntity(code: $e) { code name taxId address { line1 line2 city postalCode region country } }
      customer(id: $c) { name externalKey taxId ${ADDRESS} } }`,
    { e: legalEntityCode, c: customerId },
  );
  return {
    seller: {
      name: legalEntity?.name ?? legalEntityCode,
      reference: legalEntityCode,
      address: addressLines(legalEntity?.address ?? null),
      taxId: legalEntity?.taxId ?? null,
    },
    buyer: {
      name: customer?.name ?? customerId,
      reference: customer?.externalKey ?? customerId,
      address: addressLines(customer?.address ?? null),
      taxId: customer?.taxId ?? null,
    },
  };
}

export async function invoiceDocument(
  invoice: InvoiceDoc,
  credit: { lines: Array<{ description: string; amount: Money }>; due: Money } | null = null,
): Promise<DocumentModel> {
  const { seller, buyer } = await parties(invoice.legalEntityCode, invoice.customerId);
  const amounts = amountsOf(invoice);
  const period = parsePeriod(invoice.periodKey);
  const exemption = invoice.tax?.exemption;
  return {
    title: 'Invoice',
    number: invoice.number!,
    voided: invoice.status === 'VOIDED' ? `VOIDED on ${day(invoice.voidedAt!)}: ${invoice.voidReason}` : null,
    issueDate: invoice.issueDate!,
    period: invoice.periodKey,
    paymentReference: creditorReference(invoice.number!),
    corrects: null,
    seller,
    buyer,
    currency: invoice.currency,
    lines: invoice.lines.map((l) => ({
      no: l.lineNo,
      description: l.description,
      servicePeriod: servicePeriod(l.servicePeriod ?? { from: period.start, to: period.end }),
      quantity: `${l.quantity} ${l.unit}`,
      unitPrice: formatUnitPrice(l.unitPrice, invoice.currency),
      amount: formatMoney(l.amount),
      tax: taxText(l.taxes ?? []),
    })),
    taxLines: amounts.taxLines.map((t) => ({ label: taxLineText(t), amount: formatMoney(t.amount) })),
    exemption: exemption
      ? `${EXEMPTION[exemption.reason]}${exemption.certificateId ? ` ${exemption.certificateId}` : ''}`
      : null,
    subtotal: formatMoney(amounts.subtotal),
    taxTotal: formatMoney(amounts.taxTotal),
    total: formatMoney(amounts.total),
    credits: (credit?.lines ?? []).map((c) => ({
      label: c.description,
      amount: formatMoney({ ...c.amount, amount: `-${c.amount.amount}` }),
    })),
    amountDue: credit && credit.lines.length > 0 ? formatMoney(credit.due) : null,
  };
}

export async function noteDocument(note: NoteDoc): Promise<DocumentModel> {
  const { seller, buyer } = await parties(note.legalEntityCode, note.customerId);
  const exemption = note.tax?.exemption;
  return {
    title: note.kind === 'CREDIT' ? 'Credit note' : 'Debit note',
    number: note.number,
    voided: null,
    issueDate: note.issueDate,
    period: note.periodKey,
    paymentReference: creditorReference(note.number),
    corrects: note.invoiceNumber,
    seller,
    buyer,
    currency: note.currency,
    lines: note.lines.map((l) => ({
      no: l.lineNo,
      description: l.description,
      servicePeriod: servicePeriod(l.servicePeriod),
      quantity: `${l.quantity} ${l.unit}`,
      unitPrice: formatUnitPrice(l.unitPrice, note.currency),
      amount: formatMoney(l.amount),
      tax: taxText(l.taxes),
    })),
    taxLines: note.taxLines.map((t) => ({ label: taxLineText(t), amount: formatMoney(t.amount) })),
    exemption: exemption
      ? `${EXEMPTION[exemption.reason]}${exemption.certificateId ? ` ${exemption.certificateId}` : ''}`
      : null,
    subtotal: formatMoney(note.subtotal),
    taxTotal: formatMoney(note.taxTotal),
    total: formatMoney(note.total),
  };
}

const escapeHtml = (v: string) =>
  v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderHtml(d: DocumentModel): string {
  const e = escapeHtml;
  const party = (label: string, p: Party) =>
    `<div class="party"><h2>${e(label)}</h2><p><strong>${e(p.name)}</strong> (${e(p.reference)})<br>${p.address.map(e).join('<br>')}${p.taxId ? `<br>Tax id ${e(p.taxId)}` : ''}</p></div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(d.title)} ${e(d.number)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:32px;color:#1d2430}table{border-collapse:collapse;width:100%}th,td{padding:6px 8px;border-bottom:1px solid #dde1e7;text-align:left;vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}.parties{display:flex;gap:48px}.void{color:#a3171c;font-weight:700}.totals td{border:none}</style>
</head><body>
<h1>${e(d.title)} ${e(d.number)}</h1>
${d.voided ? `<p class="void">${e(d.voided)}</p>` : ''}
<p>Issued ${e(d.issueDate)} · Billing period ${e(d.period)}${d.corrects ? ` · Corrects invoice ${e(d.corrects)}` : ''} · Quote this reference when paying: <strong>${e(d.paymentReference)}</strong></p>
<div class="parties">${party('From', d.seller)}${party('Bill to', d.buyer)}</div>
<table><thead><tr><th>#</th><th>Description</th><th>Service period</th><th class="num">Quantity</th><th class="num">Unit price</th><th class="num">Amount</th><th class="num">Tax</th></tr></thead><tbody>
${d.lines.map((l) => `<tr><td>${l.no}</td><td>${e(l.description)}</td><td>${e(l.servicePeriod)}</td><td class="num">${e(l.quantity)}</td><td class="num">${e(l.unitPrice)}</td><td class="num">${e(l.amount)}</td><td class="num">${e(l.tax)}</td></tr>`).join('\n')}
</tbody></table>
<table class="totals">
<tr><td>Subtotal</td><td class="num">${e(d.subtotal)}</td></tr>
${d.taxLines.map((t) => `<tr><td>${e(t.label)}</td><td class="num">${e(t.amount)}</td></tr>`).join('\n')}
${d.exemption ? `<tr><td>${e(d.exemption)}</td><td class="num">${e(d.taxTotal)}</td></tr>` : ''}
<tr><td>Tax</td><td class="num">${e(d.taxTotal)}</td></tr>
<tr><td><strong>Total ${e(d.currency)}</strong></td><td class="num"><strong>${e(d.total)}</strong></td></tr>
${(d.credits ?? []).map((c) => `<tr><td>Prepaid credit: ${e(c.label)}</td><td class="num">${e(c.amount)}</td></tr>`).join('\n')}
${d.amountDue ? `<tr><td><strong>Amount due ${e(d.currency)}</strong></td><td class="num"><strong>${e(d.amountDue)}</strong></td></tr>` : ''}
</table>
</body></html>
`;
}

// The standard PDF fonts cover Windows-1252: what else a description holds is spelled in it.
const PDF_SAFE: Record<string, string> = {
  '−': '-',
  '→': '->',
  '≠': '!=',
  '≤': '<=',
  '≥': '>=',
  '\u00a0': ' ',
  '\u202f': ' ',
};
const pdfText = (v: string) =>
  [...v]
    .map((c) => PDF_SAFE[c] ?? (/[\u0020-\u007e\u00a1-\u00ff€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ\n]/.test(c) ? c : '?'))
    .join('');

export function renderPdf(d: DocumentModel): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: 'A4',
      margin: 48,
      info: { Title: `${d.title} ${d.number}`, Author: d.seller.name, Subject: `${d.title} for ${d.buyer.name}` },
    });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    const t = (s: string) => pdfText(s);
    const left = 48;
    const width = doc.page.width - 96;

    doc
      .font('Helvetica-Bold')
      .fontSize(18)
      .text(t(`${d.title} ${d.number}`), left, 48);
    if (d.voided) doc.fillColor('#a3171c').fontSize(11).text(t(d.voided)).fillColor('black');
    doc.font('Helvetica').fontSize(10).moveDown(0.5);
    doc.text(t(`Issue date: ${d.issueDate}`));
    doc.text(t(`Billing period: ${d.period}`));
    if (d.corrects) doc.text(t(`Corrects invoice: ${d.corrects}`));
    doc.text(t(`Payment reference: ${d.paymentReference}`));
    doc.moveDown();
    const top = doc.y;
    const party = (label: string, p: Party, x: number) => {
      doc.font('Helvetica-Bold').text(t(label), x, top, { width: width / 2 - 12 });
      doc.font('Helvetica').text(t(`${p.name} (${p.reference})`), { width: width / 2 - 12 });
      for (const line of p.address) doc.text(t(line), { width: width / 2 - 12 });
      if (p.taxId) doc.text(t(`Tax id: ${p.taxId}`), { width: width / 2 - 12 });
      return doc.y;
    };
    const bottom = Math.max(party('From', d.seller, left), party('Bill to', d.buyer, left + width / 2));
    doc.y = bottom + 16;

    // Columns: description (with service period and tax) | quantity | unit price | amount.
    const cols = [
      { x: left, w: width * 0.46 },
      { x: left + width * 0.46, w: width * 0.18 },
      { x: left + width * 0.64, w: width * 0.18 },
      { x: left + width * 0.82, w: width * 0.18 },
    ];
    const row = (cells: string[], bold = false) => {
      const y = doc.y;
      doc.font(bold ? 'Helvetica-Bold' : 'Helvetica');
      let end = y;
      cells.forEach((cell, i) => {
        doc.text(t(cell), cols[i]!.x, y, { width: cols[i]!.w - 6, align: i === 0 ? 'left' : 'right' });
        end = Math.max(end, doc.y);
      });
      doc.y = end + 4;
      if (doc.y > doc.page.height - 96) doc.addPage();
    };
    row(['Description', 'Quantity', 'Unit price', 'Amount'], true);
    for (const l of d.lines) {
      row([
        `${l.no}. ${l.description}\nService period ${l.servicePeriod}${l.tax ? `\nTax ${l.tax}` : ''}`,
        l.quantity,
        l.unitPrice,
        l.amount,
      ]);
    }
    doc.moveDown();
    const total = (label: string, amount: string, bold = false) => {
      const y = doc.y;
      doc.font(bold ? 'Helvetica-Bold' : 'Helvetica');
      doc.text(t(label), left, y, { width: width * 0.78 });
      const end = doc.y;
      doc.text(t(amount), cols[3]!.x, y, { width: cols[3]!.w - 6, align: 'right' });
      doc.y = Math.max(end, doc.y) + 2;
    };
    total('Subtotal', d.subtotal);
    for (const tl of d.taxLines) total(tl.label, tl.amount);
    if (d.exemption) total(d.exemption, d.taxTotal);
    total('Tax', d.taxTotal);
    total(`Total ${d.currency}`, d.total, true);
    for (const c of d.credits ?? []) total(`Prepaid credit: ${c.label}`, c.amount);
    if (d.amountDue) total(`Amount due ${d.currency}`, d.amountDue, true);
    doc.end();
  });
}

/** GET /documents/invoices/<id>.pdf|html and /documents/notes/<id>.pdf|html, for the gateway. */
export function documentRoutes(app: express.Express, store: InvoicesStore): void {
  app.get('/documents/:collection/:file', async (req, res, next) => {
    try {
      const { collection, file } = req.params as { collection: string; file: string };
      const m = /^([A-Za-z0-9_-]{1,80})\.(pdf|html)$/.exec(file);
      if ((collection !== 'invoices' && collection !== 'notes') || !m) {
        res.status(404).json({
          errors: [
            {
              message: 'no such document',
              extensions: { code: 'NOT_FOUND', expected: '/documents/invoices|notes/<id>.pdf|html' },
            },
          ],
        });
        return;
      }
      const [, id, format] = m as unknown as [string, string, 'pdf' | 'html'];
      let model: DocumentModel | null = null;
      if (collection === 'invoices') {
        const invoice = await store.invoices.findOne({ _id: id });
        if (invoice) {
          const consumption = await applyPrepaidCredits(store, invoice);
          const lines = await creditLinesOf(store, consumption);
          const due = fromMinorUnits(
            toMinorUnits(invoice.total) - toMinorUnits(creditAppliedOf(invoice, consumption)),
            invoice.currency,
          );
          model = await invoiceDocument(invoice, {
            lines: lines.map((l) => ({ description: l.grant.description, amount: l.amount })),
            due,
          });
        }
      } else {
        const note = await store.notes.findOne({ _id: id });
        if (note) model = await noteDocument(note);
      }
      if (!model) {
        res.status(404).json({
          errors: [
            {
              message: `${collection === 'invoices' ? 'finalized invoice' : 'note'} "${id}" does not exist (a draft has no document)`,
              extensions: { code: 'NOT_FOUND', field: 'id' },
            },
          ],
        });
        return;
      }
      const filename = `${model.number}.${format}`;
      if (format === 'html') {
        res.type('text/html; charset=utf-8').setHeader('content-disposition', `inline; filename="${filename}"`);
        res.send(renderHtml(model));
      } else {
        res.type('application/pdf').setHeader('content-disposition', `inline; filename="${filename}"`);
        res.send(await renderPdf(model));
      }
    } catch (error) {
      next(error);
    }
  });
}
