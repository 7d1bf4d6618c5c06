// Usage types: what products send, with their fields, dimensions, aggregation and lifecycle (read-only here).
import { formatDate } from '../format';
import { ErrorBox, Field, Section, parseRoute, setParams, useGraph } from '../ui';

type Route = ReturnType<typeof parseRoute>;

export function UsageTypesPage({ route }: { route: Route }) {
  const status = route.params.get('status') ?? '';
  const list = useGraph('usageTypes', { status: status || null });
  return (
    <Section title="Usage types">
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Status">
          <select name="status" value={status} onChange={(e) => setParams({ status: e.currentTarget.value })}>
            <option value="">Any</option>
            <option value="DRAFT">Draft</option>
            <option value="ACTIVE">Active</option>
            <option value="DEPRECATED">Deprecated</option>
            <option value="RETIRED">Retired</option>
          </select>
        </Field>
      </form>
      <ErrorBox error={list.error} />
      <table class="list">
        <thead>
          <tr>
            <th>Key</th>
            <th>Version</th>
            <th>Status</th>
            <th>Unit</th>
            <th>Product line</th>
            <th>Fields</th>
            <th>Aggregation</th>
            <th>Active since</th>
          </tr>
        </thead>
        <tbody>
          {(list.data?.usageTypes.nodes ?? []).map((t: any) => (
            <tr key={t.id}>
              <td>
                {t.key}
                <div class="muted">{t.description}</div>
              </td>
              <td>{t.version}</td>
              <td>
                {t.status}
                {t.sunsetAt ? ` (sunset ${formatDate(t.sunsetAt)})` : ''}
              </td>
              <td>{t.unit}</td>
              <td>{t.productLine}</td>
              <td>
                {t.fields.map((f: any) => `${f.name}: ${f.type.toLowerCase()}${f.required ? '' : '?'}`).join(', ')}
                {t.dimensions.length ? <div class="muted">by {t.dimensions.join(', ')}</div> : null}
              </td>
              <td>
                {t.aggregation.type}
                {t.aggregation.field ? ` of ${t.aggregation.field}` : ''}
              </td>
              <td>{formatDate(t.activatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
