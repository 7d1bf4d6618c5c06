// Use case: reconcile a billing period — load every stage's figures (usage, pricing, invoices over the graph; our
// postings; the ERP's own transactions from the ledger server) and hand them to the pure reconciliation; sign it off.
import { randomUUID } from 'node:crypto';
import { UserFacingError } from '../../lib/errors';
import { parsePeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import type { Money } from '../../lib/money';
import type { ErpConnector } from './connectors';
import {
  reconcilePeriod,
  type ChargeKind,
  type CustomerInput,
  type HeldUsageInput,
  type InvoiceInput,
  type LateUsageInput,
  type PeriodReconciliation,
  type RatedLineInput,
} from './reconciliation';
import { kindOf, type PostingsStore, type ReconciliationSignOffDoc } from './store';
import { allMappings, mappingsAt } from './mappings';
import { revenueAccountOf } from './journal';

export interface ReconciliationReport extends PeriodReconciliation {
  ledgerSystem: string;
  ledgerLocation: string;
  readAt: Date;
  signOff: ReconciliationSignOffDoc | null;
}

const DOCUMENT_KINDS: ReadonlySet<string> = new Set(['INVOICE', 'CREDIT_NOTE', 'DEBIT_NOTE']);

const scopeOf = (period: string, legalEntityCode: string | null) => `${period}|${legalEntityCode ?? '*'}`;

interface RatedChargeRow {
  id: string;
  kind: ChargeKind;
  productLine: string;
  usageTypeKey: string | null;
  unit: string;
  quantity: string;
  eventCount: number;
  amount: Money;
  subscription: { id: string };
  customer: { id: string };
}

async function ratedLines(period: string): Promise<RatedLineInput[]> {
  const { ratedChargesForPeriod } = await querySubgraph<{ ratedChargesForPeriod: RatedChargeRow[] }>(
    'pricing',
    `query($p: String!) { ratedChargesForPeriod(period: $p) {
       id kind productLine usageTypeKey unit quantity eventCount amount { amount currency }
       subscription { id } customer { id } } }`,
    { p: period },
  );
  return ratedChargesForPeriod.map((r) => ({
    id: r.id,
    subscriptionId: r.subscription.id,
    customerId: r.customer.id,
    kind: r.kind,
    productLine: r.productLine,
    usageTypeKey: r.usageTypeKey,
    unit: r.unit,
    quantity: r.quantity,
    eventCount: r.eventCount,
    amount: r.amount,
  }));
}

interface InvoiceRow {
  id: string;
  number: string | null;
  status: 'DRAFT' | 'FINALIZED';
  kind: 'FINAL' | 'PROGRESSIVE';
  legalEntityCode: string;
  customer: { id: string };
  subscription: { id: string };
  lines: Array<{ kind: ChargeKind; productLine: string; amount: Money }>;
  notes: Array<{
    id: string;
    number: string;
    kind: 'CREDIT' | 'DEBIT';
    lines: Array<{ kind: ChargeKind; productLine: string; amount: Money }>;
  }>;
}

async function invoicesOf(period: string, subscriptionIds: string[]): Promise<InvoiceInput[]> {
  const out: InvoiceInput[] = [];
  // A batch per 500 subscriptions keeps each request and its $in bounded.
  for (let i = 0; i < subscriptionIds.length; i += 500) {
    const { invoicesForSubscriptions } = await querySubgraph<{ invoicesForSubscriptions: InvoiceRow[] }>(
      'invoices',
      `query($p: String!, $s: [ID!]!) { invoicesForSubscriptions(period: $p, subscriptionIds: $s) {
         id number status kind legalEntityCode customer { id } subscription { id }
         lines { kind productLine amount { amount currency } }
         notes { id number kind lines { kind productLine amount { amount currency } } } } }`,
      { p: period, s: subscriptionIds.slice(i, i + 500) },
    );
    for (const inv of invoicesForSubscriptions)
      out.push({
        id: inv.id,
        number: inv.number,
        status: inv.status,
        customerId: inv.customer.id,
        subscriptionId: inv.subscription.id,
        legalEntityCode: inv.legalEntityCode,
        lines: inv.lines,
        notes: inv.notes,
        kind: inv.kind,
      });
  }
  return out;
}

async function customersOf(ids: string[]): Promise<CustomerInput[]> {
  const out: CustomerInput[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const { _entities } = await querySubgraph<{
      _entities: Array<{ id: string; externalKey: string; name: string; legalEntity: { code: string } } | null>;
    }>(
      'subscriptions',
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id externalKey name legalEntity { code } } } }',
      { r: ids.slice(i, i + 500).map((id) => ({ __typename: 'Customer', id })) },
    );
    for (const c of _entities)
      if (c) out.push({ id: c.id, externalKey: c.externalKey, name: c.name, legalEntityCode: c.legalEntity.code });
  }
  return out;
}

