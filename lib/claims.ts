// The right to work on one record, across processes: whoever inserts the next `<key>#<sequence>` claim holds it until
// it releases the claim or the lease runs out. An insert, because on the embedded database only an insert against a
// unique index is atomic; so this holds on MongoDB too.
import type { Collection, Document, Filter, OptionalUnlessRequiredId } from 'mongodb';
import { isDuplicateKeyError } from './mongo';

export interface Claim {
  _id: string;
  sequence: number;
  claimedAt: Date;
  expiresAt: Date;
  releasedAt: Date | null;
}

/**
 * Inserts the next claim on `key` (stored in `keyField`) unless a live one exists; null when another worker holds it.
 */
export async function claimRecord<C extends Claim & Document>(
  claims: Collection<C>,
  keyField: keyof C & string,
  key: string,
  leaseMs: number,
  now = new Date(),
): Promise<C | null> {
  const [latest] = await claims
    .find({ [keyField]: key } as Filter<C>)
    .sort({ sequence: -1 })
    .limit(1)
    .toArray();
  if (latest && !latest.releasedAt && latest.expiresAt > now) return null;
  const sequence = (latest?.sequence ?? 0) + 1;
  const claim = {
    _id: `${key}#${sequence}`,
    [keyField]: key,
    sequence,
    claimedAt: now,
    expiresAt: new Date(now.getTime() + leaseMs),
    releasedAt: null,
  } as unknown as C;
  try {
    await claims.insertOne(claim as OptionalUnlessRequiredId<C>);
    return claim;
  } catch (error) {
    if (isDuplicateKeyError(error)) return null;
    throw error;
  }
}

/** Gives the record back; only the holder calls it, so the update touches a document nobody else writes. */
export async function releaseClaim<C extends Claim & Document>(claims: Collection<C>, claim: C): Promise<void> {
  await claims.updateOne({ _id: claim._id } as Filter<C>, { $set: { releasedAt: new Date() } } as never);
}
