// The erp-postings subgraph: origin of ErpPosting; contributes erpPostings to Invoice.
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import { actingSubject, type BaseContext, type SubgraphDefinition } from '../../lib/subgraph-server';
import type { Resolvers } from './generated/resolvers-types';
import { loaderByField, loaderOfMany } from '../../lib/loaders';
import { fromMinorUnits } from '../../lib/money';
import { pageBy, pageById, withCount } from '../../lib/pagination';
import { accountingPeriod, closeAccountingPeriod, reopenAccountingPeriod } from './accounting-periods';
import { connectorFromEnvironment, type ErpConnector } from './connectors';
import { deliveryPolicyFromEnvironment, startPostingWorker, type DeliveryPolicy } from './deliver-posting';
import { totals } from './journal';
import { postInvoice } from './post-invoice';
import { replayErpPosting } from './replay-posting';
import { reconciliationOf, signOffReconciliation } from './reconcile-period';
import { indexes, postingsStore, type ErpPostingDoc, type PostingsStore } from './store';
import type { Logger } from '../../lib/logger';

interface Services {
  store: PostingsStore;
  connector: ErpConnector;
  policy: DeliveryPolicy;
  log: Logger;
}

export interface Context extends BaseContext, Services {
  postings: DataLoader<string, ErpPostingDoc | null>;
  postingsOfInvoice: DataLoader<string, ErpPostingDoc[]>;
}

export const erpPostingsSubgraph: SubgraphDefinition<Services, Context, Resolvers> = {
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
      erpPosting: (_, { id }, ctx) => ctx.postings.load(id),
      erpPostings: async (_, args, ctx) => {
        const filter: Filter<ErpPostingDoc> = args.status ? { status: args.status } : {};
        return withCount(
          await pageById(ctx.store.postings, filter, args.first, args.after),
          ctx.store.postings,
          args.status ? filter : null,
        );
      },
      accountingPeriod: (_, { key }, ctx) => accountingPeriod(ctx.store, key),
      accountingPeriods: async (_, args, ctx) => {
        // Newest first; the table holds at most one row per month ever closed, so counting it is cheap.
        const page = await pageBy(ctx.store.periods, {}, [['_id', -1]], args.first, args.after);
        return {
          ...page,
          nodes: page.nodes.map((p) => ({ key: p._id, status: p.status, changedAt: p.changedAt })),
          totalCount: () => ctx.store.periods.countDocuments({}),
        };
      },
      erpConnection: (_, __, ctx) => ({
        system: ctx.connector.system,
        location: ctx.connector.location,
      }),
      reconciliation: (_, args, ctx) =>
        reconciliationOf(ctx.store, ctx.connector, args.period, args.legalEntityCode ?? null),
    },
    Mutation: {
      postInvoice: (_, { invoiceId }, ctx) =>
        postInvoice(ctx.store, ctx.connector, ctx.policy, invoiceId, ctx.correlationId, ctx.log),
      replayErpPosting: (_, { id }, ctx) => replayErpPosting(ctx.store, ctx.connector, ctx.policy, id, ctx.log),
      closeAccountingPeriod: (_, { key }, ctx) => closeAccountingPeriod(ctx.store, key),
      reopenAccountingPeriod: (_, { key }, ctx) => reopenAccountingPeriod(ctx.store, key),
      signOffReconciliation: (_, args, ctx) =>
        signOffReconciliation(
          ctx.store,
          ctx.connector,
          args.period,
          args.legalEntityCode ?? null,
          actingSubject(ctx),
          ctx.correlationId,
        ),
    },
    PeriodReconciliation: {
      status: (r) => (r.reconciled ? 'RECONCILED' : 'UNRECONCILED'),
      ledger: (r) => ({ system: r.ledgerSystem, location: r.ledgerLocation }),
      signOff: (r) => (r.signOff ? { ...r.signOff, current: r.signOff.digest === r.digest } : null),
    },
    ErpPosting: {
      __resolveReference: (ref, ctx) => ctx.postings.load(ref.id),
      id: (p) => p._id,
      invoice: (p) => ({ id: p.invoiceId }),
      journalEntry: (p) => p.entry,
    },
    JournalEntry: {
      totalDebits: (e) => fromMinorUnits(totals(e).debits, e.currency),
      totalCredits: (e) => fromMinorUnits(totals(e).credits, e.currency),
    },
    JournalLine: {
      invoiceLines: (l) => l.invoiceLineIds.map((id) => ({ id })),
    },
    Invoice: {
      __resolveReference: (ref) => ref,
      erpPostings: (i, _, ctx) => ctx.postingsOfInvoice.load(i.id),
    },
  },
};
