// Reconciliation: a period → its customers → their revenue lines, from usage to the ERP's own balances, every
// difference with its reason; CSV export and sign-off.
import { useState } from 'preact/hooks';
import { graph } from '../graph';
import { download, formatDate, formatNumber } from '../format';
import { Action, Amount, ErrorBox, Field, Section, parseRoute, routeTo, setParams, useGraph } from '../ui';
import { mayAct, type Viewer } from '../viewer';

type Route = ReturnType<typeof parseRoute>;

const REASONS: Record<string, string> = {
  HELD_EVENTS: 'Held events',
  UNRATED_LATE_USAGE: 'Late usage not rated yet',
  NOT_INVOICED: 'Not invoiced yet',
  DRAFT_INVOICE: 'Draft invoice',
  ADJUSTMENT_WITHOUT_NOTE: 'Adjustment without a note',
  NOT_POSTED: 'Not posted yet',
  POSTING_IN_FLIGHT: 'Posting in flight',
  POSTING_HELD: 'Posting held',
  POSTING_DEAD_LETTERED: 'Posting dead-lettered',
  MANUAL_ERP_ENTRY: 'Manual entry in the ERP',
  MISSING_IN_ERP: 'Missing in the ERP',
  UNEXPLAINED: 'Unexplained',
};

const lastMonth = () => {
  const d = new Date();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - 1);
  return d.toISOString().slice(0, 7);
};

function Differences({ list }: { list: any[] }) {
  if (!list.length) return <span class="ok">none</span>;
  return (
    <ul class="differences">
      {list.map((d, n) => (
        <li key={n} class={d.explained ? '' : 'unexplained'}>
          <strong>{REASONS[d.reason] ?? d.reason}</strong> ({d.from.toLowerCase()} → {d.to.toLowerCase()})
          {d.amount ? (
            <>
              : <Amount value={d.amount} />
            </>
          ) : (
            `: ${formatNumber(d.count)} record(s)`
          )}{' '}
          — <span class="muted">{d.detail}</span>
        </li>
      ))}
    </ul>
  );
}

