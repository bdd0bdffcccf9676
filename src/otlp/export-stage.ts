import type { Attributes } from '../model/attributes';
import type { ExportOutcome } from './exporter';
import type { BindLogRecord } from './record';
import { ResourceCache, type CachedResource } from './resource-cache';

export interface OtlpCounts {
  exported: number;
  /** dropped because the queue was full (records or bytes), or still queued when the shutdown deadline passed */
  lostExportQueue: number;
  /** failed or rejected exports, and records still being exported at the deadline */
  lostExport: number;
  /** records lost at the export stage, by reason */
  failures: Map<string, number>;
  /** waiting or being exported now */
  pending: number;
}

/**
 * The OTLP export stage as the router and the agent see it, whichever pipeline
 * builds the requests (otlp.pipeline: the direct encoder, or the SDK's).
 */
export interface LogSink {
  /** InstrumentationScope attributes (the kernel backend); set before the first record. */
  setScopeAttributes(attributes: Attributes): void;
  /** Queues a record of `resource` for export; false (and counted) when the queue is full. */
  enqueue(record: BindLogRecord, resource: Attributes): boolean;
  /**
   * Queues records the addon encoded, `records` ScopeLogs.log_records fields one after another (each the bytes
   * encode.ts writes for its bind), as enqueue queues each; returns how many were queued (the others are counted
   * lost). Present only where requests are built of such messages (the direct pipeline's protobuf encoding).
   */
  enqueueEncoded?(fields: Buffer, records: number, resource: Attributes): number;
  /**
   * With enqueueEncoded: every run of the addon's `batch` has been offered; once none of it is queued any more (all
   * copied into requests or dropped), `recycle` gets the batch, whose memory the addon then writes again.
   */
  encodedBatchOffered?(batch: Buffer, recycle: (batch: Buffer) => void): void;
  /** The queue is full: a record queued now would be dropped. */
  full(): boolean;
  /** Counts records dropped before they were built, because the queue was full (stage export_queue). */
  dropFull(records: number): void;
  snapshot(): OtlpCounts;
  /** Distinct resources held (one per pod that bound lately, and the host). */
  resourceCount(): number;
  /** Releases the resources not used for resourceIdleMillis. */
  releaseIdle(nowMs?: number): void;
  /** Sends what is queued until `timeoutMillis` passes; what is left then is counted as lost. */
  shutdown(timeoutMillis: number): Promise<OtlpCounts>;
}

export interface ExportStageOptions {
  /** records held at most (waiting and being exported); past it new ones are dropped */
  maxQueueSize: number;
  /** resources (a pod each, and the host) held at most; the least recently used goes first */
  maxResources: number;
  /** a resource unused this long (its pod gone) is released */
  resourceIdleMillis: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Head of the queue past which sent entries are cut off (when they are most of it). */
const QUEUE_COMPACT_AFTER = 1024;

/**
 * What both pipelines share: the bounded queue of records waiting, the
 * resources, the books (every record exported, or lost with a reason) and the
 * shutdown deadline. A pipeline says how a record is admitted (`admit`), how
 * queued records are handed on (`pump`, reporting each outcome to `settle`),
 * and how its transport drains and closes.
 */
/** Records a queue entry holds: `records`, where an entry holds several (the addon's runs), else one. */
function recordsOf(item: unknown): number {
  return (item as { records?: number }).records ?? 1;
}

export abstract class ExportStage<Queued, Resource> implements LogSink {
  protected readonly resources: ResourceCache<Resource>;
  /** sent entries are cleared, so what they hold goes as soon as their request does */
  private readonly queue: (Queued | undefined)[] = [];
  private queueHead = 0;
  /** records in the queue (an entry holds `records` of them, one by default) */
  private queuedRecords = 0;
  /** records handed on whose outcome is not known yet */
  protected inFlight = 0;
  /** the shutdown deadline passed: what was left is counted, late outcomes are not */
  protected finalized = false;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly counts: Omit<OtlpCounts, 'pending'> = { exported: 0, lostExportQueue: 0, lostExport: 0, failures: new Map() };

  constructor(private readonly stageOptions: ExportStageOptions) {
    this.resources = new ResourceCache((attributes) => this.buildResource(attributes), stageOptions.maxResources, stageOptions.resourceIdleMillis);
    this.idleTimer = setInterval(() => this.releaseIdle(), Math.max(100, Math.min(stageOptions.resourceIdleMillis, 30_000)));
    this.idleTimer.unref();
  }

