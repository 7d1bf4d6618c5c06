// Small pieces every page uses: loading data (refreshed without touching what the user is typing), inputs that
// survive a reload, the route's parameters, errors in words, and buttons that run an action once.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { GraphError, graph } from './graph';
import type { OperationName } from './operations';
import { formatMoney, type Money } from './format';

export interface Loaded<T> {
  data: T | null;
  error: GraphError | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Loads an operation, and again every `refreshMs`: only the data changes, so inputs and open panels stay as they are. */
export function useGraph<T = any>(
  name: OperationName,
  variables: Record<string, unknown> | null,
  refreshMs = 0,
): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<GraphError | null>(null);
  const [loading, setLoading] = useState(true);
  const key = JSON.stringify(variables);
  const latest = useRef(0);
  /** When the oldest load still in flight started (0: none). */
  const inFlightSince = useRef(0);
  const reload = useCallback(async () => {
    if (variables === null) return;
    const call = ++latest.current;
    if (!inFlightSince.current) inFlightSince.current = Date.now();
    setLoading(true);
    try {
      const result = await graph<T>(name, variables);
      if (call === latest.current) {
        setData(result);
        setError(null);
      }
    } catch (e) {
      if (call === latest.current) setError(e instanceof GraphError ? e : new GraphError(String(e), 'ERROR'));
    } finally {
      if (call === latest.current) {
        setLoading(false);
        inFlightSince.current = 0;
      }
    }
  }, [name, key]);
  useEffect(() => {
    void reload();
    if (!refreshMs) return;
    // A refresh waits for the load in flight (up to a minute): one that superseded it would, on a server slower than
    // refreshMs, throw away every answer and never show one. A reload after an action still supersedes it.
    const patience = Math.max(60_000, 4 * refreshMs);
    const timer = setInterval(() => {
      const waiting = inFlightSince.current && Date.now() - inFlightSince.current < patience;
      if (document.visibilityState === 'visible' && !waiting) void reload();
    }, refreshMs);
    return () => clearInterval(timer);
  }, [reload, refreshMs]);
  return { data, error, loading, reload };
}

/** A value kept in this tab's session storage: typing survives a reload and an auto-refresh. */
export function usePersisted(key: string, initial = ''): [string, (v: string) => void] {
  const storageKey = `usagegraph.input.${key}`;
  const [value, setValue] = useState<string>(() => sessionStorage.getItem(storageKey) ?? initial);
  const set = useCallback(
    (v: string) => {
      setValue(v);
      if (v === initial) sessionStorage.removeItem(storageKey);
      else sessionStorage.setItem(storageKey, v);
    },
    [storageKey, initial],
  );
  return [value, set];
}

/** The current route: `#/queue?status=OPEN` → { page: 'queue', params }. */
export function parseRoute(hash: string): { page: string; rest: string[]; params: URLSearchParams } {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const [page = 'queue', ...rest] = path.split('/').map(decodeURIComponent);
  return { page: page || 'queue', rest, params: new URLSearchParams(query) };
}

export function routeTo(page: string, rest: string[] = [], params: Record<string, string | null | undefined> = {}) {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => !!e[1])).toString();
  return `#/${[page, ...rest].map(encodeURIComponent).join('/')}${query ? `?${query}` : ''}`;
}

/** Replaces the route's parameters (filters) without adding a history entry per keystroke. */
export function setParams(params: Record<string, string | null | undefined>) {
  const { page, rest } = parseRoute(location.hash);
  history.replaceState(null, '', routeTo(page, rest, params));
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function ErrorBox({ error }: { error: GraphError | null }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <strong>{error.message}</strong>
      {error.field && <div>Field: {error.field}</div>}
      {error.expected && <div>Accepted: {error.expected}</div>}
      <div class="muted">Code: {error.code}</div>
    </div>
  );
}

/** A button that runs an action, shows it is busy, and reports what came back. */
export function Action(props: {
  label: string;
  run: () => Promise<unknown>;
  done?: (result: unknown) => void;
  disabled?: boolean;
  kind?: 'primary' | 'danger';
  testId?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<GraphError | null>(null);
  return (
    <span class="action">
      <button
        type="button"
        class={props.kind ?? ''}
        data-testid={props.testId}
        disabled={busy || props.disabled}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            // Run first: `done?.(await run())` would skip the run itself when there is no `done`.
            const result = await props.run();
            props.done?.(result);
          } catch (e) {
            setError(e instanceof GraphError ? e : new GraphError(String(e), 'ERROR'));
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? `${props.label}…` : props.label}
      </button>
      <ErrorBox error={error} />
    </span>
  );
}

export function Amount({ value }: { value: Money | null | undefined }) {
  return <span class="num">{formatMoney(value)}</span>;
}

export function Section(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section>
      <header class="section-head">
        <h2>{props.title}</h2>
        <div>{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Field(props: { label: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span>{props.label}</span>
      {props.children}
    </label>
  );
}