export function ReconciliationPage({ viewer, route }: { viewer: Viewer; route: Route }) {
  const period = route.params.get('period') ?? lastMonth();
  const entity = route.params.get('entity') ?? '';
  const customerKey = route.params.get('customer');
  const [periodInput, setPeriodInput] = useState(period);
  const [entityInput, setEntityInput] = useState(entity);
  const report = useGraph('reconciliation', { period, legalEntityCode: entity || null });
  const r = report.data?.reconciliation;
  const customer = customerKey ? r?.customers.find((c: any) => c.customerKey === customerKey) : null;
  return (
    <div>
      <Section
        title={`Reconciliation ${period}${entity ? ` · ${entity}` : ''}`}
        actions={
          r && (
            <>
              <button
                type="button"
                data-testid="download-csv"
                onClick={() => download(`reconciliation-${r.period}${entity ? `-${entity}` : ''}.csv`, r.csv)}
              >
                Download CSV
              </button>
              {mayAct(viewer) && (
                <Action
                  label="Sign off"
                  kind="primary"
                  testId="sign-off"
                  disabled={r.status !== 'RECONCILED' || r.signOff?.current}
                  run={() => graph('signOffReconciliation', { period, legalEntityCode: entity || null })}
                  done={() => report.reload()}
                />
              )}
            </>
          )
        }
      >
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setParams({ period: periodInput.trim(), entity: entityInput.trim() });
          }}
        >
          <Field label="Period (YYYY-MM)">
            <input name="period" value={periodInput} onInput={(e) => setPeriodInput(e.currentTarget.value)} />
          </Field>
          <Field label="Legal entity (all when empty)">
            <input name="entity" value={entityInput} onInput={(e) => setEntityInput(e.currentTarget.value)} />
          </Field>
          <button type="submit">Reconcile</button>
        </form>
        <ErrorBox error={report.error} />
        {report.loading && <p class="muted">Reading every stage and the ledger…</p>}
        {r && (
          <>
            <p data-testid="reconciliation-status" class={r.status === 'RECONCILED' ? 'ok' : 'error'}>
              {r.status === 'RECONCILED'
                ? 'Reconciled: every difference is explained or zero.'
                : `${r.unexplainedCount} unexplained difference(s).`}{' '}
              {r.signOff
                ? `Signed off by ${r.signOff.signedOffBy}, ${formatDate(r.signOff.signedOffAt)}${r.signOff.current ? '' : ' — the figures changed since: sign off again'}.`
                : 'Not signed off.'}{' '}
              <span class="muted">
                Ledger: {r.ledger.system} at {r.ledger.location}, read {formatDate(r.readAt)}.
              </span>
            </p>
            <table class="list">
              <thead>
                <tr>
                  <th>Currency</th>
                  <th>Rated</th>
                  <th>Invoiced</th>
                  <th>Posted</th>
                  <th>In the ledger</th>
                </tr>
              </thead>
              <tbody>
                {r.totals.map((t: any) => (
                  <tr key={t.currency}>
                    <td>{t.currency}</td>
                    <td>
                      <Amount value={t.rated} />
                    </td>
                    <td>
                      <Amount value={t.invoiced} />
                    </td>
                    <td>
                      <Amount value={t.posted} />
                    </td>
                    <td>
                      <Amount value={t.ledger} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {r.differences.length > 0 && (
              <>
                <h3>Not tied to a customer</h3>
                <Differences list={r.differences} />
              </>
            )}
          </>
        )}
      </Section>
      {r && !customer && (
        <Section title="Customers">
          <table class="list" data-testid="reconciliation-customers">
            <thead>
              <tr>
                <th>Customer</th>
                <th>Entity</th>
                <th>Rated</th>
                <th>Invoiced</th>
                <th>Posted</th>
                <th>Ledger</th>
                <th>Differences</th>
              </tr>
            </thead>
            <tbody>
              {r.customers.map((c: any) => {
                const sum = (stage: string) => c.lines.map((l: any) => l[stage]);
                const diffCount =
                  c.differences.length + c.lines.reduce((n: number, l: any) => n + l.differences.length, 0);
                return (
                  <tr key={c.customerId} class={c.reconciled ? '' : 'unexplained'}>
                    <td>
                      <a href={routeTo('reconciliation', [], { period, entity, customer: c.customerKey })}>
                        {c.customerName} ({c.customerKey})
                      </a>
                    </td>
                    <td>{c.legalEntityCode}</td>
                    {['rated', 'invoiced', 'posted', 'ledger'].map((stage) => (
                      <td key={stage} class="num">
                        {sum(stage).map((m: any, n: number) => (
                          <div key={n}>
                            <Amount value={m} />
                          </div>
                        ))}
                      </td>
                    ))}
                    <td>
                      {diffCount ? `${diffCount}${c.reconciled ? ', all explained' : ', some unexplained'}` : 'none'}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Section>
      )}
      {customer && (
        <Section
          title={`${customer.customerName} (${customer.customerKey}) · ${period}`}
          actions={<a href={routeTo('reconciliation', [], { period, entity })}>All customers</a>}
        >
          {customer.differences.length > 0 && <Differences list={customer.differences} />}
          <table class="list" data-testid="reconciliation-lines">
            <thead>
              <tr>
                <th>Revenue line</th>
                <th>Usage</th>
                <th>Rated</th>
                <th>Invoiced</th>
                <th>Posted</th>
                <th>Ledger</th>
                <th>Differences</th>
              </tr>
            </thead>
            <tbody>
              {customer.lines.map((l: any) => (
                <tr key={l.account + l.currency}>
                  <td>
                    {l.account} <span class="muted">({l.kind.toLowerCase()})</span>
                    {l.invoiceIds.map((id: string) => (
                      <div key={id}>
                        <a href={routeTo('invoice', [id])}>invoice {id}</a>
                      </div>
                    ))}
                  </td>
                  <td>
                    {l.usage.map((u: any) => (
                      <div key={u.usageTypeKey}>
                        {formatNumber(u.quantity)} {u.unit} ({u.usageTypeKey}, {formatNumber(u.eventCount)} events)
                      </div>
                    ))}
                  </td>
                  <td class="num">
                    <Amount value={l.rated} />
                  </td>
                  <td class="num">
                    <Amount value={l.invoiced} />
                  </td>
                  <td class="num">
                    <Amount value={l.posted} />
                  </td>
                  <td class="num">
                    <Amount value={l.ledger} />
                  </td>
                  <td>
                    <Differences list={l.differences} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      )}
    </div>
  );
}
