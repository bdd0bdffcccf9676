import type { AppConfig } from '../config/schema';
import { DirectOtlpSink, type EncodedRequest } from './direct-sink';
import { jsonEncoding, protobufEncoding } from './encode';
import { AccountingLogExporter, OtlpHttpTransport, type ExportOutcome, type ExporterSettings } from './exporter';
import type { LogSink } from './log-sink';
import type { AttributeLimits } from './record';
import { OtlpSink } from './sink';

/**
 * The export stage for otlp.pipeline: the direct encoder (default) or the
 * OpenTelemetry SDK's logs pipeline, over the same OTLP/HTTP transport;
 * `onAttempt` hears of each HTTP attempt as it ends (see OtlpHttpTransport).
 */
export function createLogSink(settings: ExporterSettings, otlp: AppConfig['otlp'], scopeVersion: string, onAttempt?: (failure: string | undefined) => void): LogSink {
  const common = {
    maxQueueSize: otlp.maxQueueSize,
    maxExportBatchSize: otlp.maxExportBatchSize,
    flushIntervalMillis: otlp.flushIntervalMillis,
    scopeName: 'bindsnoop',
    scopeVersion,
    maxResources: otlp.maxResources,
    resourceIdleMillis: otlp.resourceIdleMillis,
    limits: attributeLimits(otlp),
  };
  if (otlp.pipeline === 'sdk') {
    return new OtlpSink({
      ...common,
      makeExporter: (onOutcome) => new AccountingLogExporter(settings, onOutcome, onAttempt),
      exportTimeoutMillis: otlp.timeoutMillis,
    });
  }
  const transport = new OtlpHttpTransport<EncodedRequest>(settings, (request) => request.body, (request) => request.count);
  transport.onAttempt = onAttempt;
  const sinkOptions = {
    ...common,
    maxQueueBytes: otlp.maxQueueBytes,
    send: (request: EncodedRequest, done: (outcome: ExportOutcome) => void) => transport.send(request, (outcome) => done(outcome)),
    closeTransport: () => transport.shutdown(),
  };
  return settings.protocol === 'http/json'
    ? new DirectOtlpSink({ ...sinkOptions, encoding: jsonEncoding() })
    : new DirectOtlpSink({ ...sinkOptions, encoding: protobufEncoding() });
}

/** A bind's record has at most this many attributes: a count limit at or above it never applies. */
const MOST_ATTRIBUTES_OF_A_BIND = 64;

/** The log record limits, or undefined when they cannot apply (the hot path then skips them). */
function attributeLimits(otlp: AppConfig['otlp']): AttributeLimits | undefined {
  const countApplies = otlp.attributeCountLimit > 0 && otlp.attributeCountLimit < MOST_ATTRIBUTES_OF_A_BIND;
  if (!countApplies && otlp.attributeValueLengthLimit === 0) return undefined;
  return { countLimit: countApplies ? otlp.attributeCountLimit : 0, valueLengthLimit: otlp.attributeValueLengthLimit };
}
