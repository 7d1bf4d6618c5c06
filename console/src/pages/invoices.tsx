// Invoices: the list with filters, and one invoice with its lines (each traced by "why this amount?"), tax, the notes
// that correct it, its documents (fetched with the caller's credential) and its postings, the notes' included.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { formatDate, formatNumber } from '../format';
import { Action, Amount, ErrorBox, Field, Section, parseRoute, routeTo, setParams, useGraph } from '../ui';
import { downloadDocument } from '../documents';

type Route = ReturnType<typeof parseRoute>;

export function InvoicesPage({ route }: { route: Route }) {
  const p = route.params;
  const [customerKey, setCustomerKey] = useState(p.get('customer') ?? '');
  const [period, setPeriod] = useState(p.get('period') ?? '');
  const customer = useGraph('customerByKey', p.get('customer') ? { key: p.get('customer') } : null);
  const customerId = customer.data?.customerByExternalKey?.id;
  const unknownCustomer = !!p.get('customer') && customer.data && !customerId;
  const filter = {
    ...(p.get('period') ? { period: p.get('period') } : {}),
    ...(p.get('status') ? { status: p.get('status') } : {}),
    ...(customerId ? { customerId } : {}),
  };
  const waiting = !!p.get('customer') && !customer.data;
  const list = useGraph('invoices', waiting || unknownCustomer ? null : { filter, after: p.get('after') });
  const params = Object.fromEntries(p.entries());
  return (
    <Section title="Invoices">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setParams({ ...params, customer: customerKey.trim(), period: period.trim(), after: null });
        }}
      >
        <Field label="Customer key">
          <input name="customer" value={customerKey} onInput={(e) => setCustomerKey(e.currentTarget.value)} />
        </Field>
        <Field label="Period (YYYY-MM)">
          <input name="period" value={period} onInput={(e) => setPeriod(e.currentTarget.value)} />
        </Field>
        <Field label="Status">
          <select
            name="status"
            value={p.get('status') ?? ''}
            onChange={(e) => setParams({ ...params, status: e.currentTarget.value, after: null })}
          >
            <option value="">Any</option>
            <option value="DRAFT">Draft</option>
            <option value="FINALIZED">Finalized</option>
          </select>
        </Field>
        <button type="submit">Search</button>
      </form>
      {unknownCustomer && <p class="error">No customer has the key “{p.get('customer')}”.</p>}
      <ErrorBox error={list.error ?? customer.error} />
      <table class="list" data-testid="invoices">
        <thead>
          <tr>
            <th>Number</th>
            <th>Customer</th>
            <th>Period</th>
            <th>Status</th>
            <th>Total</th>
            <th>Issued</th>
            <th>Entity</th>
          </tr>
        </thead>
        <tbody>
          {(list.data?.invoices.nodes ?? []).map((i: any) => (
            <tr key={i.id}>
              <td>
                <a href={routeTo('invoice', [i.id])}>{i.number ?? `draft ${i.id}`}</a>
              </td>
              <td>
                {i.customer.name} ({i.customer.externalKey})
              </td>
              <td>{i.period.key}</td>
              <td>{i.status}</td>
              <td class="num">
                <Amount value={i.total} />
              </td>
              <td>{i.issueDate ?? '—'}</td>
              <td>{i.legalEntityCode}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data?.invoices.pageInfo.hasNextPage && (
        <a href={routeTo('invoices', [], { ...params, after: list.data.invoices.pageInfo.endCursor })}>Next page</a>
      )}
    </Section>
  );
}

interface DetailSection {
  title: string;
  body: ComponentChildren;
}

/** A document's PDF and HTML, downloaded with the signed-in credential (the gateway serves them to callers only). */
function DocumentButtons({
  links,
  label,
  testId,
}: {
  links: { pdf: string; html: string } | null;
  label: string;
  testId?: string;
}) {
  if (!links) return <span class="muted">No document while a draft.</span>;
  return (
    <span class="row" data-testid={testId}>
      <Action
        label={`${label} (PDF)`}
        testId={testId ? `${testId}-pdf` : undefined}
        run={() => downloadDocument(links.pdf)}
      />
      <Action
        label={`${label} (HTML)`}
        testId={testId ? `${testId}-html` : undefined}
        run={() => downloadDocument(links.html)}
      />
    </span>
  );
}

