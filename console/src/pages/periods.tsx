// Accounting periods: close one (postings dated in it are held) or reopen it (they post by themselves).
import { useState } from 'preact/hooks';
import { graph } from '../graph';
import { formatDate } from '../format';
import { Action, ErrorBox, Field, Section, routeTo, useGraph, usePersisted } from '../ui';
import { mayAct, type Viewer } from '../viewer';

export function PeriodsPage({ viewer }: { viewer: Viewer }) {
  const list = useGraph('periods', {});
  const [key, setKey] = usePersisted('periods.key');
  const [message, setMessage] = useState('');
  const canAct = mayAct(viewer);
  const done = async (text: string) => {
    setMessage(text);
    await list.reload();
  };
  return (
    <Section title="Accounting periods">
      <p class="muted">A period never closed is open. Closing holds postings dated in it; reopening releases them.</p>
      <ErrorBox error={list.error} />
      {message && (
        <p class="ok" role="status">
          {message}
        </p>
      )}
      {canAct && (
        <div class="row">
          <Field label="Period (YYYY-MM)">
            <input name="periodKey" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
          </Field>
          <Action
            label="Close"
            kind="danger"
            disabled={!key.trim()}
            run={() => graph('closePeriod', { key: key.trim() })}
            done={(r: any) => done(`${r.closeAccountingPeriod.key} is ${r.closeAccountingPeriod.status}.`)}
          />
          <Action
            label="Reopen"
            disabled={!key.trim()}
            run={() => graph('reopenPeriod', { key: key.trim() })}
            done={(r: any) => done(`${r.reopenAccountingPeriod.key} is ${r.reopenAccountingPeriod.status}.`)}
          />
        </div>
      )}
      <table class="list">
        <thead>
          <tr>
            <th>Period</th>
            <th>Status</th>
            <th>Changed</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(list.data?.accountingPeriods.nodes ?? []).map((p: any) => (
            <tr key={p.key}>
              <td>{p.key}</td>
              <td>{p.status}</td>
              <td>{formatDate(p.changedAt)}</td>
              <td>
                <a href={routeTo('reconciliation', [], { period: p.key })}>Reconcile</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
