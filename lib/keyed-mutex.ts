// Serialises read-modify-write sequences on one document within this process.
//
// Why: the embedded FerretDB 1.24 (SQLite) applies an update by reading the document, changing it in Go and writing
// the whole document back, with no isolation: measured here, 200 concurrent `$inc`s on one document left it at 4, and
// 10 concurrent `findOneAndUpdate({status: 'A'} → 'B')` had up to 10 winners. Inserts are atomic (unique indexes hold),
// so exclusivity across processes is built on inserts; within a process, writers of one document take turns here.
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
