import type { Attributes } from '../model/attributes';
import type { RequestEncoding, ResourceGroup, ScopeInput } from './encode';
import type { ExportOutcome } from './exporter';
import type { LogSink, OtlpCounts } from './log-sink';
import { limitAttributes, type AttributeLimits, type BindLogRecord } from './record';
import { resourceKey, SEMCONV_SCHEMA_URL } from './resource';

/** An encoded request and how many records it carries. */
export interface EncodedRequest {
  body: Uint8Array;
  count: number;
}

/** Sends one request; `done` is called once with what became of its records. */
export type SendRequest = (request: EncodedRequest, done: (outcome: ExportOutcome) => void) => void;

export interface DirectSinkOptions<Encoded> {
  encoding: RequestEncoding<Encoded>;
  send: SendRequest;
  /** stops the transport, once, after the last request */
  closeTransport: () => Promise<void>;
  /** records held at most (waiting and being exported); past it new ones are dropped */
  maxQueueSize: number;
  /** encoded bytes held at most (waiting and being exported); past it new records are dropped */
  maxQueueBytes: number;
  maxExportBatchSize: number;
  flushIntervalMillis: number;
  scopeName: string;
  scopeVersion: string;
  /** the log record limits, when any can apply (a bind has a few dozen attributes) */
  limits?: AttributeLimits;
  /** resources (a pod each, and the host) kept encoded at most; the least recently used goes first */
  maxResources: number;
  /** a resource unused this long (its pod gone) is released */
  resourceIdleMillis: number;
}

/** Requests in flight at once at most: enough to keep a receiver busy while the next batch fills. */
const MAX_CONCURRENT_EXPORTS = 4;

interface ResourceEntry<Encoded> {
  encoded: Encoded;
  usedAtMs: number;
  /** still in the map (false once evicted or released) */
  held: boolean;
}

interface QueuedRecord<Encoded> {
  resource: ResourceEntry<Encoded>;
  encoded: Encoded;
  bytes: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * The direct export pipeline (otlp.pipeline: direct, the default). Each record
 * is encoded once, when it is queued, straight from the bind; a resource's and
 * the scope's messages are encoded once and reused; a request is those bytes
 * put together, in the bytes the SDK pipeline sends for the same records. The
 * queue is bounded in records and in bytes; whatever does not fit is counted.
 * It owns its flush timer: a batch goes when it is full, or flushIntervalMillis
 * after its first record.
 */
export class DirectOtlpSink<Encoded> implements LogSink {
  private scope: ScopeInput;
  private scopeEncoded: Encoded;
  /** sent entries are cleared, so their bytes go as soon as their request does */
  private readonly queue: (QueuedRecord<Encoded> | undefined)[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private inFlightRecords = 0;
  private inFlightBytes = 0;
  private inFlightExports = 0;
  private flushTimer?: NodeJS.Timeout;
  /** the timer fired (or shutdown began): send what is queued even if short of a batch */
  private flushDue = false;
  /** by resource key, least recently used first */
  private readonly resources = new Map<string, ResourceEntry<Encoded>>();
  /** the same resource object again (every host bind shares one) skips building its key */
  private readonly keyByObject = new WeakMap<Attributes, string>();
  private readonly idleTimer: NodeJS.Timeout;
  private finalized = false;
  private readonly counts: Omit<OtlpCounts, 'pending'> = { exported: 0, lostExportQueue: 0, lostExport: 0, failures: new Map() };

  constructor(private readonly options: DirectSinkOptions<Encoded>) {
    this.scope = { name: options.scopeName, version: options.scopeVersion, attributes: {}, schemaUrl: SEMCONV_SCHEMA_URL };
    this.scopeEncoded = options.encoding.scope(this.scope);
    this.idleTimer = setInterval(() => this.releaseIdle(), Math.max(100, Math.min(options.resourceIdleMillis, 30_000)));
    this.idleTimer.unref();
  }

  setScopeAttributes(attributes: Attributes): void {
    this.scope = { ...this.scope, attributes };
    this.scopeEncoded = this.options.encoding.scope(this.scope);
  }

  private get queued(): number {
    return this.queue.length - this.queueHead;
  }

  full(): boolean {
    // a record is a few hundred bytes: within 4 KiB of the byte bound counts as full
    return this.finalized || this.queued + this.inFlightRecords >= this.options.maxQueueSize || this.queuedBytes + this.inFlightBytes + 4096 > this.options.maxQueueBytes;
  }

  dropFull(records: number): void {
    this.counts.lostExportQueue += records;
  }

  enqueue(record: BindLogRecord, resource: Attributes): boolean {
    if (this.finalized || this.queued + this.inFlightRecords >= this.options.maxQueueSize) {
      this.counts.lostExportQueue++;
      return false;
    }
    const encoded = this.options.encoding.record(this.options.limits ? limitAttributes(record, this.options.limits) : record);
    const bytes = this.options.encoding.size(encoded);
    if (this.queuedBytes + this.inFlightBytes + bytes > this.options.maxQueueBytes) {
      this.counts.lostExportQueue++;
      return false;
    }
    this.queue.push({ resource: this.resourceEntry(resource), encoded, bytes });
    this.queuedBytes += bytes;
    if (this.queued >= this.options.maxExportBatchSize) this.pump();
    else this.flushTimer ??= setTimeout(() => this.onFlushTimer(), this.options.flushIntervalMillis);
    return true;
  }

  private onFlushTimer(): void {
    this.flushTimer = undefined;
    this.flushDue = true;
    this.pump();
  }

  /** the last record's resource: most records in a row share one (the host's, or one busy pod's) */
  private lastResource?: { attributes: Attributes; entry: ResourceEntry<Encoded> };

  private resourceEntry(resource: Attributes): ResourceEntry<Encoded> {
    const last = this.lastResource;
    if (last?.attributes === resource && last.entry.held) {
      // already the most recently used: nothing to reorder
      last.entry.usedAtMs = Date.now();
      return last.entry;
    }
    let key = this.keyByObject.get(resource);
    if (key === undefined) {
      key = resourceKey(resource);
      this.keyByObject.set(resource, key);
    }
    const nowMs = Date.now();
    let entry = this.resources.get(key);
    if (entry) {
      // most recently used last: a Map keeps insertion order
      this.resources.delete(key);
    } else {
      if (this.resources.size >= this.options.maxResources) {
        // records already queued keep their entry alive; only the lookup is dropped
        const oldest = this.resources.keys().next().value;
        if (oldest !== undefined) this.release(oldest);
      }
      entry = { encoded: this.options.encoding.resource(resource, SEMCONV_SCHEMA_URL), usedAtMs: nowMs, held: true };
    }
    entry.usedAtMs = nowMs;
    this.resources.set(key, entry);
    this.lastResource = { attributes: resource, entry };
    return entry;
  }

  private release(key: string): void {
    const entry = this.resources.get(key);
    if (entry) entry.held = false;
    this.resources.delete(key);
  }

  releaseIdle(nowMs = Date.now()): void {
    for (const [key, entry] of this.resources) {
      if (nowMs - entry.usedAtMs < this.options.resourceIdleMillis) break; // the rest were used later
      this.release(key);
    }
  }

  resourceCount(): number {
    return this.resources.size;
  }

  /** Sends batches while there are full ones (or a flush is due) and room in flight. */
  private pump(): void {
    while (this.inFlightExports < MAX_CONCURRENT_EXPORTS && this.queued > 0 && (this.flushDue || this.queued >= this.options.maxExportBatchSize)) {
      this.sendBatch();
    }
    if (this.queued === 0) this.flushDue = false;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.queued > 0 && !this.flushDue && !this.finalized) this.flushTimer ??= setTimeout(() => this.onFlushTimer(), this.options.flushIntervalMillis);
  }

