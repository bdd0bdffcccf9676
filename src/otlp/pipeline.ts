import type { AppConfig } from '../config/schema';
import { DirectOtlpSink, type EncodedRequest } from './direct-sink';
import { jsonEncoding, protobufEncoding } from './encode';
import { AccountingLogExporter, OtlpHttpTransport, type ExportOutcome, type ExporterSettings } from './exporter';
import type { LogSink } from './log-sink';
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
