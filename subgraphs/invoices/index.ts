// The invoices subgraph: origin of Invoice, InvoiceLine, credit and debit notes, the tax table and the open
// differences found by re-rating; contributes invoices to Customer and lines to RatedCharge.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import { actingSubject, type BaseContext, type SubgraphDefinition } from '../../lib/subgraph-server';
import type { Resolvers } from './generated/resolvers-types';
import { loaderByField, loaderOfMany } from '../../lib/loaders';
import { pageBy, withCount, type SortOrder } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { fromMinorUnits, sumMoney, toMinorUnits, zero } from '../../lib/money';
import { finalizeInvoice } from './finalize-invoice';
import {
  applyPrepaidCredits,
  creditAppliedOf,
  creditLinesOf,
  expireDueCredits,
  grantPrepaidCredits,
  grantsOf,
  setLowBalanceThreshold,
  walletBalance,
  walletIdOf,
  walletView,
} from './credit-wallets';
import { finalizeInvoices } from './finalize-invoices';
import { generateInvoice } from './generate-invoice';
import { issueNotesForInvoices } from './issue-notes';
import { creditorReference } from './payment-reference';
import { issueByPolicy, reconcileRatedCharges } from './reconcile-rated-charges';
import { setTaxRate } from './tax-rates';
import { voidInvoice } from './void-invoice';
import { startCreditExpiryWorker } from './credit-expiry';
import { issueProgressiveInvoices, type CrossingInput } from './progressive-invoices';
import { settleAdjustmentException } from './work-queue-exceptions';
import { documentRoutes, documentLinks } from './documents';
import {
  amountsOf,
  findInvoices,
  indexes,
  invoiceIdOfLine,
  invoiceLoader,
  invoicesByLoader,
  invoicesStore,
  pageInvoices,
  type AdjustmentDoc,
  type InvoiceDoc,
  type InvoiceLineDoc,
  type InvoicesStore,
  type NoteDoc,
  type NoteLineDoc,
} from './store';

export interface Context extends BaseContext {
  store: InvoicesStore;
  invoices: DataLoader<string, InvoiceDoc | null>;
  invoicesBillingCharge: DataLoader<string, InvoiceDoc[]>;
  notes: DataLoader<string, NoteDoc | null>;
  notesOfInvoice: DataLoader<string, NoteDoc[]>;
  adjustments: DataLoader<string, AdjustmentDoc | null>;
}

/** A line as resolvers see it: the stored line plus the invoice it belongs to. */
export interface LineView extends InvoiceLineDoc {
  invoice: InvoiceDoc;
}

/** A note line as resolvers see it: the stored line plus its note. */
export interface NoteLineView extends NoteLineDoc {
  note: NoteDoc;
}

/** A customer's invoices: newest period first, then by id (the {customerId, periodKey} index serves it). */
const NEWEST_PERIOD_FIRST: SortOrder = [
  ['periodKey', -1],
  ['_id', 1],
];
const OLDEST_FIRST: SortOrder = [
  ['createdAt', 1],
  ['_id', 1],
];
const NEWEST_ISSUED_FIRST: SortOrder = [
  ['issuedAt', -1],
  ['_id', 1],
];

const withInvoice = (invoice: InvoiceDoc, line: InvoiceLineDoc): LineView => ({ ...line, invoice });

async function loadLine(ctx: Context, id: string): Promise<LineView | null> {
  const invoice = await ctx.invoices.load(invoiceIdOfLine(id));
  const line = invoice?.lines.find((l) => l.id === id);
  return invoice && line ? withInvoice(invoice, line) : null;
}

const servicePeriodOf = (invoice: InvoiceDoc, line: InvoiceLineDoc) =>
  line.servicePeriod ?? { from: parsePeriod(invoice.periodKey).start, to: parsePeriod(invoice.periodKey).end };

