import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import type { ISerializer } from '@opentelemetry/otlp-transformer';
import type { Agent, ClientRequest } from 'node:http';
import { wellFormedJson } from '../model/text';
import { gunzipSync } from 'node:zlib';
import { decodeLogsResponseJson, decodeLogsResponseProtobuf, type LogsResponse } from './response';

export interface ExporterSettings {
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  headers: Record<string, string>;
  compression: 'none' | 'gzip';
  timeoutMillis: number;
  /** PEM contents, when configured */
  ca?: string;
  cert?: string;
  key?: string;
  userAgent: string;
}

/** What became of the records of one export call. */
export interface ExportOutcome {
  /** accepted by the receiver */
  exported: number;
  /** lost, and why ("rejected" for partial success, "http_400", "network", ...) */
  failed: number;
  reason?: string;
}

/**
 * The SDK's OTLP/JSON made what a strict decoder (protobuf's json_format)
 * takes: 64-bit integers (AnyValue.intValue) as decimal strings, as protobuf's
 * JSON mapping writes them (the SDK writes numbers), and no `schemaUrl` inside
 * a Resource (the proto has none there; it belongs to ResourceLogs). Pure:
 * bytes in, bytes out.
 */
export function strictOtlpJson(body: Uint8Array): Uint8Array {
  const request = JSON.parse(new TextDecoder().decode(body)) as { resourceLogs?: { resource?: { schemaUrl?: unknown } }[] };
  for (const rl of request.resourceLogs ?? []) if (rl.resource) delete rl.resource.schemaUrl;
  return new TextEncoder().encode(
    wellFormedJson(JSON.stringify(request, (key, value: unknown) => (key === 'intValue' && typeof value === 'number' ? String(value) : value))),
  );
}

/**
 * partialSuccess.rejectedLogRecords as a count: absent is 0; a whole, non-negative
 * number (or its decimal string, or a protobuf long) is itself; anything else
 * (NaN, negative, fractional, text) is undefined: not understood. Pure.
 */
export function rejectedCount(value: unknown): number | undefined {
  if (value === undefined || value === null) return 0;
  const text = typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string' || typeof value === 'object' ? String(value) : '';
  if (!/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** A reply past this, unpacked, is not an ExportLogsServiceResponse (the transport also caps replies at 4 MB). */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * A reply body as sent, or unpacked when it is gzip (1f 8b) though nobody asked
 * for it: some proxies compress every reply. Unpacking is bounded; a broken
 * gzip throws, read as a reply that cannot be understood.
 */
export function gunzipIfGzip(data: Uint8Array): Uint8Array {
  if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) return data;
  return gunzipSync(data, { maxOutputLength: MAX_REPLY_BYTES });
}

/**
 * Export failures whose records may have reached the receiver: their fate is
 * unknown, not known to be lost (a reply past the deadline, cut off, or not
 * understood). The other reasons are known losses.
 */
export const DELIVERY_UNKNOWN_REASONS: ReadonlySet<string> = new Set(['delivery_unknown', 'incomplete_response', 'malformed_response']);

/**
 * Calls `make` with the OTEL_EXPORTER_OTLP_ variables out of the environment:
 * the SDK's transport reads them itself and merges them with what it is given
 * (headers from both), while the agent's configuration has already taken them,
 * with its own precedence (BINDSNOOP_ over OTEL_, the spec's leniency), and
 * must be the only source the transport sees. Synchronous: nothing else runs
 * while they are out.
 */
function withoutOtlpEnvironment<T>(make: () => T): T {
  const saved = Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_EXPORTER_OTLP_'));
  for (const [name] of saved) delete process.env[name];
  try {
    return make();
  } finally {
    for (const [name, value] of saved) process.env[name] = value;
  }
}

/** past the transport's own deadline, so that its verdict wins when it has one in time */
const DEADLINE_SLACK_MILLIS = 250;

/** Why an export failed, from the exporter's error (pure). */
export function failureReason(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  if (typeof e?.code === 'number') return `http_${e.code}`;
  const message = typeof e?.message === 'string' ? e.message : '';
  // the receiver's certificate did not verify (or the TLS handshake failed): not a network fault
  if (typeof e?.code === 'string' && /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_SELF_SIGNED|CERT_|HOSTNAME_MISMATCH)/.test(e.code)) return 'tls';
  if (typeof e?.code === 'string') return 'network';
  if (/timed? ?out/i.test(message)) return 'timeout';
  // a reply past the transport's 4 MB cap: what the receiver kept is unknown, as with a reply it cannot parse
  if (/exceeded size limit/i.test(message)) return 'malformed_response';
  if (/retryable status/i.test(message)) return 'retries_exhausted';
  if (/Concurrent export limit/i.test(message)) return 'concurrency_limit';
  return 'other';
}

/**
 * The official OTLP/HTTP transport of @opentelemetry/exporter-logs-otlp-{proto,http}
 * (createOtlpHttpExportDelegate: retries on 429, 502, 503, 504 and connection
 * errors, Retry-After honoured within the deadline, compression, TLS), for a
 * request of any shape with its serializer, with two additions: the response's
 * partial success is read so rejected records are counted, and the whole
 * exchange is bounded by timeoutMillis.
 */
export class OtlpHttpTransport<Request> {
  private readonly inner: OTLPExporterBase<Request>;
  private agent?: Agent;
  private readonly timeoutMillis: number;
  /** requests sent whole so far (see the agent factory) */
  private requestsSent = 0;
  /**
   * Told of each HTTP attempt as it ends: undefined for a reply of 2xx, else
   * why it failed ("ECONNREFUSED", "HTTP 503"). Retries are attempts too.
   */
  onAttempt?: (failure: string | undefined) => void;
  /**
   * The reply just read: set by deserializeResponse, which the transport calls
   * right before the same export's result callback, synchronously, and taken
   * (reset) by that callback. `rejected` undefined: not understood. None: the
   * transport reported success without a whole reply (a 200 whose body was cut
   * off, which it counts as success).
   */
  private lastReply?: { rejected: number | undefined };

