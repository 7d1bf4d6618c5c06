// The erp-postings subgraph: origin of ErpPosting, account mappings, accounting periods and the revenue schedule;
// contributes erpPostings to Invoice and InvoiceNote.
import { config } from '../../lib/config';
import type DataLoader from 'dataloader';
import type { Filter } from 'mongodb';
import { actingSubject, type BaseContext, type SubgraphDefinition } from '../../lib/subgraph-server';
import type { Resolvers } from './generated/resolvers-types';
import { loaderByField, loaderOfMany } from '../../lib/loaders';
import { fromMinorUnits } from '../../lib/money';
import { pageBy, pageById, withCount } from '../../lib/pagination';
import { parsePeriod } from '../../lib/period';
import {
  accountingPeriod,
  closeAccountingPeriod,
  periodView,
  postInNextOpenPeriod,
  reopenAccountingPeriod,
} from './accounting-periods';
import { connectorFromEnvironment, type ErpConnector } from './connectors';
import {
  deliverPosting,
  deliveryPolicyFromEnvironment,
  startPostingWorker,
  type DeliveryPolicy,
} from './deliver-posting';
import { accrueUnbilledRevenue, setAccountingPolicy } from './accruals';
import { totals, type JournalEntry } from './journal';
import { seedDefaultMappings, upsertMapping } from './mappings';
import { postInvoice, postNote, postPrepaidCreditMovement, rebuildHeldPostings } from './post-document';
import { finalizeAndPostInvoices, postInvoices, postNotes } from './post-batch';
import { replayErpPosting } from './replay-posting';
import { recognizeRevenue, startRecognitionWorker } from './revenue-recognition';
import { withdrawInvoicePosting } from './withdraw-posting';
import {
  documentNumberOf,
  indexes,
  kindOf,
  INVOICE_LESS_KINDS,
  postingsStore,
  type AccountingPeriodDoc,
  type ErpPostingDoc,
  type PostingsStore,
} from './store';
import { reconciliationOf, signOffReconciliation } from './reconcile-period';
import type { Logger } from '../../lib/logger';
import { repeatInBackground } from '../../lib/background';

interface Services {
  store: PostingsStore;
  connector: ErpConnector;
  policy: DeliveryPolicy;
  log: Logger;
}

export interface Context extends BaseContext, Services {
  postings: DataLoader<string, ErpPostingDoc | null>;
  postingsOfInvoice: DataLoader<string, ErpPostingDoc[]>;
  postingsOfNote: DataLoader<string, ErpPostingDoc[]>;
}

/** An invoice's postings: its own first, then its notes', then revenue recognition, each by creation. */
/** The v1.0 journalEntry is never null: a posting with no entry built yet shows one with no lines, dated by its document. */
function entryNotBuilt(p: ErpPostingDoc): JournalEntry {
  const source = p.source ?? null;
  const date =
    source?.kind === 'REVENUE_RECOGNITION'
      ? source.documentPostingDate
      : (source?.issueDate ?? p.createdAt.toISOString().slice(0, 10));
  return {
    documentDate: date,
    postingDate: date,
    accountingPeriod: date.slice(0, 7),
    description: `No entry built (${p.status}${p.lastError ? `: ${p.lastError.message}` : ''})`,
    currency: source?.currency ?? p.currency ?? 'USD',
    lines: [],
  };
}

const KIND_ORDER = {
  INVOICE: 0,
  ACCRUAL_REVERSAL: 1,
  CREDIT_NOTE: 2,
  DEBIT_NOTE: 2,
  REVENUE_RECOGNITION: 3,
  ACCRUAL: 4,
  PREPAID_CREDIT_GRANT: 5,
  PREPAID_CREDIT_EXPIRY: 5,
} as const;

