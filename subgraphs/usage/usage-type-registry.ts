// Registered usage types, compiled once per version and cached: versions are immutable once stored.
import type { UsageStore, UsageTypeDoc } from './store';
import { compileUsageType, type CompiledUsageType } from './usage-type';

const NEWEST_TTL_MS = 2_000;

export class UsageTypeRegistry {
  private readonly compiled = new Map<string, CompiledUsageType>();
  private readonly newest = new Map<string, { doc: UsageTypeDoc | null; at: number }>();

  constructor(private readonly store: UsageStore) {}

  /** The named version, or the newest active one when `version` is omitted. */
  async find(key: string, version?: number | null): Promise<UsageTypeDoc | null> {
    if (version != null) return this.store.usageTypes.findOne({ key, version });
    const cached = this.newest.get(key);
    if (cached && Date.now() - cached.at < NEWEST_TTL_MS) return cached.doc;
    const [doc] = await this.store.usageTypes.find({ key, status: 'ACTIVE' }).sort({ version: -1 }).limit(1).toArray();
    this.newest.set(key, { doc: doc ?? null, at: Date.now() });
    return doc ?? null;
  }

  compile(doc: UsageTypeDoc): CompiledUsageType {
    let c = this.compiled.get(doc._id);
    if (!c) {
      c = compileUsageType(doc);
      this.compiled.set(doc._id, c);
    }
    return c;
  }

  forget(key: string): void {
    this.newest.delete(key);
  }
}
