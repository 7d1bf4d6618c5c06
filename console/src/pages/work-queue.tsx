// Finance's one work queue: every business exception, filtered, assigned, and resolved with the owning stage's
// action (map or create the customer, create the subscription, approve the price, correct or discard usage, add an
// account mapping or an ERP customer id, post in the next open period or reopen it, issue a note).
import { useEffect, useState } from 'preact/hooks';
import { graph } from '../graph';
import { download, formatAge, formatDate, formatNumber, toCsv } from '../format';
import {
  Action,
  Amount,
  ErrorBox,
  Field,
  Section,
  parseRoute,
  routeTo,
  setParams,
  useGraph,
  usePersisted,
} from '../ui';
import { mayAct, type Viewer } from '../viewer';

type Route = ReturnType<typeof parseRoute>;

const STATUS_CHOICES: Array<[string, string]> = [
  ['', 'Open and in progress'],
  ['OPEN', 'Open'],
  ['IN_PROGRESS', 'In progress'],
  ['RESOLVED', 'Resolved'],
  ['DISMISSED', 'Dismissed'],
];

const KIND_LABELS: Record<string, string> = {
  CUSTOMER_UNKNOWN: 'Unknown customer',
  SUBSCRIPTION_NOT_ACTIVE: 'No active subscription',
  INVALID_USAGE: 'Invalid usage (quarantine)',
  PRICING_POLICY: 'Price outside policy',
  ACCOUNT_MAPPING_MISSING: 'Missing account mapping',
  ERP_CUSTOMER_UNKNOWN: 'Unknown ERP customer',
  PERIOD_CLOSED: 'Closed period',
  ADJUSTMENT_AWAITING_NOTE: 'Adjustment awaiting a note',
};
export const kindLabel = (kind: string) => KIND_LABELS[kind] ?? kind.toLowerCase().replace(/_/g, ' ');
const statusLabel = (s: string) => STATUS_CHOICES.find(([v]) => v === s)?.[1] ?? s;

function heldText(item: any): string {
  return `${formatNumber(item.held.count)} ${item.held.unit}${item.held.quantity ? ` (${item.held.quantity})` : ''}`;
}

