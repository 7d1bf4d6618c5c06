// The invoices subgraph: origin of Invoice and InvoiceLine; contributes invoices to Customer and lines to RatedCharge.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
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

interface Context extends BaseContext {
  store: InvoicesStore;
  invoices: DataLoader<string, InvoiceDoc | null>;
  invoicesBillingCharge: DataLoader<string, InvoiceDoc[]>;
}

/** A line as resolvers see it: the stored line plus the invoice it belongs to. */
interface LineView extends InvoiceLineDoc {
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

interface InvoiceFilter {
  customerId?: string | null;
  subscriptionId?: string | null;
  period?: string | null;
  status?: InvoiceDoc['status'] | null;
}

export const invoicesSubgraph: SubgraphDefinition<InvoicesStore, Context> = {
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
      invoice: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.invoices.load(id),
      invoiceByNumber: (_: unknown, { number }: { number: string }, ctx: Context) =>
        ctx.store.invoices.findOne({ number }),
      invoices: (_: unknown, args: { filter?: InvoiceFilter; first?: number; after?: string }, ctx: Context) => {
        const q: Filter<InvoiceDoc> = {};
        if (args.filter?.customerId) q.customerId = args.filter.customerId;
        if (args.filter?.subscriptionId) q.subscriptionId = args.filter.subscriptionId;
        if (args.filter?.period) q.periodKey = parsePeriod(args.filter.period, 'filter.period').key;
        if (args.filter?.status) q.status = args.filter.status;
        return pageInvoices(ctx.store, q, args.first, args.after);
      },
      invoiceLine: (_: unknown, { id }: { id: string }, ctx: Context) => loadLine(ctx, id),
      invoicesForSubscriptions: (
        _: unknown,
        args: { period: string; subscriptionIds: string[]; status?: InvoiceDoc['status'] },
        ctx: Context,
      ) =>
        findInvoices(ctx.store, {
          periodKey: parsePeriod(args.period).key,
          subscriptionId: { $in: args.subscriptionIds },
          ...(args.status ? { status: args.status } : {}),
        }),
    },
    Mutation: {
      generateInvoice: (_: unknown, args: { subscriptionId: string; period: string }, ctx: Context) =>
        generateInvoice(ctx.store, args.subscriptionId, args.period, ctx.correlationId),
      finalizeInvoice: (_: unknown, { invoiceId }: { invoiceId: string }, ctx: Context) =>
        finalizeInvoice(ctx.store, invoiceId),
    },
    Invoice: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.invoices.load(ref.id),
      id: (i: InvoiceDoc) => i._id,
      customer: (i: InvoiceDoc) => ({ id: i.customerId }),
      subscription: (i: InvoiceDoc) => ({ id: i.subscriptionId }),
      period: (i: InvoiceDoc) => parsePeriod(i.periodKey),
      lines: (i: InvoiceDoc) => i.lines.map((l) => withInvoice(i, l)),
    },
    InvoiceLine: {
      __resolveReference: (ref: { id: string }, ctx: Context) => loadLine(ctx, ref.id),
      ratedCharge: (l: LineView) => ({ id: l.ratedChargeId }),
      kind: (l: LineView) => l.kind ?? 'USAGE',
      correlationId: (l: LineView) => l.invoice.correlationId,
    },
    Customer: {
      __resolveReference: (ref: { id: string }) => ref,
      invoices: (c: { id: string }, args: { first?: number; after?: string }, ctx: Context) =>
        pageInvoices(ctx.store, { customerId: c.id }, args.first, args.after, NEWEST_PERIOD_FIRST),
    },
    RatedCharge: {
      __resolveReference: (ref: { id: string }) => ref,
      invoiceLines: async (c: { id: string }, _: unknown, ctx: Context) =>
        (await ctx.invoicesBillingCharge.load(c.id)).flatMap((inv) =>
          inv.lines.filter((l) => l.ratedChargeId === c.id).map((l) => withInvoice(inv, l)),
        ),
    },
  },
};
