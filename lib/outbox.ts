// Business events leave a subgraph through its own outbox: raising one is a single insert beside the change that caused
// it (idempotent by the event's deterministic id), and a forwarder hands the outbox to the events subgraph, which owns
// the event log, the webhooks and the work queue. An event is deleted from the outbox only after the events subgraph
// stored it, so a crash in between sends it again, and the events subgraph keeps it once.
import { config } from './config';
import type { Collection, Db } from 'mongodb';
import { repeatInBackground } from './background';
import { currentCorrelationId, currentRequestScope, withCorrelationId } from './correlation';
import type { Logger } from './logger';
import { insertManyNew, isDuplicateKeyError } from './mongo';
import { querySubgraph } from './subgraph-client';

/** What the rest of the world may hear about: `invoice.finalized`, `posting.held`, `exception.raised`, … */
export interface BusinessEvent {
  /** Deterministic: the same happening always has the same id, so raising it twice is one event. */
  id: string;
  /** Dotted type, e.g. `invoice.finalized`. */
  type: string;
  /** The record it is about, e.g. the invoice id. */
  subject: string;
  /** The subgraph it comes from. */
  source: string;
  data: Record<string, unknown>;
  occurredAt: Date;
  correlationId: string;
  /** Who caused it (the authenticated subject), when a person did. */
  actor: string | null;
}

interface OutboxDoc extends Omit<BusinessEvent, 'id'> {
  _id: string;
}

export class Outbox {
  private readonly events: Collection<OutboxDoc>;

  constructor(
    db: Db,
    private readonly source: string,
  ) {
    this.events = db.collection<OutboxDoc>('outbox');
  }

  /** Records an event to be forwarded. A second raise of the same id changes nothing. */
  async raise(event: { id: string; type: string; subject: string; data: Record<string, unknown>; occurredAt?: Date }) {
    const scope = currentRequestScope();
    const doc: OutboxDoc = {
      _id: event.id,
      type: event.type,
      subject: event.subject,
      source: this.source,
      data: event.data,
      occurredAt: event.occurredAt ?? new Date(),
      correlationId: currentCorrelationId() ?? 'background',
      actor: scope?.subject && scope.subject !== 'anonymous' ? scope.subject : null,
    };
    try {
      await this.events.insertOne(doc);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

  /** Records several events in one insert (a batch's); ids already recorded are skipped, like raise. */
  async raiseMany(
    events: ReadonlyArray<{
      id: string;
      type: string;
      subject: string;
      data: Record<string, unknown>;
      occurredAt?: Date;
    }>,
  ): Promise<void> {
    if (events.length === 0) return;
    const scope = currentRequestScope();
    const docs: OutboxDoc[] = events.map((event) => ({
      _id: event.id,
      type: event.type,
      subject: event.subject,
      source: this.source,
      data: event.data,
      occurredAt: event.occurredAt ?? new Date(),
      correlationId: currentCorrelationId() ?? 'background',
      actor: scope?.subject && scope.subject !== 'anonymous' ? scope.subject : null,
    }));
    await insertManyNew(this.events, docs);
  }

  /** Hands what is waiting to the events subgraph, oldest first; returns how many were handed over. */
  async forward(batchSize = 200): Promise<number> {
    const waiting = await this.events.find({}).sort({ occurredAt: 1 }).limit(batchSize).toArray();
    if (waiting.length === 0) return 0;
    await withCorrelationId(waiting[0]!.correlationId, () =>
      querySubgraph('events', 'mutation($e: [BusinessEventInput!]!) { recordBusinessEvents(events: $e) }', {
        e: waiting.map(({ _id, occurredAt, ...rest }) => ({ id: _id, occurredAt: occurredAt.toISOString(), ...rest })),
      }),
    );
    await this.events.deleteMany({ _id: { $in: waiting.map((e) => e._id) } });
    return waiting.length;
  }

  /** Forwards every `intervalMs` until stopped; a failure is logged and tried again on the next round. */
  startForwarding(log: Logger, intervalMs = config().USAGEGRAPH_OUTBOX_POLL_MS): () => Promise<void> {
    return repeatInBackground(`forwarding ${this.source}'s business events`, intervalMs, log, async (job) => {
      while (!job.stopped && (await this.forward()) > 0) {
        // keep going while there is a backlog
      }
    });
  }
}
