// Use case: send a dead-lettered or held posting again, once its cause is fixed.
import { UserFacingError, notFound } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { ErpConnector } from './connectors';
import { deliverPosting, type DeliveryPolicy } from './deliver-posting';
import { resolveException } from './exceptions';
import type { ErpPostingDoc, PostingsStore } from './store';

export async function replayErpPosting(
  store: PostingsStore,
  connector: ErpConnector,
  policy: DeliveryPolicy,
  id: string,
  log: Logger,
  replayedBy: string | null = null,
): Promise<ErpPostingDoc> {
  const released = await store.locks.run(id, async () => {
    const posting = await store.postings.findOne({ _id: id });
    if (!posting) throw notFound('ERP posting', 'id', id);
    if (posting.status === 'POSTED') return posting;
    if (posting.status === 'HELD' && !posting.entry) {
      throw new UserFacingError(
        'CONFLICT',
        `posting ${id} has no entry yet: ${posting.lastError?.message ?? 'a mapping is missing'}`,
        {
          field: 'id',
          expected: posting.lastError?.remedy ?? 'the missing account mapping, added with setAccountMapping',
        },
      );
    }
    if (posting.status !== 'DEAD_LETTER' && posting.status !== 'HELD') {
      throw new UserFacingError('CONFLICT', `posting ${id} is ${posting.status} and is already being delivered`, {
        field: 'id',
        expected: 'a DEAD_LETTER or HELD posting',
      });
    }
    const now = new Date();
    await resolveException(store, posting, {
      action: 'REPLAYED',
      words: 'replayed',
      detail: `replayed from ${posting.status}`,
      afterwards: 'sent to the ledger again now',
      by: replayedBy,
    });
    // A fresh retry budget; the history keeps every earlier attempt.
    const pending: ErpPostingDoc = {
      ...posting,
      openException: null,
      status: 'PENDING',
      attempts: 0,
      nextAttemptAt: now,
      history: [
        ...posting.history,
        { at: now, outcome: 'REPLAY_REQUESTED', code: null, message: `replayed from ${posting.status}` },
      ],
    };
    await store.postings.replaceOne({ _id: id }, pending);
    return pending;
  });
  if (released.status === 'POSTED') return released;
  return (await deliverPosting(store, connector, policy, id, log)) ?? released;
}
