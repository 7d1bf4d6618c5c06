// "Why is this on my invoice?": one invoice line traced back to its usage events and forward to the ERP document,
// with the correlation id and the time at every hop.
import type { ComponentChildren } from 'preact';
import { formatDate, formatNumber } from '../format';
import { Amount, ErrorBox, Section, routeTo, useGraph } from '../ui';

function Hop(props: { title: string; at?: string | null; correlationId?: string; children: ComponentChildren }) {
  return (
    <li class="hop">
      <h3>{props.title}</h3>
      <p class="muted">
        {props.at ? formatDate(props.at) : ''}
        {props.correlationId && (
          <>
            {' '}
            · correlation <code>{props.correlationId}</code>
          </>
        )}
      </p>
      {props.children}
    </li>
  );
}

export function LineagePage({ lineId }: { lineId: string }) {
  const lineage = useGraph('lineage', { id: lineId });
  const line = lineage.data?.invoiceLine;
  if (!line) return lineage.loading ? <p class="muted">Tracing…</p> : <ErrorBox error={lineage.error} />;
  const charge = line.ratedCharge;
  const aggregate = charge.aggregate;
  const journal = line.invoice.erpPostings.flatMap((p: any) =>
    p.journalEntry.lines
      .filter((jl: any) => jl.invoiceLines.some((il: any) => il.id === line.id))
      .map((jl: any) => ({ ...jl, posting: p })),
  );
  return (
    <Section
      title={`Why ${line.description} is on invoice ${line.invoice.number ?? line.invoice.id}`}
      actions={<a href={routeTo('invoice', [line.invoice.id])}>Back to the invoice</a>}
    >
      <ol class="lineage" data-testid="lineage">
        {aggregate && (
          <Hop title={`Usage events (${formatNumber(aggregate.eventCount)})`} correlationId={undefined}>
            <table class="list" data-testid="lineage-events">
              <thead>
                <tr>
                  <th>Event</th>
                  <th>Source</th>
                  <th>Happened</th>
                  <th>Received</th>
                  <th>Quantity</th>
                  <th>Correlation id</th>
                </tr>
              </thead>
              <tbody>
                {aggregate.events.nodes.map((e: any) => (
                  <tr key={e.id}>
                    <td>{e.eventId}</td>
                    <td>{e.source}</td>
                    <td>{formatDate(e.timestamp)}</td>
                    <td>{formatDate(e.receivedAt)}</td>
                    <td class="num">{formatNumber(e.quantity)}</td>
                    <td>
                      <code>{e.correlationId}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {aggregate.events.pageInfo.hasNextPage && <p class="muted">The first 20 events are shown.</p>}
          </Hop>
        )}
        {aggregate && (
          <Hop title="Aggregate" at={aggregate.computedAt} correlationId={aggregate.correlationId}>
            <p>
              {formatNumber(aggregate.quantity)} {aggregate.usageType.unit} of {aggregate.usageType.key} v
              {aggregate.usageType.version} from {formatNumber(aggregate.eventCount)} events
            </p>
          </Hop>
        )}
        <Hop
          title={`Rated charge (revision ${charge.revision})`}
          at={charge.ratedAt}
          correlationId={charge.correlationId}
        >
          <p data-testid="lineage-explanation">{charge.explanation}</p>
          <table class="list">
            <thead>
              <tr>
                <th>Step</th>
                <th>Units</th>
                <th>Unit price</th>
                <th>Amount</th>
              </tr>
            </thead>
            <tbody>
              {charge.breakdown.map((b: any, n: number) => (
                <tr key={n}>
                  <td>{b.description}</td>
                  <td class="num">{formatNumber(b.units)}</td>
                  <td class="num">{formatNumber(b.unitPrice)}</td>
                  <td class="num">{formatNumber(b.amount)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            Charged: <Amount value={charge.amount} />
          </p>
        </Hop>
        <Hop
          title={`Invoice line ${line.lineNo}`}
          at={line.invoice.finalizedAt ?? line.invoice.createdAt}
          correlationId={line.correlationId}
        >
          <p>
            {line.description}: {formatNumber(line.quantity)} {line.unit} × {formatNumber(line.unitPrice)} ={' '}
            <Amount value={line.amount} /> on invoice {line.invoice.number ?? `(draft) ${line.invoice.id}`} to{' '}
            {line.invoice.customer.name}
          </p>
        </Hop>
        <Hop title="Journal lines" at={journal[0]?.posting.createdAt} correlationId={journal[0]?.posting.correlationId}>
          {journal.length ? (
            <ul>
              {journal.map((jl: any) => (
                <li key={`${jl.posting.id}-${jl.lineNo}`}>
                  {jl.side.toLowerCase()} {jl.account} <Amount value={jl.amount} /> — {jl.memo} ({jl.posting.postingKey}
                  , {jl.posting.status})
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">Not posted yet.</p>
          )}
        </Hop>
        <Hop title="ERP document" at={journal[0]?.posting.erpDocument?.postedAt}>
          {journal[0]?.posting.erpDocument ? (
            <p data-testid="lineage-erp-document">
              {journal[0].posting.erpDocument.system} document <code>{journal[0].posting.erpDocument.documentId}</code>{' '}
              at {journal[0].posting.erpDocument.location}
            </p>
          ) : (
            <p class="muted">Not in the ERP yet.</p>
          )}
        </Hop>
      </ol>
    </Section>
  );
}