function TaxTable({ lines, testId }: { lines: any[]; testId?: string }) {
  if (!lines.length) return <p class="muted">No tax.</p>;
  return (
    <table class="list" data-testid={testId}>
      <thead>
        <tr>
          <th>Jurisdiction</th>
          <th>Tax</th>
          <th>Rate</th>
          <th>Taxable</th>
          <th>Amount</th>
        </tr>
      </thead>
      <tbody>
        {lines.map((t: any) => (
          <tr key={`${t.jurisdiction}:${t.name}:${t.ratePercent}`}>
            <td>{t.jurisdiction}</td>
            <td>{t.name}</td>
            <td class="num">{formatNumber(t.ratePercent)} %</td>
            <td class="num">
              <Amount value={t.taxableAmount} />
            </td>
            <td class="num">
              <Amount value={t.amount} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const POSTING_KINDS: Record<string, string> = {
  INVOICE: 'Invoice',
  CREDIT_NOTE: 'Credit note',
  DEBIT_NOTE: 'Debit note',
  REVENUE_RECOGNITION: 'Revenue recognition',
  ACCRUAL: 'Accrual',
  ACCRUAL_REVERSAL: 'Accrual reversal',
};

export function InvoicePage({ id }: { id: string }) {
  const invoice = useGraph('invoice', { id });
  const i = invoice.data?.invoice;
  if (!i) return invoice.loading ? <p class="muted">Loading…</p> : <ErrorBox error={invoice.error} />;
  const sections: DetailSection[] = [
    {
      title: 'Lines',
      body: (
        <table class="list" data-testid="invoice-lines">
          <thead>
            <tr>
              <th>#</th>
              <th>Description</th>
              <th>Quantity</th>
              <th>Unit price</th>
              <th>Amount</th>
              <th>Tax</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {i.lines.map((l: any) => (
              <tr key={l.id}>
                <td>{l.lineNo}</td>
                <td>
                  {l.description} <span class="muted">({l.productLine})</span>
                </td>
                <td class="num">
                  {formatNumber(l.quantity)} {l.unit}
                </td>
                <td class="num">{formatNumber(l.unitPrice)}</td>
                <td class="num">
                  <Amount value={l.amount} />
                </td>
                <td class="num">
                  {l.taxes.length
                    ? l.taxes.map((t: any) => (
                        <span key={t.jurisdiction}>
                          {t.jurisdiction} <Amount value={t.amount} />{' '}
                        </span>
                      ))
                    : '—'}
                </td>
                <td>
                  <a href={routeTo('lineage', [l.id])} data-testid="line-lineage">
                    Why this amount?
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <td colSpan={4}>Subtotal</td>
              <td class="num">
                <Amount value={i.subtotal} />
              </td>
              <td colSpan={2} />
            </tr>
            <tr>
              <td colSpan={4}>Tax</td>
              <td class="num">
                <Amount value={i.taxTotal} />
              </td>
              <td colSpan={2} />
            </tr>
            <tr>
              <td colSpan={4}>Total</td>
              <td class="num" data-testid="invoice-total">
                <Amount value={i.total} />
              </td>
              <td colSpan={2} />
            </tr>
          </tfoot>
        </table>
      ),
    },
    {
      title: 'Tax',
      body: (
        <div data-testid="invoice-tax">
          <p class="muted">
            {i.taxJurisdiction ? `Taxed in ${i.taxJurisdiction}.` : 'The customer has no tax jurisdiction.'}
            {i.taxExemption ? ` Exempt: ${i.taxExemption.reason}.` : ''}
          </p>
          <TaxTable lines={i.taxLines} testId="invoice-tax-lines" />
        </div>
      ),
    },
    {
      title: 'Credit and debit notes',
      body: (
        <div data-testid="invoice-notes">
          {i.openAdjustments.length > 0 && (
            <p class="error">
              {i.openAdjustments.length} line(s) were re-rated after finalization and no note carries the difference yet
              (see the work queue: “Adjustment awaiting a note”).
            </p>
          )}
          {i.notes.length === 0 ? (
            <p class="muted">No notes correct this invoice.</p>
          ) : (
            i.notes.map((n: any) => (
              <div key={n.id} class="panel" data-testid="invoice-note" data-note-number={n.number}>
                <p>
                  <strong>
                    {n.kind === 'CREDIT' ? 'Credit note' : 'Debit note'} {n.number}
                  </strong>
                  , issued {n.issueDate} by {n.issuedBy}: subtotal <Amount value={n.subtotal} />, tax{' '}
                  <Amount value={n.taxTotal} />, total <Amount value={n.total} />
                </p>
                <table class="list">
                  <tbody>
                    {n.lines.map((l: any) => (
                      <tr key={l.id}>
                        <td>{l.invoiceLine ? `corrects line ${l.invoiceLine.lineNo}` : 'new line'}</td>
                        <td>{l.description}</td>
                        <td class="num">
                          {formatNumber(l.quantity)} {l.unit}
                        </td>
                        <td class="num">
                          <Amount value={l.amount} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <TaxTable lines={n.taxLines} />
                <DocumentButtons links={n.documents} label={n.number} />
              </div>
            ))
          )}
        </div>
      ),
    },
    {
      title: 'Documents',
      body: (
        <DocumentButtons links={i.documents} label={`Invoice ${i.number ?? ''}`.trim()} testId="invoice-documents" />
      ),
    },
    {
      title: 'Postings to the ERP',
      body: i.erpPostings.length ? (
        i.erpPostings.map((p: any) => (
          <div key={p.id} class="panel" data-testid="invoice-posting" data-posting-status={p.status}>
            <p>
              {POSTING_KINDS[p.kind] ?? p.kind} {p.documentNumber} · {p.postingKey}: <strong>{p.status}</strong>
              {p.erpDocument
                ? ` — ${p.erpDocument.system} document ${p.erpDocument.documentId}, ${formatDate(p.erpDocument.postedAt)}`
                : ''}
              {p.lastError && p.status !== 'POSTED' ? ` — ${p.lastError.message}` : ''}
              {p.exceptionId && (
                <>
                  {' '}
                  <a href={routeTo('queue', [], { item: p.exceptionId, status: 'OPEN' })}>In the work queue</a>
                </>
              )}
            </p>
            {p.journalEntry ? (
              <table class="list">
                <tbody>
                  {p.journalEntry.lines.map((jl: any) => (
                    <tr key={jl.lineNo}>
                      <td>{jl.account}</td>
                      <td>{jl.side === 'DEBIT' ? <Amount value={jl.amount} /> : ''}</td>
                      <td>{jl.side === 'CREDIT' ? <Amount value={jl.amount} /> : ''}</td>
                      <td class="muted">{jl.memo}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="muted">No journal entry built yet.</p>
            )}
          </div>
        ))
      ) : (
        <p class="muted">Not posted.</p>
      ),
    },
  ];
  return (
    <div>
      <Section title={`Invoice ${i.number ?? `(draft) ${i.id}`}`}>
        <dl>
          <dt>Customer</dt>
          <dd>
            <a href={routeTo('customers', [], { q: i.customer.externalKey, id: i.customer.id })}>
              {i.customer.name} ({i.customer.externalKey})
            </a>
          </dd>
          <dt>Period</dt>
          <dd>{i.period.key}</dd>
          <dt>Status</dt>
          <dd>{i.status}</dd>
          <dt>Issued</dt>
          <dd>{i.issueDate ?? '—'}</dd>
          <dt>Legal entity</dt>
          <dd>{i.legalEntityCode}</dd>
          <dt>Total</dt>
          <dd>
            <Amount value={i.total} />
          </dd>
          <dt>Correlation id</dt>
          <dd>
            <code>{i.correlationId}</code>
          </dd>
        </dl>
      </Section>
      {sections.map((s) => (
        <Section key={s.title} title={s.title}>
          {s.body}
        </Section>
      ))}
    </div>
  );
}
