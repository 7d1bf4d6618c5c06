// Customers: the list (filtered as you type), a look-up by key or alias, and one customer's subscriptions and invoices.
import { useState } from 'preact/hooks';
import { formatDate, formatDay } from '../format';
import { Amount, ErrorBox, Field, Section, parseRoute, routeTo, setParams, useGraph } from '../ui';

type Route = ReturnType<typeof parseRoute>;

export function CustomersPage({ route }: { route: Route }) {
  const search = route.params.get('q') ?? '';
  const selected = route.params.get('id');
  const [typed, setTyped] = useState(search);
  const list = useGraph('customers', {});
  const exact = useGraph('customerByKey', search ? { key: search } : null);
  const needle = search.toLowerCase();
  const rows: any[] = (list.data?.customers.nodes ?? []).filter(
    (c: any) =>
      !needle ||
      c.externalKey.toLowerCase().includes(needle) ||
      c.name.toLowerCase().includes(needle) ||
      c.aliases.some((a: string) => a.toLowerCase().includes(needle)),
  );
  const found = exact.data?.customerByExternalKey;
  if (found && !rows.some((c) => c.id === found.id)) rows.unshift(found);
  return (
    <div>
      <Section title="Customers">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setParams({ q: typed.trim() });
          }}
        >
          <Field label="Key, alias or name">
            <input name="q" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
          </Field>
          <button type="submit">Search</button>
        </form>
        <ErrorBox error={list.error} />
        <table class="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Aliases</th>
              <th>Currency</th>
              <th>Entity</th>
              <th>Since</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr
                key={c.id}
                class={c.id === selected ? 'selected' : ''}
                onClick={() => setParams({ q: search, id: c.id })}
              >
                <td>{c.name}</td>
                <td>{c.externalKey}</td>
                <td>{c.aliases.join(', ')}</td>
                <td>{c.currency}</td>
                <td>{c.legalEntity.code}</td>
                <td>{formatDate(c.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.data?.customers.pageInfo.hasNextPage && (
          <p class="muted">Showing the first 200; search by key to find others.</p>
        )}
      </Section>
      {selected && <CustomerPanel key={selected} id={selected} />}
    </div>
  );
}

function CustomerPanel({ id }: { id: string }) {
  const customer = useGraph('customer', { id });
  const c = customer.data?.customer;
  if (!c) return <ErrorBox error={customer.error} />;
  return (
    <Section title={`${c.name} (${c.externalKey})`}>
      <h3>Subscriptions</h3>
      <ul>
        {c.subscriptions.map((s: any) => (
          <li key={s.id}>
            {s.id}: {s.status}, from {formatDay(s.startsAt)}
            {s.endsAt ? ` to ${formatDay(s.endsAt)}` : ''}
          </li>
        ))}
      </ul>
      <h3>Invoices</h3>
      <table class="list">
        <thead>
          <tr>
            <th>Number</th>
            <th>Period</th>
            <th>Status</th>
            <th>Total</th>
            <th>Issued</th>
          </tr>
        </thead>
        <tbody>
          {c.invoices.nodes.map((i: any) => (
            <tr key={i.id}>
              <td>
                <a href={routeTo('invoice', [i.id])}>{i.number ?? `draft ${i.id}`}</a>
              </td>
              <td>{i.period.key}</td>
              <td>{i.status}</td>
              <td class="num">
                <Amount value={i.total} />
              </td>
              <td>{i.issueDate ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
