import type { Attributes } from '../model/attributes';

/** A stable key for a set of resource attributes: one held resource (one ResourceLogs) per key. */
export function resourceKey(attrs: Attributes): string {
  return JSON.stringify(Object.keys(attrs).sort().map((k) => [k, attrs[k]]));
}

/** A resource as a pipeline holds it (its encoded message, or the SDK's logger for it). */
export interface CachedResource<Value> {
  readonly value: Value;
  usedAtMs: number;
  /** still in the cache (false once evicted or released); records already queued keep it alive */
  held: boolean;
}

/**
 * The resources an export pipeline holds (a pod each, and the host), built
 * once per distinct set of attributes, least recently used first: at most
 * `maxResources`, and none unused for `idleMillis` once `releaseIdle` runs.
 */
export class ResourceCache<Value> {
  /** by resource key, least recently used first (a Map keeps insertion order) */
  private readonly entries = new Map<string, CachedResource<Value>>();
  /** the same resource object again (every host bind shares one) skips building its key */
  private readonly keyByObject = new WeakMap<Attributes, string>();
  /** the last record's resource: most records in a row share one (the host's, or one busy pod's) */
  private last?: { attributes: Attributes; entry: CachedResource<Value> };

  constructor(
    private readonly build: (attributes: Attributes) => Value,
    private readonly maxResources: number,
    private readonly idleMillis: number,
  ) {}

  get(attributes: Attributes, nowMs = Date.now()): CachedResource<Value> {
    const last = this.last;
    if (last?.attributes === attributes && last.entry.held) {
      // already the most recently used: nothing to reorder
      last.entry.usedAtMs = nowMs;
      return last.entry;
    }
    let key = this.keyByObject.get(attributes);
    if (key === undefined) {
      key = resourceKey(attributes);
      this.keyByObject.set(attributes, key);
    }
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      entry.usedAtMs = nowMs;
    } else {
      if (this.entries.size >= this.maxResources) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.release(oldest);
      }
      entry = { value: this.build(attributes), usedAtMs: nowMs, held: true };
    }
    this.entries.set(key, entry);
    this.last = { attributes, entry };
    return entry;
  }

  /** Releases the resources not used for idleMillis (pods long gone). */
  releaseIdle(nowMs = Date.now()): void {
    for (const [key, entry] of this.entries) {
      if (nowMs - entry.usedAtMs < this.idleMillis) break; // the rest were used later
      this.release(key);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private release(key: string): void {
    const entry = this.entries.get(key);
    if (entry) entry.held = false;
    this.entries.delete(key);
  }
}
