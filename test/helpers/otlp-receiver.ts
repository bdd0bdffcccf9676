import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/*
 * A faithful local OTLP/HTTP logs receiver for tests. Protobuf bodies are
 * decoded with protobufjs code generated from the official
 * opentelemetry-proto definitions (an older otlp-transformer line, which
 * shipped it), independent of the encoder the exporter under test uses.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const root = require('otlp-proto-reference/build/src/generated/root') as ProtoRoot;

interface ProtoType {
  decode(buf: Uint8Array): unknown;
  toObject(msg: unknown, opts: Record<string, unknown>): Record<string, unknown>;
  encode(obj: unknown): { finish(): Uint8Array };
  fromObject(obj: unknown): unknown;
}
interface ProtoRoot {
  opentelemetry: { proto: { collector: { logs: { v1: { ExportLogsServiceRequest: ProtoType; ExportLogsServiceResponse: ProtoType } } } } };
}
const ExportLogsServiceRequest = root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Reader } = require('protobufjs/minimal') as { Reader: { create(buf: Uint8Array): ProtoReader } };

interface ProtoReader {
  pos: number;
  len: number;
  uint32(): number;
  bytes(): Uint8Array;
  string(): string;
  skipType(wireType: number): void;
}

/** The length-delimited fields numbered `field` of a message, in order. */
function subMessages(buf: Uint8Array, field: number): Uint8Array[] {
  const r = Reader.create(buf);
  const out: Uint8Array[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === field && (tag & 7) === 2) out.push(r.bytes());
    else r.skipType(tag & 7);
  }
  return out;
}

/**
 * LogRecord.event_name (field 12) of every record, in order. The generated
 * reference code predates the field (added in opentelemetry-proto 1.5.0), so it
 * is read from the wire here: request.resource_logs(1) -> scope_logs(2) ->
 * log_records(2) -> event_name(12).
 */
function eventNames(request: Uint8Array): string[] {
  const names: string[] = [];
  for (const rl of subMessages(request, 1))
    for (const sl of subMessages(rl, 2))
      for (const lr of subMessages(sl, 2)) {
        const [name] = subMessages(lr, 12);
        names.push(name ? Buffer.from(name).toString('utf8') : '');
      }
  return names;
}
const ExportLogsServiceResponse = root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse;

export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; retryAfterSeconds?: number; retryAfterDate?: Date; location?: string }
  | { kind: 'partial'; rejected: number }
  /** 200 and a reply sent one byte a second, never finished */
  | { kind: 'trickle' }
  /** 200 with exactly this body: a hostile or broken receiver */
  | { kind: 'raw'; contentType: string; body: string | Buffer }
  | { kind: 'hang' }
  /** the connection reset once the request has arrived */
  | { kind: 'reset' }
  /** 200 and a body of this many bytes of noise */
  | { kind: 'huge'; bytes: number }
  /** 200 (a whole success) after this many milliseconds */
  | { kind: 'delay'; millis: number };

export type AttrType = 'string' | 'int' | 'bool' | 'double' | 'array' | 'kvlist' | 'bytes';
export type AttrValue = string | number | boolean | unknown[] | Record<string, unknown> | null;

export interface ReceivedRecord {
  resource: Record<string, AttrValue>;
  scope: { name?: string; version?: string; attributes: Record<string, AttrValue> };
  eventName?: string;
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber?: number;
  severityText?: string;
  body: AttrValue;
  attributes: Record<string, AttrValue>;
  attributeTypes: Record<string, AttrType>;
  droppedAttributesCount: number;
}

export interface ReceivedRequest {
  at: number;
  path: string;
  contentType: string;
  contentEncoding?: string;
  headers: IncomingMessage['headers'];
  answer: Behaviour;
  /** the request body as sent, decompressed */
  body: Buffer;
  /** one entry per ResourceLogs */
  resourceLogs: { resource: Record<string, AttrValue>; schemaUrl?: string; scopeSchemaUrls: string[]; records: ReceivedRecord[] }[];
  /**
   * OTLP/JSON only: where a 64-bit integer (intValue, timeUnixNano, ...) came as
   * a JSON number; the OTLP JSON mapping requires a decimal string, and strict
   * decoders reject numbers.
   */
  int64AsNumbers: string[];
}

