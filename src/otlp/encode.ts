import type { AttributeValue, Attributes } from '../model/attributes';
import { wellFormedJson } from '../model/text';
import { ProtobufWriter, putVarint32, varintSize } from './protobuf-writer';
import type { BindLogRecord } from './record';

/*
 * The direct pipeline's encoders: an ExportLogsServiceRequest written from the
 * records themselves, in the bytes the official serializers of
 * @opentelemetry/otlp-transformer write for the same records through the SDK
 * (field order, defaults written or skipped, grouping by resource in order of
 * first appearance; the otlp-sink test compares the two byte for byte). What
 * does not change is encoded once: a resource's and the scope's messages, and
 * every attribute key. Pure apart from the key cache.
 */

const INT64_MIN = -(2 ** 63);
const INT64_MAX_EXCLUSIVE = 2 ** 63;

/** KeyValue.key (field 1) with its tag and length, by key: the same few dozen keys on every record. */
const keyFields = new Map<string, Buffer>();
const MAX_CACHED_KEYS = 1024;

function keyField(key: string): Buffer {
  let field = keyFields.get(key);
  if (field === undefined) {
    const w = new ProtobufWriter(64);
    w.byte(0x0a);
    w.string(key);
    field = w.copy();
    if (keyFields.size < MAX_CACHED_KEYS) keyFields.set(key, field);
  }
  return field;
}

function writeAnyValue(w: ProtobufWriter, value: AttributeValue): void {
  if (typeof value === 'string') {
    w.byte(0x0a); // string_value
    w.string(value);
  } else if (typeof value === 'boolean') {
    w.byte(0x10); // bool_value
    w.byte(value ? 1 : 0);
  } else if (Array.isArray(value)) {
    w.byte(0x2a); // array_value: ArrayValue { repeated AnyValue values = 1 }
    const array = w.begin();
    for (const item of value) {
      w.byte(0x0a);
      const at = w.begin();
      writeAnyValue(w, item);
      w.end(at);
    }
    w.end(array);
  } else if (Number.isInteger(value) && value >= INT64_MIN && value < INT64_MAX_EXCLUSIVE) {
    w.byte(0x18); // int_value
    w.varint(value);
  } else {
    w.byte(0x21); // double_value
    w.double(value);
  }
}

/**
 * The key fields of a list of keys, by the list: a record's attributes come in
 * a handful of shapes (bound, failed, with an interface...), each the same keys
 * in the same order, so the last few lists are kept and compared key by key
 * (the keys of an object literal are the same string objects every time).
 */
const keyShapes: { keys: string[]; fields: Buffer[] }[] = [];
const MAX_KEY_SHAPES = 8;

function keyFieldsOf(keys: string[]): Buffer[] {
  for (const shape of keyShapes) {
    if (shape.keys.length !== keys.length) continue;
    let same = true;
    for (let i = 0; i < keys.length; i++) {
      if (shape.keys[i] !== keys[i]) {
        same = false;
        break;
      }
    }
    if (same) return shape.fields;
  }
  const fields = keys.map(keyField);
  if (keyShapes.length >= MAX_KEY_SHAPES) keyShapes.pop();
  keyShapes.unshift({ keys, fields });
  return fields;
}

function isUint32(value: number): boolean {
  return value >>> 0 === value;
}

/** repeated KeyValue `field`, in the attributes' own order. */
function writeAttributes(w: ProtobufWriter, attributes: Attributes, field: number): void {
  const keys = Object.keys(attributes);
  // one pass over the object (a keyed load per key costs more)
  const values = Object.values(attributes);
  const fields = keyFieldsOf(keys);
  const tag = (field << 3) | 2; // fields 1, 3 and 6: one byte
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    const keyBytes = fields[i];
    // the common values in one step, lengths known before writing
    if (typeof value === 'string' ? w.keyValueAscii(tag, keyBytes, value) : typeof value === 'boolean' ? w.keyValueBool(tag, keyBytes, value) : typeof value === 'number' && isUint32(value) && w.keyValueUint32(tag, keyBytes, value)) continue;
    w.byte(tag);
    const kv = w.begin();
    w.raw(keyBytes);
    w.byte(0x12); // KeyValue.value
    const at = w.begin();
    writeAnyValue(w, value);
    w.end(at);
    w.end(kv);
  }
}

