// The quarantine: rejected events as they were sent, with what was wrong; correct and replay one, replay or discard
// (with a reason) several. Nothing is deleted.
import { useState } from 'preact/hooks';
import { graph } from '../graph';
import { formatDate, formatNumber } from '../format';
import { Action, ErrorBox, Field, Section, parseRoute, setParams, useGraph, usePersisted } from '../ui';
import { mayAct, type Viewer } from '../viewer';

type Route = ReturnType<typeof parseRoute>;

export function QuarantinePage({ viewer, route }: { viewer: Viewer; route: Route }) {
  const p = route.params;
  const status = p.get('status') ?? 'OPEN';
  const group = p.get('group');
  const list = useGraph(
    'quarantine',
    { status: status === 'ALL' ? null : status, groupId: group, after: p.get('after') },
    15_000,
  );
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [reason, setReason] = usePersisted('quarantine.discard');
  const [message, setMessage] = useState('');
  const entries: any[] = list.data?.quarantinedEvents.nodes ?? [];
  const params = Object.fromEntries(p.entries());
  const after = async (text: string) => {
    setMessage(text);
    setChosen(new Set());
    await list.reload();
  };
  return (
    <Section title={`Quarantine${group ? ` · group ${group}` : ''}`}>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Status">
          <select
            name="status"
            value={status}
            onChange={(e) => setParams({ ...params, status: e.currentTarget.value })}
          >
            <option value="OPEN">Open</option>
            <option value="RESOLVED">Resolved</option>
            <option value="DISCARDED">Discarded</option>
            <option value="ALL">All</option>
          </select>
        </Field>
        {group && (
          <button type="button" onClick={() => setParams({ ...params, group: null })}>
            Show every group
          </button>
        )}
      </form>
      <ErrorBox error={list.error} />
      {message && (
        <p class="ok" role="status">
          {message}
        </p>
      )}
      <p class="muted">{formatNumber(list.data?.quarantinedEvents.totalCount ?? entries.length)} event(s)</p>
      {mayAct(viewer) && status === 'OPEN' && (
        <div class="row">
          <Action
            label={`Replay ${chosen.size} chosen`}
            disabled={!chosen.size}
            run={() => graph('replayQuarantinedEvents', { ids: [...chosen] })}
            done={(r: any) =>
              after(
                r.replayQuarantinedEvents.map((x: any) => `${x.quarantineId}: ${x.status}`).join('; ') ||
                  'Nothing replayed.',
              )
            }
          />
          <Field label="Discard, because">
            <input name="discardReason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </Field>
          <Action
            label={`Discard ${chosen.size} chosen`}
            kind="danger"
            disabled={!chosen.size || !reason.trim()}
            run={() => graph('discardQuarantinedEvents', { ids: [...chosen], reason: reason.trim() })}
            done={() => after('Discarded (kept, with the reason).')}
          />
        </div>
      )}
      {list.data?.quarantinedEvents.pageInfo.hasNextPage && (
        <button
          type="button"
          onClick={() => setParams({ ...params, after: list.data.quarantinedEvents.pageInfo.endCursor })}
        >
          Next 100
        </button>
      )}
      <div class="cards">
        {entries.map((q) => (
          <QuarantinedEvent
            key={q.id}
            entry={q}
            canAct={mayAct(viewer)}
            chosen={chosen.has(q.id)}
            onChoose={(on) => {
              const next = new Set(chosen);
              if (on) next.add(q.id);
              else next.delete(q.id);
              setChosen(next);
            }}
            onCorrected={after}
          />
        ))}
      </div>
    </Section>
  );
}

function QuarantinedEvent(props: {
  entry: any;
  canAct: boolean;
  chosen: boolean;
  onChoose: (on: boolean) => void;
  onCorrected: (message: string) => Promise<void>;
}) {
  const q = props.entry;
  const [editing, setEditing] = useState(false);
  const [text, setText] = usePersisted(`quarantine.correct.${q.id}`, q.payloadText);
  const [parseError, setParseError] = useState('');
  return (
    <article class="card" data-quarantine-id={q.id}>
      <header class="row">
        {props.canAct && q.status === 'OPEN' && (
          <input type="checkbox" checked={props.chosen} onChange={(e) => props.onChoose(e.currentTarget.checked)} />
        )}
        <strong>{q.id}</strong>
        <span class={`badge ${q.status}`}>{q.status}</span>
        <span class="muted">
          received {formatNumber(q.receivedCount)}× · last {formatDate(q.lastReceivedAt)} · correlation{' '}
          <code>{q.correlationId}</code>
        </span>
      </header>
      <ul class="problems">
        {q.problems.map((pr: any, n: number) => (
          <li key={n}>
            <code>{pr.field}</code>: {pr.reason}
            {pr.expected ? ` (expected ${pr.expected})` : ''}
          </li>
        ))}
      </ul>
      {q.discard && (
        <p class="muted">
          Discarded by {q.discard.discardedBy}, {formatDate(q.discard.discardedAt)}: {q.discard.reason}
        </p>
      )}
      {q.usageEventId && <p class="ok">Stored as usage event {q.usageEventId}.</p>}
      {!editing && <pre>{q.payloadText}</pre>}
      {editing && (
        <>
          <textarea name="correctedEvent" rows={10} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          {parseError && <p class="error">{parseError}</p>}
          <Action
            label="Replay the corrected event"
            kind="primary"
            testId="replay-corrected"
            run={async () => {
              let event: unknown;
              try {
                event = JSON.parse(text);
                setParseError('');
              } catch (e) {
                setParseError(`Not valid JSON: ${(e as Error).message}`);
                return null;
              }
              return graph('correctQuarantinedEvent', { id: q.id, event });
            }}
            done={(r: any) => {
              if (!r) return;
              const c = r.correctQuarantinedEvent;
              setEditing(false);
              void props.onCorrected(
                c.problems.length
                  ? `Still rejected: ${c.problems.map((p: any) => `${p.field}: ${p.reason}`).join('; ')}`
                  : `Corrected: ${c.status}${c.usageEventId ? `, stored as ${c.usageEventId}` : ''}.`,
              );
            }}
          />
        </>
      )}
      {props.canAct && q.status === 'OPEN' && !editing && (
        <button type="button" data-testid="correct" onClick={() => setEditing(true)}>
          Correct…
        </button>
      )}
    </article>
  );
}
