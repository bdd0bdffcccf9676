import type { Attributes } from '../model/attributes';
import type { BindLogRecord } from './record';

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
 * builds the requests (otlp.pipeline: the SDK's, or the direct encoder).
 */
export interface LogSink {
  /** InstrumentationScope attributes (the kernel backend); set before the first record. */
  setScopeAttributes(attributes: Attributes): void;
  /** Queues a record of `resource` for export; false (and counted) when the queue is full. */
  enqueue(record: BindLogRecord, resource: Attributes): boolean;
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
