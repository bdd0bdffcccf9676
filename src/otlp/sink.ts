import type { Context } from '@opentelemetry/api';
import type { Logger } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type LogRecordProcessor,
  type SdkLogRecord,
} from '@opentelemetry/sdk-logs';
import type { Attributes } from '../model/attributes';
import type { ExportOutcome } from './exporter';
import type { LogSink, OtlpCounts } from './log-sink';
import type { AttributeLimits, BindLogRecord } from './record';
import { resourceKey, SEMCONV_SCHEMA_URL } from './resource';

export interface OtlpSinkOptions {
  /** built with the sink's outcome callback, so every export's result is counted */
  makeExporter: (onOutcome: (outcome: ExportOutcome) => void) => LogRecordExporter;
  /** records held at most (waiting and being exported); past it new ones are dropped */
  maxQueueSize: number;
  maxExportBatchSize: number;
  flushIntervalMillis: number;
  /** deadline of one export; the processor waits a little longer than the exporter */
  exportTimeoutMillis: number;
  scopeName: string;
  scopeVersion: string;
  /** loggers (one per distinct resource, i.e. per pod) kept at most; the least recently used goes first */
  maxResources: number;
  /** a logger unused this long (its pod gone) is released */
  resourceIdleMillis: number;
  /** the log record limits, when any can apply; the SDK's LoggerProvider applies them (and counts what it drops) */
  limits?: AttributeLimits;
}

/**
 * Hands records to one shared processor; never shuts it down (the sink does,
 * once). Each resource's LoggerProvider gets its own proxy.
 */