  abstract setScopeAttributes(attributes: Attributes): void;
  /** A resource as the pipeline holds it, built on its first record. */
  protected abstract buildResource(attributes: Attributes): Resource;
  /** The record as queued, or undefined when a bound of the pipeline's own refuses it (counted as a queue loss). */
  protected abstract admit(record: BindLogRecord, resource: CachedResource<Resource>): Queued | undefined;
  /** A record was queued. */
  protected abstract queued(): void;
  /** Hands queued records on while the pipeline has room. */
  protected abstract pump(): void;
  /** One step of draining at shutdown: hand on what is queued, wait a little (at most until the deadline). */
  protected abstract drainStep(deadlineMs: number): Promise<void>;
  /** Stops the transport, once, after the last request. */
  protected abstract close(): Promise<void>;

  /** A bound of the pipeline's own beyond the record count (bytes) is reached. */
  protected fullBeyondCount(): boolean {
    return false;
  }

  protected get queuedCount(): number {
    return this.queuedRecords;
  }

  /** Records the queue can take now (its record bound). */
  protected get roomInQueue(): number {
    return this.finalized ? 0 : Math.max(0, this.stageOptions.maxQueueSize - this.queuedRecords - this.inFlight);
  }

  /** An entry of several records as two: its first `records`, and the rest (pipelines whose entries hold several). */
  protected split(item: Queued, records: number): [Queued, Queued] {
    throw new Error(`an entry of ${recordsOf(item)} records cannot be split at ${records}`);
  }

  /** The next queued entry, or its first `max` records when it holds more (the rest stays first in the queue). */
  protected takeQueuedUpTo(max: number): Queued {
    const item = this.queue[this.queueHead] as Queued;
    if (recordsOf(item) <= max) return this.takeQueued();
    const [head, tail] = this.split(item, max);
    this.queue[this.queueHead] = tail;
    this.queuedRecords -= max;
    return head;
  }

  /** The next queued entry, cleared from the queue. */
  protected takeQueued(): Queued {
    const item = this.queue[this.queueHead] as Queued;
    this.queuedRecords -= recordsOf(item);
    this.queue[this.queueHead++] = undefined;
    if (this.queueHead > QUEUE_COMPACT_AFTER && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return item;
  }

  full(): boolean {
    return this.finalized || this.queuedCount + this.inFlight >= this.stageOptions.maxQueueSize || this.fullBeyondCount();
  }

  dropFull(records: number): void {
    this.counts.lostExportQueue += records;
  }

  enqueue(record: BindLogRecord, resource: Attributes): boolean {
    return !this.refuses() && this.accept(this.admit(record, this.resources.get(resource)));
  }

  /** The queue is full or closed: one record refused, and counted. */
  private refuses(): boolean {
    if (this.roomInQueue > 0) return false;
    this.counts.lostExportQueue++;
    return true;
  }

  /** Queues what admit made of a record; undefined (a bound of the pipeline's own refused it) is counted. */
  private accept(item: Queued | undefined): boolean {
    if (item === undefined) {
      this.counts.lostExportQueue++;
      return false;
    }
    this.push(item);
    return true;
  }

  /** Queues an entry the pipeline admitted (within the queue's room). */
  protected push(item: Queued): void {
    this.queue.push(item);
    this.queuedRecords += recordsOf(item);
    this.queued();
  }

  /** `records` handed on have an outcome: into the books, and the next go. */
  protected settle(records: number, outcome: ExportOutcome): void {
    if (this.finalized) return; // already counted as lost at the deadline
    this.inFlight -= records;
    this.counts.exported += outcome.exported;
    if (outcome.failed) this.countFailed(outcome.reason ?? 'other', outcome.failed);
    this.pump();
  }

  private countFailed(reason: string, records: number): void {
    this.counts.lostExport += records;
    this.counts.failures.set(reason, (this.counts.failures.get(reason) ?? 0) + records);
  }

  snapshot(): OtlpCounts {
    // once finalized, what was still in flight is counted as lost: nothing is pending
    return { ...this.counts, failures: new Map(this.counts.failures), pending: this.finalized ? 0 : this.queuedCount + this.inFlight };
  }

  resourceCount(): number {
    return this.resources.size;
  }

  releaseIdle(nowMs = Date.now()): void {
    this.resources.releaseIdle(nowMs);
  }

  /** Stops the pipeline's own timers; shutdown then drains. */
  protected beginShutdown(): void {}

  async shutdown(timeoutMillis: number): Promise<OtlpCounts> {
    clearInterval(this.idleTimer);
    this.beginShutdown();
    const deadline = Date.now() + timeoutMillis;
    while (this.queuedCount + this.inFlight > 0 && Date.now() < deadline) await this.drainStep(deadline);
    this.counts.lostExportQueue += this.queuedCount;
    if (this.inFlight > 0) this.countFailed('shutdown', this.inFlight);
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedRecords = 0;
    this.inFlight = 0;
    this.finalized = true;
    await Promise.race([this.close(), sleep(Math.max(deadline - Date.now(), 1000))]);
    return this.snapshot();
  }
}
