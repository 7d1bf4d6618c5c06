// Accrual of unbilled usage (optional, per legal entity): at a period's close, usage already earned but still on a
// draft invoice is booked as revenue against an unbilled receivable (a contract asset), dated the period's last day;
// when the invoice posts, the accrual is taken back in the same amounts, so revenue is booked once.
import type { Logger } from '../../lib/logger';
import { parsePeriod } from '../../lib/period';
import { querySubgraph } from '../../lib/subgraph-client';
import type { ErpConnector } from './connectors';
import type { DeliveryPolicy } from './deliver-posting';
import { isBilledInAdvance, type DocumentForPosting } from './journal';
import type { AccountingPolicyDoc, ErpPostingDoc, PostingsStore } from './store';
import { createPosting, postingIdOf } from './post-document';

export const accrualPostingKey = (invoiceId: string): string => `ug:acc:${invoiceId}:v1`;
export const accrualReversalKey = (invoiceId: string): string => `ug:acc-rev:${invoiceId}:v1`;

export async function setAccountingPolicy(
  store: PostingsStore,
  legalEntityCode: string,
  accrueUnbilledUsage: boolean,
  setBy: string,
): Promise<AccountingPolicyDoc> {
  const doc: AccountingPolicyDoc = { _id: legalEntityCode, accrueUnbilledUsage, setAt: new Date(), setBy };
  await store.policies.replaceOne({ _id: legalEntityCode }, doc, { upsert: true });
  return doc;
}

export const policyOf = async (store: PostingsStore, legalEntityCode: string) =>
  (await store.policies.findOne({ _id: legalEntityCode })) ?? {
    _id: legalEntityCode,
    accrueUnbilledUsage: false,
    setAt: new Date(0),
    setBy: 'default',
  };

interface DraftView {
  id: string;
  currency: string;
  legalEntityCode: string;
  period: { key: string };
  customer: { id: string };
  lines: Array<{
    id: string;
    kind: 'USAGE' | 'FEE' | 'COMMITMENT';
    productLine: string;
    amount: { amount: string; currency: string };
    servicePeriodStart: string;
    servicePeriodEnd: string;
  }>;
}

export async function accrueUnbilledRevenue(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  periodKey: string,
  legalEntityCode: string,
  correlationId: string,
  log: Logger,
): Promise<ErpPostingDoc[]> {
  const period = parsePeriod(periodKey);
  const lastDay = new Date(period.end.getTime() - 1).toISOString().slice(0, 10);
  const out: ErpPostingDoc[] = [];
  let after: string | null = null;
  do {
    const page: { invoices: { nodes: DraftView[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } =
      await querySubgraph(
        'invoices',
        `query($p: String!, $e: String!, $after: String) { invoices(filter: { period: $p, status: DRAFT, legalEntityCode: $e }, first: 200, after: $after) {
          nodes { id currency legalEntityCode period { key } customer { id } lines { id kind productLine amount { amount currency } servicePeriodStart servicePeriodEnd } }
          pageInfo { hasNextPage endCursor } } }`,
        { p: period.key, e: legalEntityCode, after },
      );
    for (const draft of page.invoices.nodes) {
      // Only what is earned by the period's end: a fee for the next period is not revenue yet.
      const earned = draft.lines.filter((l) => !isBilledInAdvance(period.key, new Date(l.servicePeriodEnd)));
      if (earned.length === 0) continue;
      const { customer } = await querySubgraph<{ customer: DocumentForPosting['customer'] }>(
        'subscriptions',
        'query($id: ID!) { customer(id: $id) { id externalKey name } }',
        { id: draft.customer.id },
      );
      const number = `ACCRUAL-${period.key}-${draft.id}`;
      out.push(
        await createPosting(store, connector, policy, log, {
          postingKey: accrualPostingKey(draft.id),
          kind: 'ACCRUAL',
          invoiceId: draft.id,
          noteId: null,
          documentNumber: number,
          legalEntityCode,
          customerId: customer.id,
          correlationId,
          source: {
            kind: 'ACCRUAL',
            id: draft.id,
            number,
            issueDate: lastDay,
            invoiceId: draft.id,
            invoiceNumber: number,
            legalEntityCode,
            currency: draft.currency,
            periodKey: period.key,
            customer,
            lines: earned.map((l) => ({
              id: l.id,
              invoiceLineId: l.id,
              kind: l.kind,
              productLine: l.productLine,
              amount: l.amount,
              servicePeriod: { from: l.servicePeriodStart, to: l.servicePeriodEnd },
              taxes: [],
            })),
          },
        }),
      );
    }
    after = page.invoices.pageInfo.hasNextPage ? page.invoices.pageInfo.endCursor : null;
  } while (after);
  return out;
}

/** When an invoice posts, its accrual (if one was booked) is taken back on the invoice's date, in the same amounts. */
export async function reverseAccrualOf(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  invoice: { id: string; number: string; issueDate: string },
  correlationId: string,
  log: Logger,
): Promise<void> {
  const accrual = await store.postings.findOne({ _id: postingIdOf(accrualPostingKey(invoice.id)) });
  if (!accrual || accrual.status === 'WITHDRAWN' || accrual.source?.kind !== 'ACCRUAL') return;
  await createPosting(store, connector, policy, log, {
    postingKey: accrualReversalKey(invoice.id),
    kind: 'ACCRUAL_REVERSAL',
    invoiceId: invoice.id,
    noteId: null,
    documentNumber: invoice.number,
    legalEntityCode: accrual.legalEntityCode ?? 'DEFAULT',
    customerId: accrual.customerId,
    correlationId,
    source: {
      ...accrual.source,
      kind: 'ACCRUAL_REVERSAL',
      issueDate: invoice.issueDate,
      invoiceNumber: invoice.number,
    },
  });
}
