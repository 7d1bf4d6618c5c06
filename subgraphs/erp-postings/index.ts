// The erp-postings subgraph: origin of ErpPosting; contributes erpPostings to Invoice.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import type { BaseContext, SubgraphDefinition } from '../../lib/subgraph-server';
import { loaderByField, loaderOfMany } from '../../lib/loaders';
import { fromMinorUnits } from '../../lib/money';
import { pageBy, pageById, withCount } from '../../lib/pagination';
import { accountingPeriod, closeAccountingPeriod, reopenAccountingPeriod } from './accounting-periods';
import { connectorFromEnvironment, type ErpConnector } from './connectors';
import { deliveryPolicyFromEnvironment, startPostingWorker, type DeliveryPolicy } from './deliver-posting';
import { totals, type JournalEntry, type JournalLine } from './journal';
import { postInvoice } from './post-invoice';
import { replayErpPosting } from './replay-posting';
import { indexes, postingsStore, type ErpPostingDoc, type PostingStatus, type PostingsStore } from './store';
import type { Logger } from '../../lib/logger';

interface Services {
  store: PostingsStore;
  connector: ErpConnector;
  policy: DeliveryPolicy;
  log: Logger;
}

interface Context extends BaseContext, Services {
  postings: DataLoader<string, ErpPostingDoc | null>;
  postingsOfInvoice: DataLoader<string, ErpPostingDoc[]>;
}

export const erpPostingsSubgraph: SubgraphDefinition<Services, Context> = {
  name: 'erp-postings',
  indexes,
  createServices: (db, log) => ({
    store: postingsStore(db),
    connector: connectorFromEnvironment(),
    policy: deliveryPolicyFromEnvironment(),
    log,
  }),
  createContext: (services, base) => ({
    ...base,
    ...services,
    postings: loaderByField(services.store.postings),
    postingsOfInvoice: loaderOfMany(services.store.postings, 'invoiceId'),
  }),
  startBackground: (s, log) => startPostingWorker(s.store, s.connector, s.policy, log),
  resolvers: {
    Query: {
      erpPosting: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.postings.load(id),
      erpPostings: async (
        _: unknown,
        args: { status?: PostingStatus | null; first?: number; after?: string },
        ctx: Context,
      ) => {
        const filter = (args.status ? { status: args.status } : {}) as Filter<ErpPostingDoc>;
        return withCount(
          await pageById(ctx.store.postings, filter, args.first, args.after),
          ctx.store.postings,
          args.status ? filter : null,
        );
      },
      accountingPeriod: (_: unknown, { key }: { key: string }, ctx: Context) => accountingPeriod(ctx.store, key),
      accountingPeriods: async (_: unknown, args: { first?: number; after?: string }, ctx: Context) => {
        // Newest first; the table holds at most one row per month ever closed, so counting it is cheap.
        const page = await pageBy(ctx.store.periods, {}, [['_id', -1]], args.first, args.after);
        return {
          ...page,
          nodes: page.nodes.map((p) => ({ key: p._id, status: p.status, changedAt: p.changedAt })),
          totalCount: () => ctx.store.periods.countDocuments({}),
        };
      },
      erpConnection: (_: unknown, __: unknown, ctx: Context) => ({
        system: ctx.connector.system,
        location: ctx.connector.location,
      }),
    },
    Mutation: {
      postInvoice: (_: unknown, { invoiceId }: { invoiceId: string }, ctx: Context) =>
        postInvoice(ctx.store, ctx.connector, ctx.policy, invoiceId, ctx.correlationId, ctx.log),
      replayErpPosting: (_: unknown, { id }: { id: string }, ctx: Context) =>
        replayErpPosting(ctx.store, ctx.connector, ctx.policy, id, ctx.log),
      closeAccountingPeriod: (_: unknown, { key }: { key: string }, ctx: Context) =>
        closeAccountingPeriod(ctx.store, key),
      reopenAccountingPeriod: (_: unknown, { key }: { key: string }, ctx: Context) =>
        reopenAccountingPeriod(ctx.store, key),
    },
    ErpPosting: {
      __resolveReference: (ref: { id: string }, ctx: Context) => ctx.postings.load(ref.id),
      id: (p: ErpPostingDoc) => p._id,
      invoice: (p: ErpPostingDoc) => ({ id: p.invoiceId }),
      journalEntry: (p: ErpPostingDoc) => p.entry,
    },
    JournalEntry: {
      totalDebits: (e: JournalEntry) => fromMinorUnits(totals(e).debits, e.currency),
      totalCredits: (e: JournalEntry) => fromMinorUnits(totals(e).credits, e.currency),
    },
    JournalLine: {
      invoiceLines: (l: JournalLine) => l.invoiceLineIds.map((id) => ({ id })),
    },
    Invoice: {
      __resolveReference: (ref: { id: string }) => ref,
      erpPostings: (i: { id: string }, _: unknown, ctx: Context) => ctx.postingsOfInvoice.load(i.id),
    },
  },
};
