// Gapless document numbers (invoices, credit and debit notes). A number is claimed by inserting `${series}:${sequence}`
// against the unique _id, with the document it numbers (its owner) under a unique index too: two claimers never share a
// number, an owner never holds two, and — since every claim is the series' last + 1 — none is skipped. A claim made
// before a crash is found again by its owner and used.
import type { Collection, Filter } from 'mongodb';
import { KeyedMutex } from '../../lib/keyed-mutex';
import { insertedAll } from '../../lib/mongo';

/**
 * Claims of one series within this process go one at a time: two batches finalized at once (finalizeAndPostInvoices
 * finalizes the next chunk while one is finalized) would otherwise read the same last number and one would collide
 * and fall back to claiming one by one. An optimization only: the inserts are what keep numbers unique and gapless.
 */
const claiming = new KeyedMutex();

export interface NumberClaim {
  _id: string;
  series: string;
  sequence: number;
  claimedAt: Date;
}

export class NumberSeries<T extends NumberClaim> {
  /** `ownerField` names the field of a claim that holds its owner's id (unique in the collection). */
  constructor(
    private readonly claims: Collection<T>,
    private readonly ownerField: Exclude<keyof T, keyof NumberClaim> & string,
  ) {}

  /** The owner's own earlier claim, else the next number of `series` (looked for again while others take them). */
  async claimOne(series: string, owner: string, now: Date): Promise<T> {
    for (;;) {
      const [mine] = await this.mine([owner]);
      if (mine) return mine;
      const claim = await this.inTurn(series, async () => {
        const next = this.claim(series, (await this.last(series)) + 1, owner, now);
        return (await insertedAll(this.claims, [next])) ? next : null;
      });
      // Refused: another owner took this number, or a concurrent claim for this owner won. Look again.
      if (claim) return claim;
    }
  }

  /**
   * Every owner's claim, keyed by owner: its own earlier one, else one of consecutive numbers after its series' last,
   * inserted in order with ONE insertMany per series. The first collision stops that insert, so no number is skipped;
   * what went in before it is read back rather than trusted from the error. Owners left without a claim are for
   * claimOne.
   */
  async claimMany(owners: ReadonlyArray<{ owner: string; series: string }>, now: Date): Promise<Map<string, T>> {
    const claims = new Map<string, T>();
    if (owners.length === 0) return claims;
    const readMine = async () => {
      for (const c of await this.mine(owners.map((o) => o.owner))) claims.set(c[this.ownerField] as string, c);
    };
    await readMine();
    const bySeries = new Map<string, string[]>();
    for (const { owner, series } of owners)
      if (!claims.has(owner)) bySeries.set(series, [...(bySeries.get(series) ?? []), owner]);
    let collided = false;
    for (const [series, inSeries] of bySeries)
      await this.inTurn(series, async () => {
        const next = (await this.last(series)) + 1;
        const wanted = inSeries.map((owner, i) => this.claim(series, next + i, owner, now));
        if (await insertedAll(this.claims, wanted))
          for (const [i, claim] of wanted.entries()) claims.set(inSeries[i]!, claim);
        else collided = true;
      });
    if (collided) await readMine();
    return claims;
  }

  private inTurn<R>(series: string, work: () => Promise<R>): Promise<R> {
    return claiming.run(`${this.claims.collectionName}/${series}`, work);
  }

  private mine(owners: readonly string[]): Promise<T[]> {
    return this.claims.find({ [this.ownerField]: { $in: [...owners] } } as Filter<T>).toArray() as Promise<T[]>;
  }

  private async last(series: string): Promise<number> {
    const [last] = await this.claims
      .find({ series } as Filter<T>)
      .sort({ sequence: -1 })
      .limit(1)
      .toArray();
    return (last as T | undefined)?.sequence ?? 0;
  }

  private claim(series: string, sequence: number, owner: string, claimedAt: Date): T {
    return { _id: `${series}:${sequence}`, series, sequence, [this.ownerField]: owner, claimedAt } as unknown as T;
  }
}