const INT64_FIELDS = new Set(['intValue', 'timeUnixNano', 'observedTimeUnixNano']);

/** The fields of each OTLP/JSON message the logs request holds (opentelemetry-proto), in their JSON names. */
const JSON_FIELDS: Record<string, readonly string[]> = {
  request: ['resourceLogs'],
  resourceLogs: ['resource', 'scopeLogs', 'schemaUrl'],
  resource: ['attributes', 'droppedAttributesCount', 'entityRefs'],
  scopeLogs: ['scope', 'logRecords', 'schemaUrl'],
  scope: ['name', 'version', 'attributes', 'droppedAttributesCount'],
  logRecord: ['timeUnixNano', 'observedTimeUnixNano', 'severityNumber', 'severityText', 'body', 'attributes', 'droppedAttributesCount', 'flags', 'traceId', 'spanId', 'eventName'],
  keyValue: ['key', 'value'],
  anyValue: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'],
};

/**
 * What a strict decoder (protobuf's json_format, as a collector built on it)
 * refuses in OTLP/JSON: a field the message does not have, a string that is not
 * well-formed (a lone surrogate). One line per problem; none for a good request.
 */
export function strictJsonProblems(request: unknown): string[] {
  const out: string[] = [];
  const wellFormed = (v: unknown, at: string): void => {
    if (typeof v === 'string' && /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v)) out.push(`${at}: not well-formed UTF-16`);
  };
  const message = (kind: string, v: unknown, at: string): void => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (!JSON_FIELDS[kind].includes(k)) out.push(`${at}.${k}: no such field in ${kind}`);
      wellFormed(x, `${at}.${k}`);
    }
  };
  const keyValues = (list: unknown, at: string): void => {
    for (const [i, kv] of ((list as unknown[]) ?? []).entries()) {
      message('keyValue', kv, `${at}[${i}]`);
      const value = (kv as { value?: unknown }).value;
      message('anyValue', value, `${at}[${i}].value`);
      wellFormed((kv as { key?: unknown }).key, `${at}[${i}].key`);
    }
  };
  message('request', request, '');
  for (const [i, rl] of (((request as { resourceLogs?: unknown[] }).resourceLogs ?? []) as Record<string, unknown>[]).entries()) {
    message('resourceLogs', rl, `.resourceLogs[${i}]`);
    message('resource', rl.resource, `.resourceLogs[${i}].resource`);
    keyValues((rl.resource as { attributes?: unknown } | undefined)?.attributes, `.resourceLogs[${i}].resource.attributes`);
    for (const [j, sl] of ((rl.scopeLogs ?? []) as Record<string, unknown>[]).entries()) {
      message('scopeLogs', sl, `.resourceLogs[${i}].scopeLogs[${j}]`);
      message('scope', sl.scope, `.resourceLogs[${i}].scopeLogs[${j}].scope`);
      for (const [k, lr] of ((sl.logRecords ?? []) as Record<string, unknown>[]).entries()) {
        const at = `.resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}]`;
        message('logRecord', lr, at);
        message('anyValue', lr.body, `${at}.body`);
        keyValues(lr.attributes, `${at}.attributes`);
      }
    }
  }
  return out;
}