export const invoicesSubgraph: SubgraphDefinition<InvoicesStore, Context, Resolvers> = {
  name: 'invoices',
  indexes,
  createServices: (db) => invoicesStore(db),
  startBackground: (store, log) => startCreditExpiryWorker(store, log),
  createContext: (store, base) => ({
    ...base,
    store,
    invoices: invoiceLoader(store),
    invoicesBillingCharge: invoicesByLoader(
      store,
      'lines.ratedChargeId',
      (inv) => inv.lines.map((l) => l.ratedChargeId),
      { _id: 1 },
    ),
    notes: loaderByField(store.notes),
    notesOfInvoice: loaderOfMany(store.notes, 'invoiceId', { sequence: 1 }),
    adjustments: loaderByField(store.adjustments),
  }),
  routes: (app, store) => documentRoutes(app, store),
  resolvers: {
    Query: {
      invoice: (_, { id }, ctx) => ctx.invoices.load(id),
      invoiceByNumber: (_, { number }, ctx) => ctx.store.invoices.findOne({ number }),
      invoices: (_, args, ctx) => {
        const q: Filter<InvoiceDoc> = {};
        if (args.filter?.customerId) q.customerId = args.filter.customerId;
        if (args.filter?.subscriptionId) q.subscriptionId = args.filter.subscriptionId;
        if (args.filter?.period) q.periodKey = parsePeriod(args.filter.period, 'filter.period').key;
        if (args.filter?.status) q.status = args.filter.status;
        if (args.filter?.legalEntityCode) q.legalEntityCode = args.filter.legalEntityCode;
        return pageInvoices(ctx.store, q, args.first, args.after);
      },
      invoiceLine: (_, { id }, ctx) => loadLine(ctx, id),
      invoicesForSubscriptions: (_, args, ctx) =>
        findInvoices(ctx.store, {
          periodKey: parsePeriod(args.period).key,
          subscriptionId: { $in: args.subscriptionIds },
          ...(args.status ? { status: args.status } : {}),
        }),
      taxRates: (_, args, ctx) =>
        pageBy(
          ctx.store.taxRates,
          args.jurisdiction ? { jurisdiction: args.jurisdiction } : {},
          [
            ['jurisdiction', 1],
            ['productLine', 1],
            ['effectiveFrom', 1],
          ],
          args.first,
          args.after,
        ),
      ratingAdjustments: async (_, args, ctx) => {
        const q: Filter<AdjustmentDoc> = {};
        if (args.subscriptionId) q.subscriptionId = args.subscriptionId;
        if (args.period) q.periodKey = parsePeriod(args.period).key;
        if (args.invoiceId) q.invoiceId = args.invoiceId;
        if (args.status) q.status = args.status;
        return withCount(
          await pageBy(ctx.store.adjustments, q, OLDEST_FIRST, args.first, args.after),
          ctx.store.adjustments,
          args.subscriptionId || args.invoiceId ? q : null,
        );
      },
      prepaidCreditWallet: (_, { customerId, currency }, ctx) => walletView(ctx.store, customerId, currency),
      prepaidCreditMovement: (_, { id }, ctx) => ctx.store.creditMovements.findOne({ _id: id }),
      note: (_, { id }, ctx) => ctx.notes.load(id),
      noteByNumber: (_, { number }, ctx) => ctx.store.notes.findOne({ number }),
      notes: (_, args, ctx) => {
        const q: Filter<NoteDoc> = {};
        if (args.filter?.invoiceId) q.invoiceId = args.filter.invoiceId;
        if (args.filter?.customerId) q.customerId = args.filter.customerId;
        if (args.filter?.legalEntityCode) q.legalEntityCode = args.filter.legalEntityCode;
        if (args.filter?.kind) q.kind = args.filter.kind;
        return pageBy(ctx.store.notes, q, NEWEST_ISSUED_FIRST, args.first, args.after);
      },
    },
    Mutation: {
      generateInvoice: (_, args, ctx) =>
        generateInvoice(ctx.store, args.subscriptionId, args.period, ctx.correlationId),
      finalizeInvoice: (_, { invoiceId }, ctx) => finalizeInvoice(ctx.store, invoiceId),
      finalizeInvoices: (_, { invoiceIds }, ctx) => finalizeInvoices(ctx.store, invoiceIds, ctx.log),
      voidInvoice: async (_, args, ctx) => {
        const voided = await voidInvoice(ctx.store, args.invoiceId, args.reason, actingSubject(ctx));
        // Its open differences went with it: the queue's item for them resolves, saying so.
        await settleAdjustmentException(ctx.store, args.invoiceId, ctx.log, {
          action: 'INVOICE_VOIDED',
          by: actingSubject(ctx),
          detail: `invoice ${voided.number ?? args.invoiceId} voided: ${args.reason.trim()}`,
        });
        return voided;
      },
      grantPrepaidCredits: async (_, { input }, ctx) =>
        (
          await grantPrepaidCredits(ctx.store, input, {
            recordedBy: actingSubject(ctx),
            correlationId: ctx.correlationId,
          })
        ).movement,
      setPrepaidCreditThreshold: (_, args, ctx) =>
        setLowBalanceThreshold(
          ctx.store,
          args.customerId,
          args.currency,
          args.lowBalanceThreshold ?? null,
          actingSubject(ctx),
        ),
      expirePrepaidCredits: async (_, { customerId, currency }, ctx) => {
        const wallet = { id: walletIdOf(customerId, currency), customerId, currency };
        await expireDueCredits(ctx.store, wallet, new Date(), {
          recordedBy: actingSubject(ctx),
          correlationId: ctx.correlationId,
        });
        return walletView(ctx.store, customerId, currency);
      },
      issueNotes: (_, { invoiceIds }, ctx) =>
        issueNotesForInvoices(ctx.store, invoiceIds, {
          issuedBy: actingSubject(ctx),
          correlationId: ctx.correlationId,
          log: ctx.log,
        }),
      setTaxRate: (_, { input }, ctx) => setTaxRate(ctx.store, input, actingSubject(ctx), ctx.correlationId),
      issueProgressiveInvoices: (_, args, ctx) =>
        issueProgressiveInvoices(
          ctx.store,
          args.period,
          args.subscriptionId,
          args.crossings as unknown as CrossingInput[],
          ctx.correlationId,
        ),
      reconcileRatedCharges: (_, args, ctx) =>
        reconcileRatedCharges(ctx.store, args.period, args.subscriptions, ctx.correlationId, ctx.log),
      issueNotesByPolicy: async (_, args, ctx) => {
        const open = await ctx.store.adjustments
          .find({ status: 'OPEN', ...(args.legalEntityCode ? { legalEntityCode: args.legalEntityCode } : {}) })
          .toArray();
        const invoices = await ctx.store.invoices
          .find({ _id: { $in: [...new Set(open.map((a) => a.invoiceId))] }, status: 'FINALIZED' })
          .toArray();
        return issueByPolicy(ctx.store, invoices, args.trigger, ctx.correlationId, ctx.log);
      },
    },
    Invoice: {
      __resolveReference: (ref, ctx) => ctx.invoices.load(ref.id),
      id: (i) => i._id,
      customer: (i) => ({ id: i.customerId }),
      subscription: (i) => ({ id: i.subscriptionId }),
      period: (i) => parsePeriod(i.periodKey),
      lines: (i) => i.lines.map((l) => withInvoice(i, l)),
      subtotal: (i) => amountsOf(i).subtotal,
      taxLines: (i) => amountsOf(i).taxLines,
      taxTotal: (i) => amountsOf(i).taxTotal,
      taxJurisdiction: (i) => i.tax?.jurisdiction ?? null,
      taxExemption: (i) => i.tax?.exemption ?? null,
      taxDate: (i) => i.tax?.taxDate ?? i.periodKey,
      taxEngine: (i) => i.tax?.engine ?? 'none',
      paymentReference: (i) => (i.number ? creditorReference(i.number) : null),
      // Applying on read completes a finalization cut short before its credit was applied (a no-op otherwise).
      prepaidCreditApplied: async (i, _, ctx) => creditAppliedOf(i, await applyPrepaidCredits(ctx.store, i)),
      amountDue: async (i, _, ctx) =>
        fromMinorUnits(
          toMinorUnits(i.total) - toMinorUnits(creditAppliedOf(i, await applyPrepaidCredits(ctx.store, i))),
          i.currency,
        ),
      prepaidCreditLines: async (i, _, ctx) => creditLinesOf(ctx.store, await applyPrepaidCredits(ctx.store, i)),
      notes: (i, _, ctx) => ctx.notesOfInvoice.load(i._id),
      openAdjustments: async (i, _, ctx) =>
        (await ctx.store.adjustments.find({ invoiceId: i._id, status: 'OPEN' }).toArray()).sort((a, b) =>
          a.lineKey.localeCompare(b.lineKey),
        ),
      documents: (i) => (i.status === 'DRAFT' ? null : documentLinks('invoices', i._id)),
      voidedAt: (i) => i.voidedAt ?? null,
      voidReason: (i) => i.voidReason ?? null,
      replaces: (i, _, ctx) => (i.replacesInvoiceId ? ctx.invoices.load(i.replacesInvoiceId) : null),
      replacedBy: (i, _, ctx) =>
        i.status === 'VOIDED' && i.replacedByInvoiceId ? ctx.invoices.load(i.replacedByInvoiceId) : null,
      kind: (i) => i.kind ?? 'FINAL',
      alreadyBilled: (i) => i.alreadyBilled ?? zero(i.currency),
      usageThreshold: (i) => i.usageThreshold ?? null,
    },
    InvoiceLine: {
      __resolveReference: (ref, ctx) => loadLine(ctx, ref.id),
      ratedCharge: (l) => ({ id: l.ratedChargeId }),
      alreadyBilledOn: (l, _, ctx) => (l.alreadyBilledInvoiceId ? ctx.invoices.load(l.alreadyBilledInvoiceId) : null),
      kind: (l) => l.kind ?? 'USAGE',
      correlationId: (l) => l.invoice.correlationId,
      lineKey: (l) => l.lineKey ?? l.usageTypeKey ?? l.ratedChargeId,
      servicePeriodStart: (l) => servicePeriodOf(l.invoice, l).from,
      servicePeriodEnd: (l) => servicePeriodOf(l.invoice, l).to,
      taxes: (l) => l.taxes ?? [],
      taxAmount: (l) =>
        sumMoney(
          (l.taxes ?? []).map((t) => t.amount),
          l.amount.currency,
        ),
    },
    TaxLine: {
      taxableAmount: (t) => t.taxable,
    },
    TaxRate: {
      id: (r) => r._id,
    },
    RatingAdjustment: {
      __resolveReference: (ref, ctx) => ctx.adjustments.load(ref.id),
      id: (a) => a._id,
      subscription: (a) => ({ id: a.subscriptionId }),
      customer: (a) => ({ id: a.customerId }),
      period: (a) => parsePeriod(a.periodKey),
      invoice: async (a, _, ctx) => (await ctx.invoices.load(a.invoiceId))!,
      invoiceLine: (a, _, ctx) => (a.invoiceLineId ? loadLine(ctx, a.invoiceLineId) : null),
      invoicedCharge: (a) => (a.invoicedRatedChargeId ? { id: a.invoicedRatedChargeId } : null),
      currentCharge: (a) => (a.currentRatedChargeId ? { id: a.currentRatedChargeId } : null),
      invoicedAmount: (a) => a.invoiced,
      currentAmount: (a) => a.current,
      correctedAmount: (a) => a.corrected,
      supersededBy: (a, _, ctx) => (a.supersededBy ? ctx.adjustments.load(a.supersededBy) : null),
      note: (a, _, ctx) => (a.noteId ? ctx.notes.load(a.noteId) : null),
    },
    InvoiceNote: {
      __resolveReference: (ref, ctx) => ctx.notes.load(ref.id),
      id: (n) => n._id,
      invoice: async (n, _, ctx) => (await ctx.invoices.load(n.invoiceId))!,
      customer: (n) => ({ id: n.customerId }),
      period: (n) => parsePeriod(n.periodKey),
      lines: (n) => n.lines.map((l) => ({ ...l, note: n })),
      paymentReference: (n) => creditorReference(n.number),
      documents: (n) => documentLinks('notes', n._id),
    },
    InvoiceNoteLine: {
      invoiceLine: (l, _, ctx) => (l.invoiceLineId ? loadLine(ctx, l.invoiceLineId) : null),
      servicePeriodStart: (l) => l.servicePeriod.from,
      servicePeriodEnd: (l) => l.servicePeriod.to,
      adjustment: async (l, _, ctx) => (await ctx.adjustments.load(l.adjustmentId))!,
    },
    NoteIssue: {
      notes: (r) => r.notes,
    },
    PrepaidCreditWallet: {
      customer: (w) => ({ id: w.customerId }),
      balance: (w) => walletBalance(w),
      lowBalanceThreshold: (w) => w.settings?.lowBalanceThreshold ?? null,
      grants: (w) => grantsOf(w),
      movements: (w, args, ctx) =>
        pageBy(
          ctx.store.creditMovements,
          { walletId: w.id },
          [
            ['sequence', 1],
            ['_id', 1],
          ],
          args.first,
          args.after,
        ),
    },
    PrepaidCreditGrant: {
      id: (g) => g.grantId,
      amount: (g) => fromMinorUnits(g.granted, g.currency),
      remaining: (g) => fromMinorUnits(g.remaining, g.currency),
      expired: (g) => g.expiresAt !== null && g.expiresAt.getTime() <= g.asOf.getTime(),
    },
    PrepaidCreditMovement: {
      id: (m) => m._id,
      invoice: (m, _, ctx) => (m.invoiceId ? ctx.invoices.load(m.invoiceId) : null),
      customer: (m) => ({ id: m.customerId }),
      wallet: (m, _, ctx) => walletView(ctx.store, m.customerId, m.currency),
      grant: async (m, _, ctx) =>
        m.kind === 'CONSUMPTION' || m.kind === 'RESTORE'
          ? null
          : (grantsOf(await walletView(ctx.store, m.customerId, m.currency)).find(
              (g) => g.grantId === m.allocations[0]?.grantId,
            ) ?? null),
      allocations: (m) => m.allocations.map((a) => ({ ...a, currency: m.currency })),
    },
    PrepaidCreditAllocation: {
      amount: (a) => fromMinorUnits(BigInt(a.minor), a.currency),
    },
    PrepaidCreditLine: {
      description: (l) => l.grant.description,
    },
    Customer: {
      __resolveReference: (ref) => ref,
      prepaidCreditWallet: (c, { currency }, ctx) => walletView(ctx.store, c.id, currency),
      invoices: (c, args, ctx) =>
        pageInvoices(ctx.store, { customerId: c.id }, args.first, args.after, NEWEST_PERIOD_FIRST),
    },
    RatedCharge: {
      __resolveReference: (ref) => ref,
      invoiceLines: async (c, _, ctx) =>
        (await ctx.invoicesBillingCharge.load(c.id)).flatMap((inv) =>
          inv.lines.filter((l) => l.ratedChargeId === c.id).map((l) => withInvoice(inv, l)),
        ),
    },
  },
};