export function WorkQueuePage({ viewer, route }: { viewer: Viewer; route: Route }) {
  const p = route.params;
  const filter = {
    ...(p.get('status') ? { statuses: [p.get('status')] } : {}),
    ...(p.get('kind') ? { kind: p.get('kind') } : {}),
    ...(p.get('assignee') ? { assignee: p.get('assignee') } : {}),
    ...(p.get('customer') ? { customerKey: p.get('customer') } : {}),
    ...(p.get('period') ? { period: p.get('period') } : {}),
  };
  const queue = useGraph('workQueue', { filter }, 15_000);
  const selected = p.get('item');
  const params = Object.fromEntries(p.entries());
  const items: any[] = queue.data?.workQueue.nodes ?? [];
  const kinds = [...new Set<string>((queue.data?.workQueueSummary ?? []).map((c: any) => c.kind))].sort();
  return (
    <div>
      <Section
        title="Work queue"
        actions={
          <button
            type="button"
            onClick={() =>
              download(
                'work-queue.csv',
                toCsv([
                  [
                    'id',
                    'kind',
                    'status',
                    'problem',
                    'remedy',
                    'held',
                    'amounts',
                    'customer',
                    'period',
                    'raised',
                    'assignee',
                  ],
                  ...items.map((i) => [
                    i.id,
                    i.kind,
                    i.status,
                    i.problem,
                    i.remedy,
                    heldText(i),
                    i.held.amounts.map((a: any) => `${a.amount} ${a.currency}`).join('; '),
                    i.customerKey,
                    i.period,
                    i.raisedAt,
                    i.assignee,
                  ]),
                ]),
              )
            }
          >
            Export CSV
          </button>
        }
      >
        <p class="muted">
          Business exceptions from every stage. Technical failures are under{' '}
          <a href={routeTo('dead-letters')}>Dead letters</a>. Refreshes every 15 seconds.
        </p>
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <Field label="Status">
            <select
              name="status"
              value={p.get('status') ?? ''}
              onChange={(e) => setParams({ ...params, status: e.currentTarget.value, item: null })}
            >
              {STATUS_CHOICES.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Kind">
            <select
              name="kind"
              value={p.get('kind') ?? ''}
              onChange={(e) => setParams({ ...params, kind: e.currentTarget.value })}
            >
              <option value="">Any</option>
              {kinds.map((k) => (
                <option key={k} value={k}>
                  {kindLabel(k)}
                </option>
              ))}
            </select>
          </Field>
          <FilterInput name="customer" label="Customer key" params={params} />
          <FilterInput name="period" label="Period (YYYY-MM)" params={params} />
          <FilterInput name="assignee" label="Assignee" params={params} />
          <button type="button" onClick={() => setParams({ assignee: viewer.subject })}>
            My items
          </button>
        </form>
        <ErrorBox error={queue.error} />
        <p class="muted">
          {queue.data?.workQueue.totalCount ?? items.length} item(s){queue.loading ? ' · refreshing…' : ''}
        </p>
        <table class="list" data-testid="work-queue">
          <thead>
            <tr>
              <th>Kind</th>
              <th>What is wrong</th>
              <th>Holds</th>
              <th>At stake</th>
              <th>Customer</th>
              <th>Period</th>
              <th>Raised</th>
              <th>Age</th>
              <th>Assignee</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {items.map((i) => (
              <tr
                key={i.id}
                class={i.id === selected ? 'selected' : ''}
                data-item-id={i.id}
                onClick={() => setParams({ ...params, item: i.id })}
              >
                <td>{kindLabel(i.kind)}</td>
                <td>{i.problem}</td>
                <td class="num">{heldText(i)}</td>
                <td class="num">
                  {i.held.amounts.length ? i.held.amounts.map((a: any) => <Amount key={a.currency} value={a} />) : '—'}
                </td>
                <td>{i.customerKey ?? '—'}</td>
                <td>{i.period ?? '—'}</td>
                <td>{formatDate(i.raisedAt)}</td>
                <td>{formatAge(i.ageSeconds)}</td>
                <td>{i.assignee ?? '—'}</td>
                <td>
                  <span class={`badge ${i.status}`}>{statusLabel(i.status)}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {selected && <WorkItemPanel key={selected} id={selected} viewer={viewer} onChanged={queue.reload} />}
    </div>
  );
}

/** A text filter kept in the route: typed freely, applied on Enter or when leaving the field. */
function FilterInput({ name, label, params }: { name: string; label: string; params: Record<string, string> }) {
  const [value, setValue] = useState(params[name] ?? '');
  const apply = () => value !== (params[name] ?? '') && setParams({ ...params, [name]: value.trim(), item: null });
  return (
    <Field label={label}>
      <input
        name={name}
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
        onBlur={apply}
        onKeyDown={(e) => e.key === 'Enter' && apply()}
      />
    </Field>
  );
}

function WorkItemPanel({ id, viewer, onChanged }: { id: string; viewer: Viewer; onChanged: () => Promise<void> }) {
  const item = useGraph('workItem', { id }, 5_000);
  const i = item.data?.workItem;
  const [message, setMessage] = useState('');
  const status = i?.status;
  // The item resolves when its records have run again: the list follows as soon as the panel sees it.
  useEffect(() => {
    if (status) void onChanged();
  }, [status]);
  const refresh = async (text: string) => {
    setMessage(text);
    await Promise.all([item.reload(), onChanged()]);
  };
  if (!i) return <ErrorBox error={item.error} />;
  const open = i.status === 'OPEN' || i.status === 'IN_PROGRESS';
  return (
    <Section title={`${kindLabel(i.kind)} · ${i.id}`}>
      <div class="panel" data-testid="work-item">
        <dl>
          <dt>Status</dt>
          <dd data-testid="work-item-status">{statusLabel(i.status)}</dd>
          <dt>What is wrong</dt>
          <dd>{i.problem}</dd>
          <dt>What would fix it</dt>
          <dd>{i.remedy}</dd>
          <dt>Holds</dt>
          <dd>
            {heldText(i)}{' '}
            {i.held.amounts.map((a: any) => (
              <Amount key={a.currency} value={a} />
            ))}
          </dd>
          <dt>Raised by</dt>
          <dd>
            {i.source}, {formatDate(i.raisedAt)} ({formatAge(i.ageSeconds)}) · correlation{' '}
            <code>{i.correlationId}</code>
          </dd>
          <dt>About</dt>
          <dd>{i.references.map((r: any) => `${r.name}: ${r.value}`).join(' · ') || '—'}</dd>
          <dt>Assignee</dt>
          <dd>{i.assignee ?? 'nobody'}</dd>
          {i.resolution && (
            <>
              <dt>Resolved</dt>
              <dd data-testid="work-item-resolution">
                {i.resolution.action}: {i.resolution.detail}. Afterwards: {i.resolution.afterwards}. By{' '}
                {i.resolution.resolvedBy ?? 'the system'}, {formatDate(i.resolution.resolvedAt)}.
              </dd>
            </>
          )}
          {i.dismissal && (
            <>
              <dt>Dismissed</dt>
              <dd>
                {i.dismissal.reason} — {i.dismissal.dismissedBy}, {formatDate(i.dismissal.dismissedAt)}
              </dd>
            </>
          )}
        </dl>
        {message && (
          <p class="ok" role="status">
            {message}
          </p>
        )}
        {open && mayAct(viewer) && (
          <div class="actions">
            <div class="row">
              {i.assignee !== viewer.subject && (
                <Action
                  label="Assign to me"
                  testId="assign-to-me"
                  run={() => graph('assignWorkItem', { id })}
                  done={() => refresh('Assigned to you.')}
                />
              )}
              {i.assignee && (
                <Action
                  label="Give back to the queue"
                  run={() => graph('assignWorkItem', { id, unassign: true })}
                  done={() => refresh('Back in the queue.')}
                />
              )}
            </div>
            <Resolutions item={i} onDone={refresh} />
            <Dismiss id={id} onDone={refresh} />
          </div>
        )}
        <h3>History</h3>
        <ol class="history">
          {i.history.map((h: any, n: number) => (
            <li key={n}>
              {formatDate(h.at)} · {h.what} · {h.by ?? 'system'} — {h.detail}
            </li>
          ))}
        </ol>
      </div>
    </Section>
  );
}

function Resolutions({ item, onDone }: { item: any; onDone: (message: string) => Promise<void> }) {
  const [customerKey, setCustomerKey] = usePersisted(`map.${item.id}`);
  const [name, setName] = usePersisted(`create.name.${item.id}`);
  const [currency, setCurrency] = usePersisted(`create.currency.${item.id}`, 'USD');
  const [planId, setPlanId] = usePersisted(`subscribe.plan.${item.id}`);
  const [startsAt, setStartsAt] = usePersisted(`subscribe.starts.${item.id}`, item.period ? `${item.period}-01` : '');
  const plans = useGraph('pricePlans', item.kind === 'SUBSCRIPTION_NOT_ACTIVE' ? {} : null);
  const resolved = 'Done: the held records run again by themselves; this item resolves when they have.';
  if (item.kind === 'CUSTOMER_UNKNOWN')
    return (
      <div class="resolutions">
        <div class="row">
          <Field label="Map to the existing customer with key">
            <input name="mapToCustomerKey" value={customerKey} onInput={(e) => setCustomerKey(e.currentTarget.value)} />
          </Field>
          <Action
            label="Map to this customer"
            kind="primary"
            testId="map-customer"
            disabled={!customerKey.trim()}
            run={() =>
              graph('resolveUsageException', { id: item.id, resolution: { mapToCustomerKey: customerKey.trim() } })
            }
            done={() => onDone(resolved)}
          />
        </div>
        <div class="row">
          <Field label="…or create a customer named">
            <input name="customerName" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Currency">
            <input name="currency" size={4} value={currency} onInput={(e) => setCurrency(e.currentTarget.value)} />
          </Field>
          <Action
            label="Create the customer"
            disabled={!name.trim()}
            run={() =>
              graph('resolveUsageException', {
                id: item.id,
                resolution: { createCustomer: { name: name.trim(), currency: currency.trim() } },
              })
            }
            done={() => onDone(resolved)}
          />
        </div>
      </div>
    );
  if (item.kind === 'SUBSCRIPTION_NOT_ACTIVE')
    return (
      <div class="resolutions row">
        <Field label="Subscribe to plan">
          <select name="pricePlanId" value={planId} onChange={(e) => setPlanId(e.currentTarget.value)}>
            <option value="">Choose a plan…</option>
            {(plans.data?.pricePlans.nodes ?? []).map((pl: any) => (
              <option key={pl.id} value={pl.id}>
                {pl.name} ({pl.key} v{pl.version}, {pl.currency})
              </option>
            ))}
          </select>
        </Field>
        <Field label="Starting (date)">
          <input name="startsAt" type="date" value={startsAt} onInput={(e) => setStartsAt(e.currentTarget.value)} />
        </Field>
        <Action
          label="Create the subscription"
          kind="primary"
          disabled={!planId || !startsAt}
          run={() =>
            graph('resolveUsageException', {
              id: item.id,
              resolution: { createSubscription: { pricePlanId: planId, startsAt: `${startsAt}T00:00:00Z` } },
            })
          }
          done={() => onDone(resolved)}
        />
      </div>
    );
  if (item.kind === 'INVALID_USAGE')
    return (
      <div class="resolutions">
        <a class="button primary" href={routeTo('quarantine', [], { group: item.id })} data-testid="open-quarantine">
          Correct or discard these events in the quarantine
        </a>
      </div>
    );
  if (item.kind === 'PRICING_POLICY')
    return (
      <div class="resolutions">
        <Action
          label="Approve the negotiated price"
          kind="primary"
          run={() => graph('approvePricingException', { id: item.id })}
          done={() => onDone('Approved: the period is rated now.')}
        />
        <p class="muted">Or correct the contract terms: the rating then runs by itself and this item resolves.</p>
      </div>
    );
  if (item.kind === 'ACCOUNT_MAPPING_MISSING') return <AddMappings item={item} onDone={onDone} />;
  if (item.kind === 'ERP_CUSTOMER_UNKNOWN') return <SetErpCustomer item={item} onDone={onDone} />;
  if (item.kind === 'PERIOD_CLOSED' && item.period) {
    const postingId = referenceOf(item, 'postingId');
    const entity = referenceOf(item, 'legalEntityCode');
    return (
      <div class="resolutions">
        <div class="row">
          {postingId && (
            <Action
              label="Post in the next open period"
              kind="primary"
              testId="post-in-next-open-period"
              run={() => graph('postInNextOpenPeriod', { postingId })}
              done={() => onDone('Moved to the next open period and sent to the ledger; the document date is kept.')}
            />
          )}
          <Action
            label={`Reopen ${item.period}${entity ? ` for ${entity}` : ''}`}
            testId="reopen-period"
            run={() => graph('reopenEntityPeriod', { key: item.period, legalEntityCode: entity ?? null })}
            done={() => onDone(`${item.period} reopened: the held postings are sent by themselves.`)}
          />
        </div>
        <p class="muted">
          Closed for the whole group? Reopen it on the <a href={routeTo('periods')}>Periods</a> page.
        </p>
        <InvoiceLink item={item} />
      </div>
    );
  }
  if (item.kind === 'ADJUSTMENT_AWAITING_NOTE') {
    const invoiceId = referenceOf(item, 'invoiceId');
    return (
      <div class="resolutions">
        <div class="row">
          {invoiceId && (
            <Action
              label="Issue the note"
              kind="primary"
              testId="issue-note"
              run={async () => {
                const { issueNotes } = await graph('issueNotes', { invoiceIds: [invoiceId] });
                const [result] = issueNotes;
                if (result?.status === 'FAILED') throw new Error(result.message ?? 'issuing the note failed');
                return result;
              }}
              done={(r: any) =>
                onDone(
                  r?.notes?.length
                    ? `Issued ${r.notes.map((n: any) => n.number).join(', ')}; it is posted to the ledger by itself.`
                    : 'Nothing open any more.',
                )
              }
            />
          )}
        </div>
        <InvoiceLink item={item} />
      </div>
    );
  }
  return <p class="muted">{item.remedy}</p>;
}

const referenceOf = (item: any, name: string): string | undefined =>
  item.references.find((r: any) => r.name === name)?.value;

function InvoiceLink({ item }: { item: any }) {
  const invoiceId = referenceOf(item, 'invoiceId');
  if (!invoiceId) return null;
  return (
    <p>
      <a href={routeTo('invoice', [invoiceId])}>
        Open invoice {referenceOf(item, 'invoiceNumber') ?? referenceOf(item, 'documentNumber') ?? invoiceId}
      </a>
    </p>
  );
}

const MAPPING_LABELS: Record<string, string> = {
  RECEIVABLE_ACCOUNT: 'Receivable account of legal entity',
  DEFERRED_REVENUE_ACCOUNT: 'Deferred revenue account of legal entity',
  UNBILLED_RECEIVABLE_ACCOUNT: 'Unbilled receivable account of legal entity',
  REVENUE_ACCOUNT: 'Revenue account of product line',
  TAX_PAYABLE_ACCOUNT: 'Tax payable account of jurisdiction',
  ERP_CUSTOMER_ID: 'ERP customer id of customer',
};

/** One input per missing mapping: adding it releases the held posting, which is built and sent by itself. */
function AddMappings({ item, onDone }: { item: any; onDone: (message: string) => Promise<void> }) {
  const missing: Array<{ kind: string; key: string }> = Array.isArray(item.details?.missing)
    ? item.details.missing
    : [];
  return (
    <div class="resolutions">
      {missing.map((m) => (
        <AddMapping key={`${m.kind}:${m.key}`} itemId={item.id} kind={m.kind} mappingKey={m.key} onDone={onDone} />
      ))}
      {missing.length === 0 && <p class="muted">{item.remedy}</p>}
      <InvoiceLink item={item} />
    </div>
  );
}

function AddMapping(props: {
  itemId: string;
  kind: string;
  mappingKey: string;
  onDone: (message: string) => Promise<void>;
}) {
  const [value, setValue] = usePersisted(`mapping.${props.itemId}.${props.kind}.${props.mappingKey}`);
  return (
    <div class="row">
      <Field label={`${MAPPING_LABELS[props.kind] ?? props.kind} “${props.mappingKey}”`}>
        <input
          name={`mapping-${props.kind}`}
          placeholder={props.kind === 'ERP_CUSTOMER_ID' ? 'ERP customer id' : 'ledger account, e.g. revenue:api'}
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
      </Field>
      <Action
        label="Add the mapping"
        kind="primary"
        testId="add-mapping"
        disabled={!value.trim()}
        run={() =>
          graph('setAccountMapping', { input: { kind: props.kind, key: props.mappingKey, value: value.trim() } })
        }
        done={() => props.onDone('Mapping added: the held posting is built again and sent to the ledger by itself.')}
      />
    </div>
  );
}

function SetErpCustomer({ item, onDone }: { item: any; onDone: (message: string) => Promise<void> }) {
  const customerId = referenceOf(item, 'customerId');
  const [erpId, setErpId] = usePersisted(`erp-customer.${item.id}`);
  return (
    <div class="resolutions">
      <div class="row">
        <Field label={`ERP customer id of ${referenceOf(item, 'customerKey') ?? customerId}`}>
          <input name="erpCustomerId" value={erpId} onInput={(e) => setErpId(e.currentTarget.value)} />
        </Field>
        <Action
          label="Set the ERP customer id"
          kind="primary"
          testId="set-erp-customer"
          disabled={!erpId.trim() || !customerId}
          run={() =>
            graph('setAccountMapping', { input: { kind: 'ERP_CUSTOMER_ID', key: customerId, value: erpId.trim() } })
          }
          done={() => onDone('ERP customer id set: the held posting is sent by itself once the ERP knows it.')}
        />
      </div>
      <p class="muted">Or create the customer in the ERP: the posting is then sent by itself.</p>
      <InvoiceLink item={item} />
    </div>
  );
}

function Dismiss({ id, onDone }: { id: string; onDone: (message: string) => Promise<void> }) {
  const [reason, setReason] = usePersisted(`dismiss.${id}`);
  return (
    <div class="row">
      <Field label="Dismiss, because">
        <input name="dismissReason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </Field>
      <Action
        label="Dismiss"
        kind="danger"
        disabled={!reason.trim()}
        run={() => graph('dismissWorkItem', { id, reason: reason.trim() })}
        done={() => onDone('Dismissed; the held records stay where they are.')}
      />
    </div>
  );
}
