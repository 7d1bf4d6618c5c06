// Registered usage types: which version an event means, and its compiled validator (versions never change once active).
import type { Problem } from '../../lib/errors';
import type { UsageStore, UsageTypeDoc, UsageTypeStatus } from './store';
import { compileUsageType, type CompiledUsageType } from './usage-type';

const VERSIONS_TTL_MS = 2_000;

/** A deprecated version past its sunset counts as retired. */
export function effectiveStatus(doc: Pick<UsageTypeDoc, 'status' | 'sunsetAt'>, now = new Date()): UsageTypeStatus {
  return doc.status === 'DEPRECATED' && doc.sunsetAt && doc.sunsetAt <= now ? 'RETIRED' : doc.status;
}

const accepting = (doc: UsageTypeDoc, now: Date) => {
  const s = effectiveStatus(doc, now);
  return s === 'ACTIVE' || s === 'DEPRECATED';
};

/**
 * The version an event that names none means: the newest ACTIVE version of the oldest major still ACTIVE. A new
 * major becomes the default only when the old one is deprecated, so registering it changes no producer silently;
 * with every version deprecated, the newest that still accepts events.
 */
export function defaultVersion(newestFirst: readonly UsageTypeDoc[], now = new Date()): UsageTypeDoc | null {
  const active = newestFirst.filter((d) => effectiveStatus(d, now) === 'ACTIVE');
  if (active.length > 0) {
    const oldestMajor = Math.min(...active.map((d) => d.major));
    return active.find((d) => d.major === oldestMajor) ?? null;
  }
  return newestFirst.find((d) => accepting(d, now)) ?? null;
}

export type Resolution =
  { ok: true; type: UsageTypeDoc } | { ok: false; problem: Omit<Problem, 'field'> & { on: 'type' | 'typeVersion' } };

export class UsageTypeRegistry {
  private readonly compiled = new Map<string, CompiledUsageType>();
  private readonly versions = new Map<string, { docs: UsageTypeDoc[]; at: number }>();

  constructor(private readonly store: UsageStore) {}

  /** Every version of a key, newest first. */
  async versionsOf(key: string): Promise<UsageTypeDoc[]> {
    const cached = this.versions.get(key);
    if (cached && Date.now() - cached.at < VERSIONS_TTL_MS) return cached.docs;
    const docs = await this.store.usageTypes.find({ key }).sort({ major: -1, minor: -1 }).toArray();
    this.versions.set(key, { docs, at: Date.now() });
    return docs;
  }

  /** The newest version that accepts events (what "the usage type" means without a version). */
  async newest(key: string): Promise<UsageTypeDoc | null> {
    const now = new Date();
    return (await this.versionsOf(key)).find((d) => accepting(d, now)) ?? null;
  }

  /** The newest version that was ever active: how a key's usage is aggregated, even after it is retired. */
  async forAggregation(key: string): Promise<UsageTypeDoc | null> {
    return (await this.versionsOf(key)).find((d) => d.status !== 'DRAFT') ?? null;
  }

  /**
   * The version an event means: exact ("1.2"), the newest of a major ("1"), or the newest active (none).
   * Drafts and retired versions do not accept events; the problem names a version that does.
   */
  async resolve(key: string, spec?: string | null): Promise<Resolution> {
    const now = new Date();
    const all = await this.versionsOf(key);
    if (all.length === 0) {
      return {
        ok: false,
        problem: {
          on: 'type',
          code: 'USAGE_TYPE_UNKNOWN',
          reason: `no usage type "${key}" is registered`,
          expected: 'the key of a registered usage type',
        },
      };
    }
    const fallback = defaultVersion(all, now);
    const suggestion = fallback
      ? `version ${fallback.version} (${effectiveStatus(fallback, now).toLowerCase()})`
      : 'an active version (none is active yet; activate one with activateUsageType)';
    if (spec == null) {
      return fallback
        ? { ok: true, type: fallback }
        : {
            ok: false,
            problem: {
              on: 'type',
              code: 'USAGE_TYPE_NOT_ACTIVE',
              reason: `usage type "${key}" has no active version`,
              expected: suggestion,
            },
          };
    }
    const exact = /^\d+\.\d+$/.test(spec);
    const candidates = exact ? all.filter((d) => d.version === spec) : all.filter((d) => String(d.major) === spec);
    if (!/^\d+(\.\d+)?$/.test(spec) || candidates.length === 0) {
      return {
        ok: false,
        problem: {
          on: 'typeVersion',
          code: 'USAGE_TYPE_UNKNOWN',
          reason: `usage type "${key}" has no version "${spec}"`,
          expected: `${suggestion}; versions: ${all.map((d) => d.version).join(', ')}`,
        },
      };
    }
    const usable = candidates.find((d) => accepting(d, now));
    if (usable) return { ok: true, type: usable };
    const status = effectiveStatus(candidates[0]!, now);
    return status === 'RETIRED'
      ? {
          ok: false,
          problem: {
            on: 'typeVersion',
            code: 'USAGE_TYPE_RETIRED',
            reason: `usage type "${key}" version ${candidates[0]!.version} is retired`,
            expected: suggestion,
          },
        }
      : {
          ok: false,
          problem: {
            on: 'typeVersion',
            code: 'USAGE_TYPE_NOT_ACTIVE',
            reason: `usage type "${key}" version ${candidates[0]!.version} is a draft`,
            expected: suggestion,
          },
        };
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
    this.versions.delete(key);
  }
}
