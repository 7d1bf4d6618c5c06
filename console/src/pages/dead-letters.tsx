// Technical failures, apart from business exceptions: postings whose retries ran out, postings held by a business
// cause (released by fixing the cause, not by a replay), and webhook deliveries that ran out of retries.
import { useState } from 'preact/hooks';
import { graph } from '../graph';
import { formatDate, formatNumber } from '../format';
import { Action, Amount, ErrorBox, Section, routeTo, useGraph } from '../ui';
import { mayAct, type Viewer } from '../viewer';

export function DeadLettersPage({ viewer }: { viewer: Viewer }) {
  const data = useGraph('deadLetters', {}, 15_000);
  const [message, setMessage] = useState('');
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const d = data.data;
  const canAct = mayAct(viewer);
  const done = async (text: string) => {
    setMessage(text);
    setChosen(new Set());
    await data.reload();
  };
  const postingRows = (nodes: any[], replayable: boolean) =>
    nodes.map((p) => (
      <tr key={p.id}>
        <td>
          <a href={routeTo('invoice', [p.invoice.id])}>{p.invoice.number ?? p.invoice.id}</a>
        </td>
        <td>{p.journalEntry.accountingPeriod}</td>
        <td class="num">
          <Amount value={p.journalEntry.totalDebits} />
        </td>
        <td>{formatNumber(p.attempts)}</td>
        <td>
          {p.lastError?.code}: {p.lastError?.message}
          {p.lastError?.remedy && <div class="muted">{p.lastError.remedy}</div>}
        </td>
        <td>
          {replayable && canAct ? (
            <Action
              label="Replay"
              run={() => graph('replayErpPosting', { id: p.id })}
              done={(r: any) => done(`Posting ${p.id}: ${r.replayErpPosting.status}`)}
            />
          ) : (
            !replayable && <a href={routeTo('periods')}>Periods</a>
          )}
        </td>
      </tr>
    ));
  const head = (
    <thead>
      <tr>
        <th>Invoice</th>
        <th>Accounting period</th>
        <th>Amount</th>
        <th>Attempts</th>
        <th>Last error</th>
        <th />
      </tr>
    </thead>
  );
  return (
    <div>
      <ErrorBox error={data.error} />
      {message && (
        <p class="ok" role="status">
          {message}
        </p>
      )}
      <Section title={`ERP postings that ran out of retries (${d?.dead.totalCount ?? 0})`}>
        <table class="list">
          {head}
          <tbody>{postingRows(d?.dead.nodes ?? [], true)}</tbody>
        </table>
      </Section>
      <Section title={`ERP postings held by a business cause (${d?.held.totalCount ?? 0})`}>
        <p class="muted">These are released by fixing the cause (e.g. reopening the period), not by a replay.</p>
        <table class="list">
          {head}
          <tbody>{postingRows(d?.held.nodes ?? [], false)}</tbody>
        </table>
      </Section>
      <Section
        title="Webhook deliveries that ran out of retries"
        actions={
          canAct && (
            <Action
              label={`Replay ${chosen.size} chosen`}
              disabled={!chosen.size}
              run={() => graph('replayWebhookDeliveries', { ids: [...chosen] })}
              done={(r: any) =>
                done(
                  r.replayWebhookDeliveries
                    .map((x: any) => `${x.id}: ${x.replayed ? 'replayed' : (x.error ?? x.status)}`)
                    .join('; '),
                )
              }
            />
          )
        }
      >
        <table class="list">
          <thead>
            <tr>
              <th />
              <th>Event</th>
              <th>About</th>
              <th>Receiver</th>
              <th>Attempts</th>
              <th>Last outcome</th>
            </tr>
          </thead>
          <tbody>
            {(d?.webhookDeadLetters.nodes ?? []).map((w: any) => (
              <tr key={w.id}>
                <td>
                  <input
                    type="checkbox"
                    checked={chosen.has(w.id)}
                    onChange={(e) => {
                      const next = new Set(chosen);
                      if (e.currentTarget.checked) next.add(w.id);
                      else next.delete(w.id);
                      setChosen(next);
                    }}
                  />
                </td>
                <td>{w.eventType}</td>
                <td>{w.eventSubject}</td>
                <td>{w.endpointDescription}</td>
                <td>{formatNumber(w.attempts)}</td>
                <td>
                  {w.lastOutcome} {formatDate(w.lastAttemptAt)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