/** One LogRecord message (without its tag), as the SDK's serializer writes a record with no span context. */
export function logRecordProtobuf(w: ProtobufWriter, r: BindLogRecord): Buffer {
  w.startRecord();
  w.byte(0x09); // time_unix_nano, fixed64
  w.fixed64(r.timeUnixNano);
  if (r.severityNumber) {
    w.byte(0x10);
    w.varint(r.severityNumber);
  }
  if (r.severityText) {
    w.byte(0x1a);
    w.string(r.severityText);
  }
  w.byte(0x2a); // body
  const body = w.begin();
  writeAnyValue(w, r.body);
  w.end(body);
  writeAttributes(w, r.attributes, 6);
  w.byte(0x38); // dropped_attributes_count, always written
  w.varint(r.droppedAttributesCount ?? 0);
  w.byte(0x59); // observed_time_unix_nano, fixed64
  w.fixed64(r.observedTimeUnixNano);
  if (r.eventName) {
    w.byte(0x62);
    w.string(r.eventName);
  }
  return w.finishRecord();
}

/** ResourceLogs.resource (field 1) with its tag: attributes, then dropped_attributes_count 0. */
export function resourceFieldProtobuf(attributes: Attributes): Buffer {
  const w = new ProtobufWriter(1024);
  w.byte(0x0a);
  const at = w.begin();
  writeAttributes(w, attributes, 1);
  w.byte(0x10);
  w.byte(0);
  w.end(at);
  return w.copy();
}

export interface ScopeInput {
  name: string;
  version: string;
  attributes: Attributes;
  schemaUrl: string;
}

/** ScopeLogs.scope (field 1) with its tag. */
export function scopeFieldProtobuf(scope: ScopeInput): Buffer {
  const w = new ProtobufWriter(256);
  w.byte(0x0a);
  const at = w.begin();
  w.byte(0x0a);
  w.string(scope.name);
  if (scope.version) {
    w.byte(0x12);
    w.string(scope.version);
  }
  writeAttributes(w, scope.attributes, 3);
  w.end(at);
  return w.copy();
}

/** A schema_url field (number 3 in both ResourceLogs and ScopeLogs) with its tag; empty when there is none. */
export function schemaUrlFieldProtobuf(url: string): Buffer {
  const w = new ProtobufWriter(128);
  if (url) {
    w.byte(0x1a);
    w.string(url);
  }
  return w.copy();
}

/** The records of one resource in a request, each an encoded LogRecord (protobuf) or its JSON text. */
export interface ResourceGroup<Encoded> {
  resource: Encoded;
  records: Encoded[];
  /** protobuf: records already written as ScopeLogs.log_records fields (the addon's), after `records` */
  fields?: Encoded[];
}

function lengthDelimited(length: number): number {
  return 1 + varintSize(length) + length;
}

function putTagged(out: Buffer, pos: number, tag: number, length: number): number {
  out[pos] = tag;
  return putVarint32(out, pos + 1, length);
}

/**
 * ExportLogsServiceRequest: one ResourceLogs per group (field 1), each with its
 * resource, one ScopeLogs (the scope, the records, the scope's schema_url) and
 * the resource's schema_url. Sizes are summed first, so the request is written
 * once, into `into` when it holds it (a body whose request is over), else into
 * a new buffer; `body` is the request, `backing` the whole buffer it is in.
 */
export function requestProtobuf(groups: readonly ResourceGroup<Buffer>[], scopeField: Buffer, schemaUrlField: Buffer, into?: Buffer): { body: Buffer; backing: Buffer } {
  const scopeLogsLength: number[] = [];
  const resourceLogsLength: number[] = [];
  let total = 0;
  for (const g of groups) {
    let scopeLogs = scopeField.length + schemaUrlField.length;
    for (const r of g.records) scopeLogs += lengthDelimited(r.length);
    if (g.fields) for (const f of g.fields) scopeLogs += f.length;
    const resourceLogs = g.resource.length + lengthDelimited(scopeLogs) + schemaUrlField.length;
    scopeLogsLength.push(scopeLogs);
    resourceLogsLength.push(resourceLogs);
    total += lengthDelimited(resourceLogs);
  }
  // a quarter more than needed: the next request, a little larger, fits too
  const backing = into && into.length >= total ? into : Buffer.allocUnsafe(total + (total >>> 2));
  const out = backing.subarray(0, total);
  let pos = 0;
  groups.forEach((g, i) => {
    pos = putTagged(out, pos, 0x0a, resourceLogsLength[i]);
    pos += g.resource.copy(out, pos);
    pos = putTagged(out, pos, 0x12, scopeLogsLength[i]);
    pos += scopeField.copy(out, pos);
    for (const r of g.records) {
      pos = putTagged(out, pos, 0x12, r.length);
      pos += r.copy(out, pos);
    }
    if (g.fields) for (const f of g.fields) pos += f.copy(out, pos);
    pos += schemaUrlField.copy(out, pos);
    pos += schemaUrlField.copy(out, pos);
  });
  return { body: out, backing };
}