interface Page<T> {
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
interface HeldRow {
  id: string;
  customerKey: string;
  period: { key: string };
  heldEventCount: number;
  message: string;
}
interface LateRow {
  pendingEventCount: number;
  aggregate: { id: string; subscription: { id: string }; usageType: { key: string } };
}

async function heldUsage(period: string): Promise<HeldUsageInput[]> {
  const out: HeldUsageInput[] = [];
  for (let after: string | null = null; ;) {
    const { usageExceptions }: { usageExceptions: Page<HeldRow> } = await querySubgraph<{
      usageExceptions: Page<HeldRow>;
    }>(
      'usage',
      `query($after: String) { usageExceptions(status: OPEN, first: 500, after: $after) {
         nodes { id customerKey period { key } heldEventCount message } pageInfo { hasNextPage endCursor } } }`,
      { after },
    );
    for (const e of usageExceptions.nodes)
      if (e.period.key === period)
        out.push({
          exceptionId: e.id,
          customerKey: e.customerKey,
          heldEventCount: e.heldEventCount,
          problem: e.message,
        });
    if (!usageExceptions.pageInfo.hasNextPage) return out;
    after = usageExceptions.pageInfo.endCursor;
  }
}

async function lateUsage(period: string): Promise<LateUsageInput[]> {
  const out: LateUsageInput[] = [];
  for (let after: string | null = null; ;) {
    const { lateUsage: page }: { lateUsage: Page<LateRow> } = await querySubgraph<{ lateUsage: Page<LateRow> }>(
      'usage',
      `query($p: String!, $after: String) { lateUsage(period: $p, first: 500, after: $after) {
         nodes { pendingEventCount aggregate { id subscription { id } usageType { key } } }
         pageInfo { hasNextPage endCursor } } }`,
      { p: period, after },
    );
    for (const l of page.nodes)
      out.push({
        aggregateId: l.aggregate.id,
        subscriptionId: l.aggregate.subscription.id,
        usageTypeKey: l.aggregate.usageType.key,
        pendingEventCount: l.pendingEventCount,
      });
    if (!page.pageInfo.hasNextPage) return out;
    after = page.pageInfo.endCursor;
  }
}

/** The period's reconciliation, read now from every stage and from the ledger itself. */
export async function reconciliationOf(
  store: PostingsStore,
  connector: ErpConnector,
  periodArg: string,
  legalEntityCode: string | null,
): Promise<ReconciliationReport> {
  const period = parsePeriod(periodArg).key;
  const rated = await ratedLines(period);
  const subscriptionIds = [...new Set(rated.map((r) => r.subscriptionId))];
  const [invoices, held, late, ledger] = await Promise.all([
    invoicesOf(period, subscriptionIds),
    heldUsage(period),
    lateUsage(period),
    connector.readTransactions(),
  ]);
  const customerIds = [...new Set([...rated.map((r) => r.customerId), ...invoices.map((i) => i.customerId)])];
  const [customers, allPostings, signOff, mappingRows] = await Promise.all([
    customersOf(customerIds),
    invoices.length
      ? store.postings
          .find({ invoiceId: { $in: invoices.filter((i) => i.status === 'FINALIZED').map((i) => i.id) } })
          .toArray()
      : Promise.resolve([]),
    latestSignOff(store, period, legalEntityCode),
    allMappings(store),
  ]);
  // The invoices' and their notes' postings; recognition and accruals post under the same invoice id too, apart.
  const postings = allPostings.filter((p) => DOCUMENT_KINDS.has(kindOf(p)));
  const lastDay = new Date(parsePeriod(period).end.getTime() - 1).toISOString().slice(0, 10);
  const { lookup } = mappingsAt(mappingRows, lastDay);
  const report = reconcilePeriod({
    period,
    legalEntityCode,
    ratedLines: rated,
    invoices,
    postings: postings.map((p) => ({
      id: p._id,
      postingKey: p.postingKey,
      invoiceId: p.invoiceId,
      noteId: p.noteId ?? null,
      status: p.status,
      lines: (p.entry?.lines ?? []).map((l) => ({ account: l.account, side: l.side, amount: l.amount })),
    })),
    customers,
    heldUsage: held,
    lateUsage: late,
    ledger,
    revenueAccount: (productLine, kind) => revenueAccountOf(lookup, productLine, kind),
  });
  return { ...report, ledgerSystem: connector.system, ledgerLocation: connector.location, readAt: new Date(), signOff };
}

export async function latestSignOff(
  store: PostingsStore,
  period: string,
  legalEntityCode: string | null,
): Promise<ReconciliationSignOffDoc | null> {
  const [latest] = await store.signOffs
    .find({ scope: scopeOf(period, legalEntityCode) })
    .sort({ signedOffAt: -1 })
    .limit(1)
    .toArray();
  return latest ?? null;
}

/** Signs a period off when every difference is explained or zero; refuses (RECONCILIATION_OPEN) otherwise. */
export async function signOffReconciliation(
  store: PostingsStore,
  connector: ErpConnector,
  periodArg: string,
  legalEntityCode: string | null,
  subject: string,
  correlationId: string,
): Promise<ReconciliationReport> {
  const report = await reconciliationOf(store, connector, periodArg, legalEntityCode);
  if (!report.reconciled) {
    throw new UserFacingError(
      'RECONCILIATION_OPEN',
      `period ${report.period} has ${report.unexplainedCount} unexplained difference(s); it cannot be signed off`,
      {
        field: 'period',
        expected: 'a period whose differences are all explained or zero (see reconciliation(period:).customers)',
        unexplained: report.unexplainedCount,
      },
    );
  }
  if (report.signOff?.digest === report.digest) return report; // signing the same figures twice is one sign-off
  const signedOffAt = new Date();
  const doc: ReconciliationSignOffDoc = {
    _id: `${scopeOf(report.period, legalEntityCode)}#${signedOffAt.getTime()}#${randomUUID().slice(0, 8)}`,
    scope: scopeOf(report.period, legalEntityCode),
    period: report.period,
    legalEntityCode,
    signedOffBy: subject,
    signedOffAt,
    digest: report.digest,
    totals: report.totals.map((t) => ({
      currency: t.currency,
      rated: t.rated.amount,
      invoiced: t.invoiced.amount,
      posted: t.posted.amount,
      ledger: t.ledger.amount,
    })),
    correlationId,
  };
  await store.signOffs.insertOne(doc);
  await store.outbox.raise({
    id: `reconciliation.signed_off:${doc._id}`,
    type: 'reconciliation.signed_off',
    subject: doc.scope,
    data: { period: doc.period, legalEntityCode, signedOffBy: subject, digest: doc.digest, totals: doc.totals },
  });
  return { ...report, signOff: doc };
}