  private sendBatch(): void {
    const count = Math.min(this.queued, this.options.maxExportBatchSize);
    // group by resource, in order of first appearance (as the SDK's serializer does)
    const groups = new Map<ResourceEntry<Encoded>, ResourceGroup<Encoded>>();
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const q = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined;
      if (!q) continue; // not reached: everything past the head is queued
      bytes += q.bytes;
      let group = groups.get(q.resource);
      if (!group) groups.set(q.resource, (group = { resource: q.resource.encoded, records: [] }));
      group.records.push(q.encoded);
    }
    const body = this.options.encoding.request([...groups.values()], this.scopeEncoded, SEMCONV_SCHEMA_URL);
    this.queuedBytes -= bytes;
    this.inFlightRecords += count;
    this.inFlightBytes += bytes;
    this.inFlightExports++;
    this.options.send({ body, count }, (outcome) => {
      this.inFlightExports--;
      this.inFlightRecords -= count;
      this.inFlightBytes -= bytes;
      if (this.finalized) return; // already counted as lost at the deadline
      this.counts.exported += outcome.exported;
      if (outcome.failed) {
        this.counts.lostExport += outcome.failed;
        const reason = outcome.reason ?? 'other';
        this.counts.failures.set(reason, (this.counts.failures.get(reason) ?? 0) + outcome.failed);
      }
      this.pump();
    });
  }

  snapshot(): OtlpCounts {
    // once finalized, what was still in flight is counted as lost: nothing is pending
    return { ...this.counts, failures: new Map(this.counts.failures), pending: this.finalized ? 0 : this.queued + this.inFlightRecords };
  }

  async shutdown(timeoutMillis: number): Promise<OtlpCounts> {
    clearInterval(this.idleTimer);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const deadline = Date.now() + timeoutMillis;
    this.flushDue = true;
    this.pump();
    while (this.queued + this.inFlightRecords > 0 && Date.now() < deadline) {
      this.flushDue = true;
      this.pump();
      await sleep(Math.min(10, deadline - Date.now()));
    }
    if (this.queued + this.inFlightRecords > 0) {
      this.counts.lostExportQueue += this.queued;
      if (this.inFlightRecords > 0) {
        this.counts.lostExport += this.inFlightRecords;
        this.counts.failures.set('shutdown', (this.counts.failures.get('shutdown') ?? 0) + this.inFlightRecords);
      }
      this.queue.length = 0;
      this.queueHead = 0;
      this.queuedBytes = 0;
    }
    this.finalized = true;
    await Promise.race([this.options.closeTransport(), sleep(Math.max(deadline - Date.now(), 1000))]);
    return this.snapshot();
  }
}