  constructor(
    settings: ExporterSettings,
    serializeRequest: (request: Request) => Uint8Array | undefined,
    private readonly countRecords: (request: Request) => number,
  ) {
    const json = settings.protocol === 'http/json';
    const decode = json ? decodeLogsResponseJson : decodeLogsResponseProtobuf;
    const serializer: ISerializer<Request, LogsResponse> = {
      serializeRequest,
      deserializeResponse: (data) => {
        // a 200 whose body cannot be read: whether some records were rejected is unknown
        this.lastReply = { rejected: undefined };
        const response = decode(gunzipIfGzip(data));
        this.lastReply = { rejected: rejectedCount(response.partialSuccess?.rejectedLogRecords) };
        return response;
      },
    };
    const contentType = json ? 'application/json' : 'application/x-protobuf';
    const tls = settings.ca || settings.cert || settings.key ? { ca: settings.ca, cert: settings.cert, key: settings.key } : undefined;
    const options = withoutOtlpEnvironment(() => convertLegacyHttpOptions(
      {
        url: settings.url,
        headers: settings.headers,
        compression: settings.compression as never,
        timeoutMillis: settings.timeoutMillis,
        userAgent: settings.userAgent,
        ...(tls ? { httpAgentOptions: tls } : {}),
      },
      'LOGS',
      'v1/logs',
      { 'Content-Type': contentType },
    ));
    // the transport's own timeout is per socket read: a receiver trickling its reply never trips it. Keep the
    // agent, so that at the export's deadline its sockets can be closed (see send()).
    const makeAgent = options.agentFactory;
    options.agentFactory = async (protocol: string) => {
      const agent = await makeAgent(protocol);
      // count requests sent whole (their last byte handed to a connection that is up), so that an export ended at
      // its deadline can tell a request the receiver may have from one that never left
      const addRequest = (agent as unknown as { addRequest: (req: ClientRequest, ...rest: unknown[]) => void }).addRequest.bind(agent);
      (agent as unknown as { addRequest: (req: ClientRequest, ...rest: unknown[]) => void }).addRequest = (req, ...rest) => {
        req.once('finish', () => {
          if (req.socket && !req.socket.connecting) this.requestsSent++;
        });
        // each attempt, as it ends: the transport retries within the deadline, and a user wants to hear at once
        req.once('response', (res) => this.onAttempt?.((res.statusCode ?? 0) < 300 ? undefined : `HTTP ${res.statusCode ?? 0}`));
        req.once('error', (e: NodeJS.ErrnoException) => this.onAttempt?.(e.code ?? e.message));
        addRequest(req, ...rest);
      };
      return (this.agent = agent);
    };
    this.timeoutMillis = settings.timeoutMillis;
    this.inner = new OTLPExporterBase(
      createOtlpHttpExportDelegate(options, serializer, 'bindsnoop_otlp_http_log_exporter', { name: 'log', countItems: countRecords }, undefined),
    );
  }

  /**
   * One export of the request's records, its whole exchange (retries, upload, reply)
   * bounded by timeoutMillis: past it the records are counted as lost to
   * `timeout`, the connection is closed, and whatever the transport says later
   * is ignored. `done` is called once, with what became of the records.
   */
  send(request: Request, done: (outcome: ExportOutcome, result: ExportResult) => void, released?: () => void): void {
    const count = this.countRecords(request);
    const sentBefore = this.requestsSent;
    // a timeout after a request went out whole: the receiver may have kept the records (delivery_unknown); none
    // went out (connecting, a handshake that never ended, waiting to retry): a known loss (timeout)
    const timedOut = (): string => (this.requestsSent > sentBefore ? 'delivery_unknown' : 'timeout');
    let settled = false;
    const deadline = setTimeout(() => {
      settled = true;
      const reason = timedOut();
      for (const sockets of Object.values(this.agent?.sockets ?? {})) for (const socket of sockets ?? []) socket.destroy();
      done({ exported: 0, failed: count, reason }, { code: ExportResultCode.FAILED, error: new Error(`the export took longer than ${this.timeoutMillis} ms`) });
    }, this.timeoutMillis + DEADLINE_SLACK_MILLIS);
    deadline.unref();
    this.inner.export(request, (result) => {
      // the transport is done with the request (retries included), whenever its verdict came
      released?.();
      if (settled) return; // already counted at the deadline
      settled = true;
      clearTimeout(deadline);
      if (result.code === ExportResultCode.SUCCESS) {
        const reply = this.lastReply;
        this.lastReply = undefined;
        if (!reply) {
          // 200, then the connection ended before the reply did: what the receiver kept is unknown
          done({ exported: 0, failed: count, reason: 'incomplete_response' }, result);
        } else if (reply.rejected === undefined || reply.rejected > count) {
          // a partial success that cannot be understood: what was kept is unknown, so none is counted as exported
          done({ exported: 0, failed: count, reason: 'malformed_response' }, result);
        } else {
          done({ exported: count - reply.rejected, failed: reply.rejected, reason: reply.rejected ? 'rejected' : undefined }, result);
        }
      } else {
        const reason = failureReason(result.error);
        done({ exported: 0, failed: count, reason: reason === 'timeout' ? timedOut() : reason }, result);
      }
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
