// Use case: draft a subscription's invoice for a period from its current rated charges, taxed by the tax engine.
import { deterministicId } from '../../lib/ids';
import { UserFacingError, notFound } from '../../lib/errors';
import { sumMoney, type RoundingMode } from '../../lib/money';
import { isDuplicateKeyError } from '../../lib/mongo';
import { isoDate, parsePeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import { buildInvoiceLines, type ChargeForInvoice } from './invoice-lines';
import type { InvoiceDoc, InvoiceKind, InvoicesStore, TaxContextDoc } from './store';
import { latestProgressiveInvoice, withAlreadyBilled } from './progressive-invoices';
import type { TaxRoundingLevel } from './tax/compute';
import type { TaxAddress, TaxExemption } from './tax/engine';

/** The first invoice of a subscription period, or its n-th replacement after voids. */
export function invoiceId(subscriptionId: string, periodKey: string, replacement = 0): string {
  return replacement === 0
    ? deterministicId('inv', subscriptionId, periodKey)
    : deterministicId('inv', subscriptionId, periodKey, 'replacement', replacement);
}

/** Which invoice bills a subscription period now: the first one that is not voided, following replacements. */
export async function currentInvoiceOf(
  store: InvoicesStore,
  subscriptionId: string,
  periodKey: string,
): Promise<{ id: string; replacement: number; replaces: string | null; finalized: InvoiceDoc | null }> {
  let replaces: string | null = null;
  for (let replacement = 0; ; replacement++) {
    const id = invoiceId(subscriptionId, periodKey, replacement);
    const finalized = await store.invoices.findOne({ _id: id });
    if (finalized?.status !== 'VOIDED') return { id, replacement, replaces, finalized };
    replaces = id;
  }
}

export interface CustomerForTax {
  id: string;
  currency: string;
  taxJurisdiction: string | null;
  taxId: string | null;
  taxExemption: TaxExemption | null;
  billingAddress: TaxAddress | null;
  legalEntity: { code: string; roundingMode: RoundingMode; taxRounding: TaxRoundingLevel };
}

export const CUSTOMER_FOR_TAX = `id currency taxJurisdiction taxId taxExemption { reason certificateId }
  billingAddress { line1 line2 city postalCode region country }
  legalEntity { code roundingMode taxRounding }`;

/** The tax point of a billing period's invoice: its last day. */
export const taxDateOf = (periodKey: string): string => isoDate(new Date(parsePeriod(periodKey).end.getTime() - 1));

export async function generateInvoice(
  store: InvoicesStore,
  subscriptionId: string,
  periodKey: string,
  correlationId: string,
): Promise<InvoiceDoc> {
  const period = parsePeriod(periodKey);
  const slot = await currentInvoiceOf(store, subscriptionId, period.key);
  if (slot.finalized) return slot.finalized;

  const [customer, { ratedCharges }] = await Promise.all([
    customerOfSubscription(subscriptionId),
    querySubgraph<{ ratedCharges: ChargeForInvoice[] }>(
      'pricing',
      'query($s: ID!, $p: String!) { ratedCharges(subscriptionId: $s, period: $p) { id kind lineKey feeKey explanation usageTypeKey productLine unit quantity billableQuantity includedQuantity unitPrice amount { amount currency } servicePeriodStart servicePeriodEnd } }',
      { s: subscriptionId, p: period.key },
    ),
  ]);
  if (ratedCharges.length === 0) {
    throw new UserFacingError(
      'NOTHING_TO_INVOICE',
      `subscription ${subscriptionId} has no rated charges for ${period.key}`,
      {
        field: 'period',
        expected: 'a period rated first with rateBillingPeriod',
      },
    );
  }
  // The period's final invoice deducts what its progressive invoices already billed.
  const alreadyBilled = await latestProgressiveInvoice(store, subscriptionId, period.key);
  return draftInvoice(store, {
    id: slot.id,
    kind: 'FINAL',
    subscriptionId,
    periodKey: period.key,
    charges: ratedCharges,
    alreadyBilled,
    replacement: slot.replacement,
    replaces: slot.replaces,
    usageThreshold: null,
    correlationId,
    customer,
  });
}

/** The customer a subscription bills, with what its tax needs. */
async function customerOfSubscription(subscriptionId: string): Promise<CustomerForTax> {
  const { subscription } = await querySubgraph<{ subscription: { id: string; customer: CustomerForTax } | null }>(
    'subscriptions',
    `query($id: ID!) { subscription(id: $id) { id customer { ${CUSTOMER_FOR_TAX} } } }`,
    { id: subscriptionId },
  );
  if (!subscription) throw notFound('subscription', 'subscriptionId', subscriptionId);
  return subscription.customer;
}

export interface DraftRequest {
  id: string;
  kind: InvoiceKind;
  subscriptionId: string;
  periodKey: string;
  charges: ChargeForInvoice[];
  /** The latest progressive invoice of the period, whose gross lines this one deducts; null for none. */
  alreadyBilled: InvoiceDoc | null;
  replacement: number;
  replaces: string | null;
  usageThreshold: InvoiceDoc['usageThreshold'] | null;
  correlationId: string;
  /** The subscription's customer when the caller read it already. */
  customer?: CustomerForTax;
}

/** Writes (or refreshes) a draft from charges: lines, tax by the tax engine, and the deduction of what was billed. */
export async function draftInvoice(store: InvoicesStore, request: DraftRequest): Promise<InvoiceDoc> {
  const { id, subscriptionId, periodKey, charges, correlationId } = request;
  const customer = request.customer ?? (await customerOfSubscription(subscriptionId));
  const currency = charges[0]!.amount.currency;
  const { lines } = buildInvoiceLines(id, currency, charges);
  const tax: TaxContextDoc = {
    engine: store.taxEngine.name,
    jurisdiction: customer.taxJurisdiction,
    taxDate: taxDateOf(periodKey),
    exemption: customer.taxExemption,
    address: customer.billingAddress,
    customerTaxId: customer.taxId,
    rounding: { mode: customer.legalEntity.roundingMode, level: customer.legalEntity.taxRounding },
  };
  const taxed = await store.taxEngine.calculate({
    taxDate: tax.taxDate,
    currency,
    customer: {
      id: customer.id,
      jurisdiction: tax.jurisdiction,
      address: tax.address,
      exemption: tax.exemption,
      taxId: tax.customerTaxId,
    },
    lines: lines.map((l) => ({ lineId: l.id, productLine: l.productLine, amount: l.amount })),
    rounding: tax.rounding,
  });
  const taxesOf = new Map(taxed.lines.map((l) => [l.lineId, l.taxes]));
  for (const line of lines) line.taxes = taxesOf.get(line.id) ?? [];
  const billed = withAlreadyBilled(
    id,
    currency,
    lines,
    taxed.taxLines.map(({ lineIds: _ids, ...t }) => t),
    request.alreadyBilled,
  );

  return store.locks.run(id, async () => {
    const [nowFinal, existing] = await Promise.all([
      store.invoices.findOne({ _id: id }),
      store.drafts.findOne({ _id: id }),
    ]);
    if (nowFinal) return nowFinal;
    const now = new Date();
    const draft: InvoiceDoc = {
      _id: id,
      status: 'DRAFT',
      number: null,
      customerId: customer.id,
      subscriptionId,
      legalEntityCode: customer.legalEntity.code,
      periodKey,
      currency,
      lines: billed.lines,
      subtotal: billed.subtotal,
      taxLines: billed.taxLines,
      taxTotal: billed.taxTotal,
      total: sumMoney([billed.subtotal, billed.taxTotal], currency),
      tax,
      issueDate: null,
      finalizedAt: null,
      replacement: request.replacement,
      replacesInvoiceId: request.replaces,
      replacedByInvoiceId: null,
      kind: request.kind,
      alreadyBilled: billed.alreadyBilled,
      alreadyBilledBasisId: request.alreadyBilled?._id ?? null,
      usageThreshold: request.usageThreshold,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      correlationId: existing?.correlationId ?? correlationId,
    };
    if (existing && sameContent(existing, draft)) return existing;
    await store.drafts.replaceOne({ _id: id }, draft, { upsert: true }).catch(async (error) => {
      if (!isDuplicateKeyError(error)) throw error;
      await store.drafts.replaceOne({ _id: id }, draft);
    });
    return draft;
  });
}

/** A refresh that changes nothing (same charges, same tax) keeps the draft as it is. */
function sameContent(a: InvoiceDoc, b: InvoiceDoc): boolean {
  const content = (i: InvoiceDoc) =>
    JSON.stringify([
      i.lines,
      i.taxLines ?? null,
      i.tax ?? null,
      i.legalEntityCode,
      i.customerId,
      i.replacesInvoiceId ?? null,
      i.alreadyBilledBasisId ?? null,
    ]);
  return content(a) === content(b);
}
