// The invoices subgraph: origin of Invoice and InvoiceLine; contributes invoices to Customer and lines to RatedCharge.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import type { Resolvers } from './generated/resolvers-types';
import type { SortOrder } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import { finalizeInvoice } from './finalize-invoice';
import { generateInvoice } from './generate-invoice';
import {
  findInvoices,
  indexes,
  invoiceIdOfLine,
  invoiceLoader,
  invoicesByLoader,
  invoicesStore,
  pageInvoices,
  type InvoiceDoc,
  type InvoiceLineDoc,
  type InvoicesStore,
} from './store';

export interface Context extends BaseContext {
  store: InvoicesStore;
  invoices: DataLoader<string, InvoiceDoc | null>;
  invoicesBillingCharge: DataLoader<string, InvoiceDoc[]>;
}

/** A line as resolvers see it: the stored line plus the invoice it belongs to. */
export interface LineView extends InvoiceLineDoc {
  invoice: InvoiceDoc;
}

/** A customer's invoices: newest period first, then by id (the {customerId, periodKey} index serves it). */
const NEWEST_PERIOD_FIRST: SortOrder = [
  ['periodKey', -1],
  ['_id', 1],
];

const withInvoice = (invoice: InvoiceDoc, line: InvoiceLineDoc): LineView => ({ ...line, invoice });

async function loadLine(ctx: Context, id: string): Promise<LineView | null> {
  const invoice = await ctx.invoices.load(invoiceIdOfLine(id));
  const line = invoice?.lines.find((l) => l.id === id);
  return invoice && line ? withInvoice(invoice, line) : null;
}

export const invoicesSubgraph: SubgraphDefinition<InvoicesStore, Context, Resolvers> = {
  name: 'invoices',
  indexes,
  createServices: (db) => invoicesStore(db),
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
  }),
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
        return pageInvoices(ctx.store, q, args.first, args.after);
      },
      invoiceLine: (_, { id }, ctx) => loadLine(ctx, id),
      invoicesForSubscriptions: (_, args, ctx) =>
        findInvoices(ctx.store, {
          periodKey: parsePeriod(args.period).key,
          subscriptionId: { $in: args.subscriptionIds },
          ...(args.status ? { status: args.status } : {}),
        }),
    },
    Mutation: {
      generateInvoice: (_, args, ctx) =>
        generateInvoice(ctx.store, args.subscriptionId, args.period, ctx.correlationId),
      finalizeInvoice: (_, { invoiceId }, ctx) => finalizeInvoice(ctx.store, invoiceId),
    },
    Invoice: {
      __resolveReference: (ref, ctx) => ctx.invoices.load(ref.id),
      id: (i) => i._id,
      customer: (i) => ({ id: i.customerId }),
      subscription: (i) => ({ id: i.subscriptionId }),
      period: (i) => parsePeriod(i.periodKey),
      lines: (i) => i.lines.map((l) => withInvoice(i, l)),
    },
    InvoiceLine: {
      __resolveReference: (ref, ctx) => loadLine(ctx, ref.id),
      ratedCharge: (l) => ({ id: l.ratedChargeId }),
      kind: (l) => l.kind ?? 'USAGE',
      correlationId: (l) => l.invoice.correlationId,
    },
    Customer: {
      __resolveReference: (ref) => ref,
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
