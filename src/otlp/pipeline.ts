import type { AppConfig } from '../config/schema';
import type { NamedBind, NamingOutput } from '../model/named-bind';
import { DirectPipeline, MAX_CONCURRENT_EXPORTS, ProtobufDirectPipeline, type EncodedRequest } from './direct-pipeline';
import { jsonEncoding, protobufEncoding } from './encode';
import { OtlpHttpTransport, type ExportOutcome, type ExporterSettings } from './exporter';
import { AccountingLogExporter, SdkPipeline } from './sdk-pipeline';
import type { LogSink } from './export-stage';
import { attributeLimits, bindLogRecord } from './record';
import { eachRun } from './native-encoding';
import type { Attributes } from '../model/attributes';

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
    return new SdkPipeline({
      ...common,
      makeExporter: (onOutcome) => new AccountingLogExporter(settings, onOutcome, onAttempt),
      exportTimeoutMillis: otlp.timeoutMillis,
    });
  }
  // a transport (its own connection) for each export in flight: an export's deadline closes its connection, never
  // that of another export, and tells its own requests sent from those that never left
  const transports = Array.from({ length: MAX_CONCURRENT_EXPORTS }, () => {
    const transport = new OtlpHttpTransport<EncodedRequest>(settings, (request) => request.body, (request) => request.count);
    transport.onAttempt = onAttempt;
    return transport;
  });
  const idle = [...transports];
  const sinkOptions = {
    ...common,
    maxQueueBytes: otlp.maxQueueBytes,
    send: (request: EncodedRequest, done: (outcome: ExportOutcome) => void, released: () => void) => {
      // none idle only while an export ended at its deadline is still being released: it shares the first
      const transport = idle.pop() ?? transports[0];
      transport.send(request, (outcome) => done(outcome), () => {
        if (!idle.includes(transport)) idle.push(transport);
        released();
      });
    },
    closeTransport: async () => {
      await Promise.all(transports.map((t) => t.shutdown()));
    },
  };
  return settings.protocol === 'http/json'
    ? new DirectPipeline({ ...sinkOptions, encoding: jsonEncoding() })
    : new ProtobufDirectPipeline({ ...sinkOptions, encoding: protobufEncoding() });
}

/** Each bind as one OTLP log record of its resource (docs/CONTRACT.md, section 2). */
export function otlpOutput(sink: LogSink, nowWallNs: () => bigint): NamingOutput {
  return {
    reads: 'named',
    write(binds: readonly NamedBind[]) {
      const observedNs = nowWallNs();
      for (const b of binds) sink.enqueue(bindLogRecord(b, observedNs), b.resource);
    },
    saturated: () => sink.full(),
    drop: (n) => sink.dropFull(n),
  };
}

/** The records the addon encoded (a batch of them), each queued as it is with the resource of its slot; how many. */
export type EncodedOutput = (batch: Buffer, resourceOf: (slot: number) => Attributes) => number;

/** The OTLP output of the addon's records, when the sink takes them; `recycle` gets each batch once none of it is queued. */
export function otlpEncodedOutput(sink: LogSink, recycle: (batch: Buffer) => void): EncodedOutput | undefined {
  const enqueue = sink.enqueueEncoded?.bind(sink);
  const offered = sink.encodedBatchOffered?.bind(sink);
  if (!enqueue || !offered) return undefined;
  return (batch, resourceOf) => {
    const records = eachRun(batch, (slot, fields, n) => enqueue(fields, n, resourceOf(slot)));
    offered(batch, recycle);
    return records;
  };
}