/** Each message's fields (opentelemetry-proto logs): number -> [name, a message's name | 'string' | 'scalar']. */
const PROTO_FIELDS: Record<string, Record<number, [string, string]>> = {
  request: { 1: ['resource_logs', 'resourceLogs'] },
  resourceLogs: { 1: ['resource', 'resource'], 2: ['scope_logs', 'scopeLogs'], 3: ['schema_url', 'string'] },
  resource: { 1: ['attributes', 'keyValue'], 2: ['dropped_attributes_count', 'scalar'], 3: ['entity_refs', 'scalar'] },
  scopeLogs: { 1: ['scope', 'scope'], 2: ['log_records', 'logRecord'], 3: ['schema_url', 'string'] },
  scope: { 1: ['name', 'string'], 2: ['version', 'string'], 3: ['attributes', 'keyValue'], 4: ['dropped_attributes_count', 'scalar'] },
  logRecord: {
    1: ['time_unix_nano', 'scalar'], 2: ['severity_number', 'scalar'], 3: ['severity_text', 'string'], 5: ['body', 'anyValue'],
    6: ['attributes', 'keyValue'], 7: ['dropped_attributes_count', 'scalar'], 8: ['flags', 'scalar'], 9: ['trace_id', 'scalar'],
    10: ['span_id', 'scalar'], 11: ['observed_time_unix_nano', 'scalar'], 12: ['event_name', 'string'],
  },
  keyValue: { 1: ['key', 'string'], 2: ['value', 'anyValue'] },
  anyValue: { 1: ['string_value', 'string'], 2: ['bool_value', 'scalar'], 3: ['int_value', 'scalar'], 4: ['double_value', 'scalar'], 5: ['array_value', 'arrayValue'], 6: ['kvlist_value', 'kvList'], 7: ['bytes_value', 'scalar'] },
  arrayValue: { 1: ['values', 'anyValue'] },
  kvList: { 1: ['values', 'keyValue'] },
};

/**
 * What a strict protobuf decoder refuses in an OTLP logs request: a field the
 * message does not have, a string field that is not UTF-8. One line per
 * problem; none for a good request.
 */
export function strictProtobufProblems(buf: Uint8Array, kind = 'request', at = '', out: string[] = []): string[] {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; i < buf.length; shift += 7n) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  };
  while (i < buf.length) {
    const tag = Number(varint());
    const field = tag >> 3;
    const wire = tag & 7;
    const known = PROTO_FIELDS[kind][field];
    const where = `${at}.${known?.[0] ?? field}`;
    if (!known) out.push(`${where}: no field ${field} in ${kind}`);
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = Number(varint());
      const body = buf.subarray(i, i + len);
      i += len;
      if (known?.[1] === 'string') {
        try {
          utf8.decode(body);
        } catch {
          out.push(`${where}: not UTF-8`);
        }
      } else if (known && known[1] !== 'scalar') {
        strictProtobufProblems(body, known[1], where, out);
      }
    } else {
      out.push(`${where}: wire type ${wire}`);
      break;
    }
  }
  return out;
}

function int64AsNumbers(value: unknown, at: string, out: string[]): string[] {
  if (Array.isArray(value)) value.forEach((v, i) => int64AsNumbers(v, `${at}[${i}]`, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (INT64_FIELDS.has(k) && typeof v === 'number') out.push(`${at}.${k}`);
      else int64AsNumbers(v, `${at}.${k}`, out);
    }
  }
  return out;
}

function anyValue(v: Record<string, unknown> | undefined): { value: AttrValue; type: AttrType } {
  if (!v) return { value: null, type: 'string' };
  if ('stringValue' in v) return { value: v.stringValue as string, type: 'string' };
  if ('intValue' in v) return { value: Number(v.intValue), type: 'int' };
  if ('boolValue' in v) return { value: v.boolValue as boolean, type: 'bool' };
  if ('doubleValue' in v) return { value: Number(v.doubleValue), type: 'double' };
  if ('bytesValue' in v) return { value: String(v.bytesValue), type: 'bytes' };
  if ('arrayValue' in v) {
    const values = ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map((x) => anyValue(x).value);
    return { value: values, type: 'array' };
  }
  if ('kvlistValue' in v) return { value: kv((v.kvlistValue as { values?: KeyValue[] }).values).values, type: 'kvlist' };
  return { value: null, type: 'string' };
}

interface KeyValue {
  key: string;
  value?: Record<string, unknown>;
}

function kv(list: KeyValue[] | undefined): { values: Record<string, AttrValue>; types: Record<string, AttrType> } {
  const values: Record<string, AttrValue> = {};
  const types: Record<string, AttrType> = {};
  for (const { key, value } of list ?? []) {
    const a = anyValue(value);
    values[key] = a.value;
    types[key] = a.type;
  }
  return { values, types };
}

