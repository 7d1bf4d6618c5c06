// The finance console: pages over the graph, acting with the credential the person signs in with (never its own).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './console.css';
import { storeCredential, storedCredential } from './credential';
import { graph, GraphError } from './graph';
import { ErrorBox, Field, parseRoute, routeTo } from './ui';
import { WorkQueuePage } from './pages/work-queue';
import { ReconciliationPage } from './pages/reconciliation';
import { CustomersPage } from './pages/customers';
import { InvoicesPage, InvoicePage } from './pages/invoices';
import { LineagePage } from './pages/lineage';
import { QuarantinePage } from './pages/quarantine';
import { DeadLettersPage } from './pages/dead-letters';
import { UsageTypesPage } from './pages/usage-types';
import { PeriodsPage } from './pages/periods';
import type { Viewer } from './viewer';

const PAGES: Array<[string, string]> = [
  ['queue', 'Work queue'],
  ['reconciliation', 'Reconciliation'],
  ['customers', 'Customers'],
  ['invoices', 'Invoices'],
  ['quarantine', 'Quarantine'],
  ['dead-letters', 'Dead letters'],
  ['usage-types', 'Usage types'],
  ['periods', 'Periods'],
];

function SignIn({ onSignedIn, error }: { onSignedIn: () => void; error: GraphError | null }) {
  const [credential, setCredential] = useState('');
  return (
    <main class="sign-in">
      <h1>UsageGraph finance console</h1>
      <p>Sign in with your API key or OIDC token. The console acts as you: it sees and does what your role may.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          storeCredential(credential);
          onSignedIn();
        }}
      >
        <Field label="API key or OIDC token">
          <input
            name="credential"
            type="password"
            autocomplete="off"
            value={credential}
            onInput={(e) => setCredential(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
      <ErrorBox error={error} />
    </main>
  );
}

function App() {
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [error, setError] = useState<GraphError | null>(null);
  const [checking, setChecking] = useState(!!storedCredential());
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onHash = () => setHash(location.hash);
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const signIn = async () => {
    setChecking(true);
    try {
      setViewer((await graph<{ viewer: Viewer }>('viewer')).viewer);
      setError(null);
    } catch (e) {
      storeCredential(null);
      setError(e as GraphError);
    } finally {
      setChecking(false);
    }
  };
  useEffect(() => {
    if (storedCredential()) void signIn();
  }, []);
  if (checking) return <p class="muted">Signing in…</p>;
  if (!viewer) return <SignIn onSignedIn={signIn} error={error} />;
  const route = parseRoute(hash);
  const page = () => {
    switch (route.page) {
      case 'reconciliation':
        return <ReconciliationPage viewer={viewer} route={route} />;
      case 'customers':
        return <CustomersPage route={route} />;
      case 'invoices':
        return <InvoicesPage route={route} />;
      case 'invoice':
        return <InvoicePage id={route.rest[0] ?? ''} />;
      case 'lineage':
        return <LineagePage lineId={route.rest[0] ?? ''} />;
      case 'quarantine':
        return <QuarantinePage viewer={viewer} route={route} />;
      case 'dead-letters':
        return <DeadLettersPage viewer={viewer} />;
      case 'usage-types':
        return <UsageTypesPage route={route} />;
      case 'periods':
        return <PeriodsPage viewer={viewer} />;
      default:
        return <WorkQueuePage viewer={viewer} route={route} />;
    }
  };
  return (
    <div class="shell">
      <nav>
        <strong class="brand">UsageGraph</strong>
        {PAGES.map(([id, label]) => (
          <a key={id} href={routeTo(id)} class={route.page === id ? 'current' : ''}>
            {label}
          </a>
        ))}
        <span class="who" data-testid="viewer">
          {viewer.name} · {viewer.roles.join(', ')}
        </span>
        <a href="/console/explorer.html">GraphQL explorer</a>
        <button
          type="button"
          onClick={() => {
            storeCredential(null);
            setViewer(null);
          }}
        >
          Sign out
        </button>
      </nav>
      <main>{page()}</main>
    </div>
  );
}

render(<App />, document.getElementById('console')!);
