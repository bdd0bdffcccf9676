import type { Context, HrTime } from '@opentelemetry/api';
import type { Logger } from '@opentelemetry/api-logs';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkLogs from '@opentelemetry/sdk-logs';
import type { BatchLogRecordProcessor, LoggerProvider, LogRecordExporter, LogRecordProcessor, SdkLogRecord } from '@opentelemetry/sdk-logs';
import type * as Transformer from '@opentelemetry/otlp-transformer';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { Attributes } from '../model/attributes';
import { OtlpHttpTransport, strictOtlpJson, type ExportOutcome, type ExporterSettings } from './exporter';
import { ExportStage, sleep, type ExportStageOptions } from './export-stage';
import type { AttributeLimits, BindLogRecord } from './record';
import type { CachedResource } from './resource-cache';
import { SEMCONV_SCHEMA_URL } from '../naming/resource';

export interface SdkPipelineOptions extends ExportStageOptions {
  /** built with the pipeline's outcome callback, so every export's result is counted */
  makeExporter: (onOutcome: (outcome: ExportOutcome) => void) => LogRecordExporter;
  maxExportBatchSize: number;
  flushIntervalMillis: number;
  /** deadline of one export; the processor waits a little longer than the exporter */
  exportTimeoutMillis: number;
  scopeName: string;
  scopeVersion: string;
  /** the log record limits, when any can apply; the SDK's LoggerProvider applies them (and counts what it drops) */
  limits?: AttributeLimits;
}

/**
 * The SDK's modules, loaded when this pipeline is chosen: its logs pipeline,
 * resources and serializers are memory the direct pipeline never needs.
 */
function sdk(): { logs: typeof SdkLogs; resources: typeof Resources; transformer: typeof Transformer } {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    logs: require('@opentelemetry/sdk-logs') as typeof SdkLogs,
    resources: require('@opentelemetry/resources') as typeof Resources,
    transformer: require('@opentelemetry/otlp-transformer') as typeof Transformer,
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/**
 * Hands records to one shared processor; never shuts it down (the pipeline
 * does, once). Each resource's LoggerProvider gets its own proxy.
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

/** A resource's logger, and the provider it came from. */
interface ResourceLogger {
  provider: LoggerProvider;
  logger: Logger;
}

/** ns since the epoch as the SDK holds a time: [seconds, nanoseconds]. */
export function hrTimeFromNs(ns: bigint): HrTime {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

interface QueuedRecord {
  record: BindLogRecord;
  resource: CachedResource<ResourceLogger>;
}

/**
 * The OpenTelemetry SDK's logs pipeline (otlp.pipeline: sdk). One
 * LoggerProvider per distinct resource, all sharing one BatchLogRecordProcessor
 * and exporter, so each export request groups records into one ResourceLogs
 * per resource (per pod).
 *
 * The SDK's batch processor drops silently when its queue is full, so records
 * wait in this stage's bounded queue and are handed over only while the SDK
 * holds fewer than its capacity: the SDK never drops, and every loss is counted
 * here.
 */
export class SdkPipeline extends ExportStage<QueuedRecord, ResourceLogger> {
  private scopeAttributes: Attributes = {};
  private readonly sdkCapacity: number;
  private readonly processor: BatchLogRecordProcessor;
  constructor(private readonly options: SdkPipelineOptions) {
    super(options);
    this.sdkCapacity = Math.max(1, Math.min(options.maxQueueSize, options.maxExportBatchSize * 4));
    this.processor = new (sdk().logs.BatchLogRecordProcessor)({
      exporter: options.makeExporter((outcome) => this.settle(outcome.exported + outcome.failed, outcome)),
      maxQueueSize: this.sdkCapacity,
      maxExportBatchSize: options.maxExportBatchSize,
      scheduledDelayMillis: options.flushIntervalMillis,
      exportTimeoutMillis: options.exportTimeoutMillis + 5000,
    });
  }

  /** InstrumentationScope attributes (the kernel backend); set before the first record. */
  setScopeAttributes(attributes: Attributes): void {
    this.scopeAttributes = attributes;
  }

  /**
   * A resource's logger, of its own provider. The provider only refers to the
   * shared processor, which records already emitted do not need: releasing it
   * frees it.
   */
  protected buildResource(resource: Attributes): ResourceLogger {
    const limits = this.options.limits;
    const { logs, resources } = sdk();
    const provider = new logs.LoggerProvider({
      resource: resources.resourceFromAttributes(resource, { schemaUrl: SEMCONV_SCHEMA_URL }),
      processors: [new SharedProcessorProxy(this.processor)],
      // explicit, so the SDK's own defaults or environment never decide them (0 = no limit)
      logRecordLimits: {
        attributeCountLimit: limits?.countLimit || Number.POSITIVE_INFINITY,
        attributeValueLengthLimit: limits?.valueLengthLimit || Number.POSITIVE_INFINITY,
      },
    });
    return { provider, logger: provider.getLogger(this.options.scopeName, this.options.scopeVersion, { schemaUrl: SEMCONV_SCHEMA_URL, attributes: this.scopeAttributes }) };
  }

  protected admit(record: BindLogRecord, resource: CachedResource<ResourceLogger>): QueuedRecord {
    return { record, resource };
  }

  protected queued(): void {
    this.pump();
  }

  protected pump(): void {
    while (this.queuedCount > 0 && this.inFlight < this.sdkCapacity) {
      const { record, resource } = this.takeQueued();
      this.inFlight++;
      resource.value.logger.emit({
        eventName: record.eventName,
        timestamp: hrTimeFromNs(record.timeUnixNano),
        observedTimestamp: hrTimeFromNs(record.observedTimeUnixNano),
        severityNumber: record.severityNumber,
        severityText: record.severityText,
        body: record.body,
        attributes: record.attributes,
      });
    }
  }

  protected async drainStep(deadlineMs: number): Promise<void> {
    this.pump();
    await Promise.race([this.processor.forceFlush(), sleep(deadlineMs - Date.now())]);
    // a flush already under way makes forceFlush return at once: do not spin
    await sleep(Math.min(10, deadlineMs - Date.now()));
  }

  protected close(): Promise<void> {
    return this.processor.shutdown();
  }
}

/**
 * The SDK pipeline's exporter: the official serializers (protobuf, or JSON with
 * int64 as strings) over the transport above.
 */
export class AccountingLogExporter implements LogRecordExporter {
  private readonly transport: OtlpHttpTransport<ReadableLogRecord[]>;

  constructor(
    settings: ExporterSettings,
    private readonly onOutcome: (outcome: ExportOutcome) => void,
    onAttempt?: (failure: string | undefined) => void,
  ) {
    const json = settings.protocol === 'http/json';
    const { JsonLogsSerializer, ProtobufLogsSerializer } = sdk().transformer;
    this.transport = new OtlpHttpTransport<ReadableLogRecord[]>(settings, (records) => {
      if (!json) return ProtobufLogsSerializer.serializeRequest(records);
      const body = JsonLogsSerializer.serializeRequest(records);
      return body && strictOtlpJson(body);
    }, (records) => records.length);
    this.transport.onAttempt = onAttempt;
  }

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    this.transport.send(records, (outcome, result) => {
      this.onOutcome(outcome);
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.transport.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.transport.shutdown();
  }
}