/** The same normalisation for protobuf (via toObject) and JSON bodies: both use OTLP's camelCase names. */
function normalise(request: Record<string, unknown>): ReceivedRequest['resourceLogs'] {
  const out: ReceivedRequest['resourceLogs'] = [];
  for (const rl of (request.resourceLogs as Record<string, unknown>[] | undefined) ?? []) {
    const resource = kv((rl.resource as { attributes?: KeyValue[] } | undefined)?.attributes).values;
    const records: ReceivedRecord[] = [];
    const scopeSchemaUrls: string[] = [];
    for (const sl of (rl.scopeLogs as Record<string, unknown>[] | undefined) ?? []) {
      const scope = (sl.scope as { name?: string; version?: string; attributes?: KeyValue[] } | undefined) ?? {};
      const scopeAttributes = kv(scope.attributes).values;
      scopeSchemaUrls.push(String(sl.schemaUrl ?? ''));
      for (const lr of (sl.logRecords as Record<string, unknown>[] | undefined) ?? []) {
        const attrs = kv(lr.attributes as KeyValue[] | undefined);
        records.push({
          resource,
          scope: { name: scope.name, version: scope.version, attributes: scopeAttributes },
          eventName: (lr.eventName as string | undefined) || undefined,
          timeUnixNano: BigInt((lr.timeUnixNano as string | number | undefined) ?? 0),
          observedTimeUnixNano: BigInt((lr.observedTimeUnixNano as string | number | undefined) ?? 0),
          severityNumber: lr.severityNumber as number | undefined,
          severityText: lr.severityText as string | undefined,
          body: anyValue(lr.body as Record<string, unknown> | undefined).value,
          attributes: attrs.values,
          attributeTypes: attrs.types,
          droppedAttributesCount: Number(lr.droppedAttributesCount ?? 0),
        });
      }
    }
    out.push({ resource, schemaUrl: (rl.schemaUrl as string | undefined) || undefined, scopeSchemaUrls, records });
  }
  return out;
}