class SharedProcessorProxy implements LogRecordProcessor {
  constructor(private readonly target: LogRecordProcessor) {}
  onEmit(record: SdkLogRecord, context?: Context): void {
    this.target.onEmit(record, context);
  }
  forceFlush(): Promise<void> {
    return this.target.forceFlush();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * The OTLP export stage. One logger per distinct resource, all sharing one
 * BatchLogRecordProcessor and exporter, so each export request groups records
 * into one ResourceLogs per resource (per pod).
 *
 * The SDK's batch processor drops silently when its queue is full, so records
 * wait in this sink's bounded queue and are handed over only while the SDK
 * holds fewer than its capacity: the SDK never drops, and every loss is counted
 * here.
 */
export class OtlpSink implements LogSink {
  private scopeAttributes: Attributes = {};
  private readonly queue: { record: BindLogRecord; resource: Attributes }[] = [];
  private queueHead = 0;
  private inSdk = 0;
  private readonly sdkCapacity: number;
  private readonly processor: BatchLogRecordProcessor;
  /** by resource key, least recently used first */
  private readonly loggers = new Map<string, { provider: LoggerProvider; logger: Logger; usedAtMs: number }>();
  private readonly idleTimer: NodeJS.Timeout;
  /** the same resource object again (every host bind shares one) skips building its key */
  private readonly keyByObject = new WeakMap<Attributes, string>();
  private finalized = false;
  private readonly counts: Omit<OtlpCounts, 'pending'> = {
    exported: 0,
    lostExportQueue: 0,
    lostExport: 0,
    failures: new Map(),
  };

  constructor(private readonly options: OtlpSinkOptions) {
    this.sdkCapacity = Math.max(1, Math.min(options.maxQueueSize, options.maxExportBatchSize * 4));
    const exporter = options.makeExporter((outcome) => this.onOutcome(outcome));
    this.processor = new BatchLogRecordProcessor({
      exporter,
      maxQueueSize: this.sdkCapacity,
      maxExportBatchSize: options.maxExportBatchSize,
      scheduledDelayMillis: options.flushIntervalMillis,
      exportTimeoutMillis: options.exportTimeoutMillis + 5000,
    });
    this.idleTimer = setInterval(() => this.releaseIdle(), Math.max(100, Math.min(options.resourceIdleMillis, 30_000)));
    this.idleTimer.unref();
  }

  /**
   * Releases the loggers not used for resourceIdleMillis (pods long gone). A
   * provider only refers to the shared processor, which records already emitted
   * do not need: dropping it frees it. The object cache is a WeakMap: it holds
   * nothing alive.
   */
  releaseIdle(nowMs = Date.now()): void {
    for (const [key, entry] of this.loggers) {
      if (nowMs - entry.usedAtMs < this.options.resourceIdleMillis) break; // the rest were used later
      this.loggers.delete(key);
    }
  }

  private get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** InstrumentationScope attributes (the kernel backend); set before the first record. */
  setScopeAttributes(attributes: Attributes): void {
    this.scopeAttributes = attributes;
  }

  full(): boolean {
    return this.finalized || this.queued + this.inSdk >= this.options.maxQueueSize;
  }

  dropFull(records: number): void {
    this.counts.lostExportQueue += records;
  }

  /** Queues a record for export; false (and counted) when the queue is full. */
  enqueue(record: BindLogRecord, resource: Attributes): boolean {
    if (this.finalized || this.queued + this.inSdk >= this.options.maxQueueSize) {
      this.counts.lostExportQueue++;
      return false;
    }
    this.queue.push({ record, resource });
    this.pump();
    return true;
  }

  private loggerFor(resource: Attributes): Logger {
    let key = this.keyByObject.get(resource);
    if (key === undefined) {
      key = resourceKey(resource);
      this.keyByObject.set(resource, key);
    }
    let entry = this.loggers.get(key);
    if (entry) {
      // most recently used last: a Map keeps insertion order
      this.loggers.delete(key);
      this.loggers.set(key, entry);
      entry.usedAtMs = Date.now();
    } else {
      if (this.loggers.size >= this.options.maxResources) {
        // a resource not seen for longest (a pod long gone): its provider only refers to the shared
        // processor, which records already emitted do not need, so dropping it frees it
        const oldest = this.loggers.keys().next().value;
        if (oldest !== undefined) this.loggers.delete(oldest);
      }
      const limits = this.options.limits;
      const provider = new LoggerProvider({
        resource: resourceFromAttributes(resource, { schemaUrl: SEMCONV_SCHEMA_URL }),
        processors: [new SharedProcessorProxy(this.processor)],
        // explicit, so the SDK's own defaults or environment never decide them (0 = no limit)
        logRecordLimits: {
          attributeCountLimit: limits?.countLimit || Number.POSITIVE_INFINITY,
          attributeValueLengthLimit: limits?.valueLengthLimit || Number.POSITIVE_INFINITY,
        },
      });
      entry = {
        provider,
        logger: provider.getLogger(this.options.scopeName, this.options.scopeVersion, { schemaUrl: SEMCONV_SCHEMA_URL, attributes: this.scopeAttributes }),
        usedAtMs: Date.now(),
      };
      this.loggers.set(key, entry);
    }
    return entry.logger;
  }

  private pump(): void {
    while (this.queued > 0 && this.inSdk < this.sdkCapacity) {
      const { record, resource } = this.queue[this.queueHead++];
      this.inSdk++;
      this.loggerFor(resource).emit(record);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private onOutcome(outcome: ExportOutcome): void {
    if (this.finalized) return; // already counted as lost at the deadline
    this.inSdk -= outcome.exported + outcome.failed;
    this.counts.exported += outcome.exported;
    if (outcome.failed) {
      this.counts.lostExport += outcome.failed;
      const reason = outcome.reason ?? 'other';
      this.counts.failures.set(reason, (this.counts.failures.get(reason) ?? 0) + outcome.failed);
    }
    this.pump();
  }

  snapshot(): OtlpCounts {
    return { ...this.counts, failures: new Map(this.counts.failures), pending: this.queued + this.inSdk };
  }

  /** Distinct resources seen (one logger each). */
  resourceCount(): number {
    return this.loggers.size;
  }

  /**
   * Sends what is queued until `timeoutMillis` passes; what is left then is
   * counted as lost. Shuts the shared processor and exporter down once.
   */
  async shutdown(timeoutMillis: number): Promise<OtlpCounts> {
    clearInterval(this.idleTimer);
    const deadline = Date.now() + timeoutMillis;
    while (this.queued + this.inSdk > 0 && Date.now() < deadline) {
      this.pump();
      await Promise.race([this.processor.forceFlush(), sleep(deadline - Date.now())]);
      // a flush already under way makes forceFlush return at once: do not spin
      await sleep(Math.min(10, deadline - Date.now()));
    }
    if (this.queued + this.inSdk > 0) {
      this.counts.lostExportQueue += this.queued;
      if (this.inSdk > 0) {
        this.counts.lostExport += this.inSdk;
        this.counts.failures.set('shutdown', (this.counts.failures.get('shutdown') ?? 0) + this.inSdk);
      }
      this.queue.length = 0;
      this.queueHead = 0;
      this.inSdk = 0;
    }
    this.finalized = true;
    await Promise.race([this.processor.shutdown(), sleep(Math.max(deadline - Date.now(), 1000))]);
    return this.snapshot();
  }
}