/* OTLP/JSON, as the SDK's JSON serializer writes it, made strict (see strictOtlpJson): int64 values as decimal strings. */

function anyValueJson(value: AttributeValue): Record<string, unknown> {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map(anyValueJson) } };
  if (Number.isInteger(value)) return { intValue: String(value) };
  return { doubleValue: value };
}

function attributesJson(attributes: Attributes): { key: string; value: Record<string, unknown> }[] {
  return Object.keys(attributes).map((key) => ({ key, value: anyValueJson(attributes[key]) }));
}

/** One LogRecord as OTLP/JSON text. */
export function logRecordJson(r: BindLogRecord): string {
  return wellFormedJson(JSON.stringify({
    timeUnixNano: r.timeUnixNano.toString(),
    observedTimeUnixNano: r.observedTimeUnixNano.toString(),
    severityNumber: r.severityNumber,
    severityText: r.severityText,
    body: anyValueJson(r.body),
    eventName: r.eventName,
    attributes: attributesJson(r.attributes),
    droppedAttributesCount: r.droppedAttributesCount ?? 0,
  }));
}

/**
 * A Resource as OTLP/JSON text: only the proto's fields (the schema URL belongs
 * to ResourceLogs and ScopeLogs; the SDK's serializer also writes it here, which
 * a strict decoder, protobuf's json_format, refuses).
 */
export function resourceJson(attributes: Attributes): string {
  return wellFormedJson(JSON.stringify({ attributes: attributesJson(attributes), droppedAttributesCount: 0 }));
}

export function scopeJson(scope: ScopeInput): string {
  const hasAttributes = Object.keys(scope.attributes).length > 0;
  return wellFormedJson(JSON.stringify({ name: scope.name, version: scope.version, ...(hasAttributes ? { attributes: attributesJson(scope.attributes), droppedAttributesCount: 0 } : {}) }));
}

export function requestJson(groups: readonly ResourceGroup<string>[], scope: string, schemaUrl: string): Buffer {
  const url = JSON.stringify(schemaUrl);
  const parts = groups.map(
    (g) => `{"resource":${g.resource},"scopeLogs":[{"scope":${scope},"logRecords":[${g.records.join(',')}]${schemaUrl ? `,"schemaUrl":${url}` : ''}}]${schemaUrl ? `,"schemaUrl":${url}` : ''}}`,
  );
  return Buffer.from(`{"resourceLogs":[${parts.join(',')}]}`, 'utf8');
}

/** How the direct pipeline encodes: records, resources and the scope once each, then requests from them. */
export interface RequestEncoding<Encoded> {
  record(r: BindLogRecord): Encoded;
  resource(attributes: Attributes, schemaUrl: string): Encoded;
  scope(scope: ScopeInput): Encoded;
  /**
   * The request's body: written into `into` when it is large enough (a body
   * whose request is over), else into a new buffer a little larger than needed
   * (so that it can serve the next); `backing` is that whole buffer.
   */
  request(groups: readonly ResourceGroup<Encoded>[], scope: Encoded, schemaUrl: string, into?: Buffer): { body: Buffer; backing: Buffer };
  /** bytes an encoded record holds */
  size(encoded: Encoded): number;
  /** An encoded record is no longer read (copied into a request, or dropped): what holds it may be written again. */
  release(encoded: Encoded): void;
}

/** Records are written into slabs of this size (about 80 records each). */
const SLAB_BYTES = 65536;

/** OTLP/HTTP protobuf; one writer for every record. */
export function protobufEncoding(): RequestEncoding<Buffer> {
  const writer = new ProtobufWriter(SLAB_BYTES);
  const schemaFields = new Map<string, Buffer>();
  const schemaField = (url: string): Buffer => {
    let field = schemaFields.get(url);
    if (!field) schemaFields.set(url, (field = schemaUrlFieldProtobuf(url)));
    return field;
  };
  return {
    record: (r) => logRecordProtobuf(writer, r),
    resource: (attributes) => resourceFieldProtobuf(attributes),
    scope: (scope) => scopeFieldProtobuf(scope),
    request: (groups, scope, schemaUrl, into) => requestProtobuf(groups, scope, schemaField(schemaUrl), into),
    size: (encoded) => encoded.length,
    release: (encoded) => writer.releaseRecord(encoded),
  };
}

/** OTLP/HTTP JSON. */
export function jsonEncoding(): RequestEncoding<string> {
  return {
    record: logRecordJson,
    resource: resourceJson,
    scope: scopeJson,
    request: (groups, scope, schemaUrl) => {
      const body = requestJson(groups, scope, schemaUrl);
      return { body, backing: body };
    },
    size: (encoded) => Buffer.byteLength(encoded, 'utf8'),
    release: () => undefined,
  };
}