export class OtlpReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** what a strict decoder refused, in either encoding (each such request answered 400): empty in every test of the suite */
  readonly refusedAsStrict: string[] = [];
  private readonly queue: Behaviour[] = [];
  private fallback: Behaviour = { kind: 'ok' };
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private port = 0;
  private decode = true;
  /** requests answered without being decoded or kept (keepBodies(false)) */
  uncounted = 0;

  private constructor(
    private readonly server: Server,
    private readonly tls = false,
  ) {
    server.on(tls ? 'secureConnection' : 'connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** `tls`: serve HTTPS with this key and certificate (PEM). */
  static async start(tls?: { key: string; cert: string }): Promise<OtlpReceiver> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => receiver.handle(req, res);
    const receiver: OtlpReceiver = new OtlpReceiver(tls ? createHttpsServer(tls, handler) : createServer(handler), tls !== undefined);
    await receiver.listen(0);
    return receiver;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  /** Base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Answers for the next requests, in order; then `fallback`. */
  answer(...behaviours: Behaviour[]): void {
    this.queue.push(...behaviours);
  }

  answerAlways(behaviour: Behaviour): void {
    this.fallback = behaviour;
  }

  /** Stop listening and drop every connection: new connections are refused. */
  async refuse(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listen again on the same port. */
  recover(): Promise<void> {
    return this.listen(this.port);
  }

  /** Client connections open now. */
  openConnections(): number {
    return this.sockets.size;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
    // every test that exports over OTLP/JSON has what it sent checked by a strict decoder
    if (this.refusedAsStrict.length > 0) throw new Error(`a strict OTLP/JSON decoder refused what was sent:\n${this.refusedAsStrict.slice(0, 10).join('\n')}`);
  }

  /**
   * false: answer without decoding or keeping requests (a flood's receiver, whose
   * memory and CPU must not be the test's bottleneck); `uncounted` counts them.
   */
  keepBodies(keep: boolean): void {
    this.decode = keep;
  }

  /** Forgets the requests received so far (a long test's memory). */
  clear(): void {
    this.requests.length = 0;
  }

  records(): ReceivedRecord[] {
    return this.requests
      .filter((r) => r.answer.kind === 'ok' || r.answer.kind === 'partial' || r.answer.kind === 'raw')
      .flatMap((r) => r.resourceLogs.flatMap((rl) => rl.records));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      if (this.decode) chunks.push(c);
    });
    req.on('end', () => {
      const answer = this.queue.shift() ?? this.fallback;
      if (!this.decode) {
        this.uncounted++;
        this.respond(answer, String(req.headers['content-type'] ?? '').startsWith('application/json'), res);
        return;
      }
      const contentType = String(req.headers['content-type'] ?? '');
      const contentEncoding = req.headers['content-encoding'] as string | undefined;
      let body = Buffer.concat(chunks);
      if (contentEncoding === 'gzip') body = gunzipSync(body);
      const json = contentType.startsWith('application/json');
      let decoded: Record<string, unknown>;
      if (json) {
        // bytes that are not UTF-8 are refused, as a strict decoder refuses them
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(body);
        } catch {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('not UTF-8\n');
          this.refusedAsStrict.push('the body is not UTF-8');
          return;
        }
        decoded = JSON.parse(text) as Record<string, unknown>;
        // what a collector does too: the JSON must map onto the official message, and a strict one refuses the
        // whole request for an unknown field or a string that is no text
        ExportLogsServiceRequest.fromObject(decoded);
        const problems = strictJsonProblems(decoded);
        if (problems.length > 0) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(problems.join('\n') + '\n');
          this.refusedAsStrict.push(...problems);
          return;
        }
      } else {
        const problems = strictProtobufProblems(body);
        if (problems.length > 0) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(problems.join('\n') + '\n');
          this.refusedAsStrict.push(...problems);
          return;
        }
        decoded = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(body), { longs: String, bytes: String });
        const names = eventNames(body);
        let i = 0;
        for (const rl of (decoded.resourceLogs as { scopeLogs?: { logRecords?: Record<string, unknown>[] }[] }[] | undefined) ?? [])
          for (const sl of rl.scopeLogs ?? []) for (const lr of sl.logRecords ?? []) lr.eventName = names[i++];
      }
      this.requests.push({
        at: Date.now(),
        path: req.url ?? '',
        contentType,
        contentEncoding,
        headers: req.headers,
        answer,
        body,
        resourceLogs: normalise(decoded),
        int64AsNumbers: json ? int64AsNumbers(decoded, '', []) : [],
      });
      this.respond(answer, json, res);
    });
  }

  private respond(answer: Behaviour, json: boolean, res: ServerResponse): void {
    const type = json ? 'application/json' : 'application/x-protobuf';
    switch (answer.kind) {
      case 'hang':
        this.hanging.add(res);
        return;
      case 'status':
        res.writeHead(answer.status, {
          'content-type': 'text/plain',
          ...(answer.retryAfterSeconds !== undefined ? { 'retry-after': String(answer.retryAfterSeconds) } : {}),
          ...(answer.retryAfterDate !== undefined ? { 'retry-after': answer.retryAfterDate.toUTCString() } : {}),
          ...(answer.location !== undefined ? { location: answer.location } : {}),
        });
        res.end(`status ${answer.status}`);
        return;
      case 'partial': {
        const partial = { partialSuccess: { rejectedLogRecords: answer.rejected, errorMessage: 'rejected by test receiver' } };
        res.writeHead(200, { 'content-type': type });
        res.end(json ? JSON.stringify({ partialSuccess: { rejectedLogRecords: String(answer.rejected), errorMessage: 'rejected by test receiver' } }) : Buffer.from(ExportLogsServiceResponse.encode(partial).finish()));
        return;
      }
      case 'trickle': {
        res.writeHead(200, { 'content-type': type, 'content-length': '1000000' });
        this.hanging.add(res);
        const timer = setInterval(() => res.write('x'), 1000);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'raw':
        res.writeHead(200, { 'content-type': answer.contentType });
        res.end(answer.body);
        return;
      case 'reset':
        res.socket?.resetAndDestroy();
        return;
      case 'delay': {
        const timer = setTimeout(() => this.respond({ kind: 'ok' }, json, res), answer.millis);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case 'huge': {
        res.writeHead(200, { 'content-type': type, 'content-length': String(answer.bytes) });
        const chunk = Buffer.alloc(64 * 1024, 0x5a);
        let left = answer.bytes;
        const pump = (): void => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      default:
        res.writeHead(200, { 'content-type': type });
        res.end(json ? '{}' : Buffer.alloc(0));
    }
  }
}
