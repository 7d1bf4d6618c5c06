// Invoices: the list with filters, and one invoice with its lines (each traced by "why this amount?") and postings.
// The detail is a list of sections, so documents that arrive with invoicing (notes, tax, PDFs) are one more section.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { formatDate, formatNumber } from '../format';
import { Amount, ErrorBox, Field, Section, parseRoute, routeTo, setParams, useGraph } from '../ui';

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
              <td colSpan={4}>Total</td>
              <td class="num">
                <Amount value={i.total} />
              </td>
              <td />
            </tr>
          </tfoot>
        </table>
      ),
    },
    {
      title: 'Postings to the ERP',
      body: i.erpPostings.length ? (
        i.erpPostings.map((p: any) => (
          <div key={p.id} class="panel">
            <p>
              {p.postingKey}: <strong>{p.status}</strong>
              {p.erpDocument
                ? ` — ${p.erpDocument.system} document ${p.erpDocument.documentId}, ${formatDate(p.erpDocument.postedAt)}`
                : ''}
            </p>
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