export const erpPostingsSubgraph: SubgraphDefinition<Services, Context, Resolvers> = {
  name: 'erp-postings',
  indexes,
  createServices: async (db, log) => {
    const store = postingsStore(db);
    await seedDefaultMappings(store);
    // One key for the ledger: every erp-postings process of this system writes to the same one.
    const connector = connectorFromEnvironment((work) => store.locks.run('ledger-writes', work));
    return { store, connector, policy: deliveryPolicyFromEnvironment(), log };
  },
  createContext: (services, base) => ({
    ...base,
    ...services,
    postings: loaderByField(services.store.postings),
    postingsOfInvoice: loaderOfMany(services.store.postings, 'invoiceId', { createdAt: 1, _id: 1 }),
    postingsOfNote: loaderOfMany(services.store.postings, 'noteId'),
  }),
  startBackground: (s, log) => {
    const stops = [
      startPostingWorker(s.store, s.connector, s.policy, log),
      startRecognitionWorker(s.store, s.connector, s.policy, log),
      // Mappings written by another process, or an ERP that learnt a customer: held postings are built again.
      repeatInBackground('held postings', config().ERP_HELD_RECHECK_MS, log, async () => {
        await rebuildHeldPostings(s.store, s.connector, log);
      }),
    ];
    return async () => {
      for (const stop of stops) await stop();
    };
  },
  resolvers: {
    Query: {
      erpPosting: (_, { id }, ctx) => ctx.postings.load(id),
      erpPostings: async (_, args, ctx) => {
        const filter: Filter<ErpPostingDoc> = {};
        if (args.status) filter.status = args.status;
        if (args.kind) filter.kind = args.kind === 'INVOICE' ? ({ $in: ['INVOICE', null] } as never) : args.kind;
        // Their `invoice` would be null, which v1.0's Invoice! cannot say: listed only when asked for by kind.
        else filter.kind = { $nin: [...INVOICE_LESS_KINDS] } as never;
        return withCount(
          await pageById(ctx.store.postings, filter, args.first, args.after),
          ctx.store.postings,
          args.status && !args.kind ? filter : null,
        );
      },
      accountingPeriod: (_, { key, legalEntityCode }, ctx) => accountingPeriod(ctx.store, key, legalEntityCode),
      accountingPeriods: async (_, args, ctx) => {
        const filter: Filter<AccountingPeriodDoc> = args.legalEntityCode
          ? { legalEntityCode: args.legalEntityCode }
          : { $or: [{ legalEntityCode: null }, { legalEntityCode: { $exists: false } }] };
        // Newest first; the table holds at most one row per month and entity ever closed, so counting it is cheap.
        const page = await pageBy(ctx.store.periods, filter, [['_id', -1]], args.first, args.after);
        return {
          ...page,
          nodes: page.nodes.map(periodView),
          totalCount: () => ctx.store.periods.countDocuments(filter),
        };
      },
      erpConnection: (_, __, ctx) => ({
        system: ctx.connector.system,
        location: ctx.connector.location,
      }),
      accountMappings: (_, args, ctx) =>
        pageBy(
          ctx.store.mappings,
          { ...(args.kind ? { kind: args.kind } : {}), ...(args.key ? { key: args.key } : {}) },
          [
            ['kind', 1],
            ['key', 1],
            ['effectiveFrom', 1],
          ],
          args.first,
          args.after,
        ),
      revenueSchedule: (_, args, ctx) =>
        pageBy(
          ctx.store.schedule,
          {
            ...(args.month ? { month: parsePeriod(args.month, 'month').key } : {}),
            ...(args.invoiceId ? { invoiceId: args.invoiceId } : {}),
          },
          [['month', 1]],
          args.first,
          args.after,
        ),
      reconciliation: (_, args, ctx) =>
        reconciliationOf(ctx.store, ctx.connector, args.period, args.legalEntityCode ?? null),
    },
    Mutation: {
      postInvoice: (_, { invoiceId }, ctx) =>
        postInvoice(ctx.store, ctx.connector, ctx.policy, invoiceId, ctx.correlationId, ctx.log),
      postPrepaidCreditMovement: (_, { movementId }, ctx) =>
        postPrepaidCreditMovement(ctx.store, ctx.connector, ctx.policy, movementId, ctx.correlationId, ctx.log),
      postNote: (_, { noteId }, ctx) =>
        postNote(ctx.store, ctx.connector, ctx.policy, noteId, ctx.correlationId, ctx.log),
      postInvoices: (_, { invoiceIds }, ctx) =>
        postInvoices(ctx.store, ctx.connector, ctx.policy, invoiceIds, ctx.correlationId, ctx.log),
      postNotes: (_, { noteIds }, ctx) =>
        postNotes(ctx.store, ctx.connector, ctx.policy, noteIds, ctx.correlationId, ctx.log),
      finalizeAndPostInvoices: (_, { invoiceIds }, ctx) =>
        finalizeAndPostInvoices(ctx.store, ctx.connector, ctx.policy, invoiceIds, ctx.correlationId, ctx.log),
      replayErpPosting: (_, { id }, ctx) =>
        replayErpPosting(ctx.store, ctx.connector, ctx.policy, id, ctx.log, actingSubject(ctx)),
      closeAccountingPeriod: (_, { key, legalEntityCode }, ctx) =>
        closeAccountingPeriod(ctx.store, key, legalEntityCode, ctx.log, {
          accrue: (period, entity) =>
            accrueUnbilledRevenue(ctx.store, ctx.connector, ctx.policy, period, entity, ctx.correlationId, ctx.log),
        }),
      setAccountingPolicy: async (_, { legalEntityCode, accrueUnbilledUsage }, ctx) => {
        const p = await setAccountingPolicy(ctx.store, legalEntityCode, accrueUnbilledUsage, actingSubject(ctx));
        return { legalEntityCode: p._id, accrueUnbilledUsage: p.accrueUnbilledUsage };
      },
      accrueUnbilledRevenue: (_, { period, legalEntityCode }, ctx) =>
        accrueUnbilledRevenue(
          ctx.store,
          ctx.connector,
          ctx.policy,
          period,
          legalEntityCode,
          ctx.correlationId,
          ctx.log,
        ),
      reopenAccountingPeriod: (_, { key, legalEntityCode }, ctx) =>
        reopenAccountingPeriod(ctx.store, key, legalEntityCode, actingSubject(ctx)),
      postInNextOpenPeriod: async (_, { postingId }, ctx) => {
        const moved = await postInNextOpenPeriod(ctx.store, postingId, actingSubject(ctx));
        return (await deliverPosting(ctx.store, ctx.connector, ctx.policy, postingId, ctx.log)) ?? moved;
      },
      setAccountMapping: async (_, { input }, ctx) => {
        const mapping = await upsertMapping(ctx.store, input, actingSubject(ctx), ctx.correlationId);
        // What waited for it is built again now; the posting worker sends it.
        await rebuildHeldPostings(ctx.store, ctx.connector, ctx.log);
        return mapping;
      },
      recognizeRevenue: (_, { month, legalEntityCode }, ctx) =>
        recognizeRevenue(ctx.store, ctx.connector, ctx.policy, month, legalEntityCode, ctx.correlationId, ctx.log),
      withdrawInvoicePosting: (_, { invoiceId, reason, currency }, ctx) =>
        withdrawInvoicePosting(ctx.store, ctx.policy, invoiceId, reason, ctx.correlationId, currency ?? null),
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
      kind: (p) => kindOf(p),
      invoice: (p) => ({ id: p.invoiceId }),
      note: (p) => (p.noteId ? { id: p.noteId } : null),
      prepaidCreditMovementId: (p) =>
        p.source?.kind === 'PREPAID_CREDIT_GRANT' || p.source?.kind === 'PREPAID_CREDIT_EXPIRY'
          ? p.source.movementId
          : null,
      documentNumber: (p) => documentNumberOf(p),
      legalEntityCode: (p) => p.legalEntityCode ?? 'DEFAULT',
      journalEntry: (p) => p.entry ?? entryNotBuilt(p),
      entry: (p) => p.entry,
      exceptionId: (p) => p.openException?.id ?? null,
      mappingVersion: (p) => p.mappingVersion ?? null,
    },
    JournalEntry: {
      requestedPeriod: (e) => e.requestedPeriod ?? null,
      periodMoveReason: (e) => e.periodMoveReason ?? null,
      totalDebits: (e) => fromMinorUnits(totals(e).debits, e.currency),
      totalCredits: (e) => fromMinorUnits(totals(e).credits, e.currency),
    },
    JournalLine: {
      invoiceLines: (l) => l.invoiceLineIds.map((id) => ({ id })),
    },
    AccountMapping: {
      id: (m) => m._id,
    },
    RevenueSchedulePortion: {
      id: (p) => p._id,
      invoice: (p) => ({ id: p.invoiceId }),
      recognition: (p, _, ctx) => (p.recognitionPostingId ? ctx.postings.load(p.recognitionPostingId) : null),
    },
    Invoice: {
      __resolveReference: (ref) => ref,
      erpPostings: async (i, _, ctx) =>
        (await ctx.postingsOfInvoice.load(i.id)).sort(
          (a, b) =>
            KIND_ORDER[kindOf(a)] - KIND_ORDER[kindOf(b)] ||
            a.createdAt.getTime() - b.createdAt.getTime() ||
            a._id.localeCompare(b._id),
        ),
    },
    InvoiceNote: {
      __resolveReference: (ref) => ref,
      erpPostings: (n, _, ctx) => ctx.postingsOfNote.load(n.id),
    },
  },
};
