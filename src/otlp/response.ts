/**
 * An ExportLogsServiceResponse as the transport reads it: only its partial
 * success. rejectedLogRecords is the int64's decimal text (JSON-safe, as the
 * transport's logger stringifies it).
 */
export interface LogsResponse {
  partialSuccess?: { rejectedLogRecords?: string; errorMessage?: string };
}

/** A reply that is not an ExportLogsServiceResponse. */
export class MalformedResponse extends Error {}

const TWO_64 = 1n << 64n;
const TWO_63 = 1n << 63n;

/** Reads protobuf's wire format from a buffer; each read past the end throws MalformedResponse. */
class WireReader {
  pos = 0;
  constructor(
    private readonly bytes: Uint8Array,
    readonly end = bytes.length,
  ) {}

  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw new MalformedResponse('a varint runs past the end');
      const b = this.bytes[this.pos++];
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return value % TWO_64;
    }
    throw new MalformedResponse('a varint longer than ten bytes');
  }

  /** The bytes of a length-delimited field, as a reader of their own. */
  delimited(): WireReader {
    const length = this.varint();
    if (length > BigInt(this.end - this.pos)) throw new MalformedResponse('a field runs past the end');
    const sub = new WireReader(this.bytes, this.pos + Number(length));
    sub.pos = this.pos;
    this.pos += Number(length);
    return sub;
  }

  text(): string {
    const sub = this.delimited();
    return new TextDecoder().decode(this.bytes.subarray(sub.pos, sub.end));
  }

  /** Skips a field of this wire type; a group (deprecated, 3 and 4) is not understood, as the SDK's reader does not. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.delimited();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new MalformedResponse(`wire type ${wireType}`);
    }
  }

  tag(): [field: number, wireType: number] {
    const tag = this.varint();
    const field = Number(tag >> 3n);
    if (field === 0 || tag >= 1n << 32n) throw new MalformedResponse('field number 0 or out of range');
    return [field, Number(tag & 7n)];
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new MalformedResponse('a fixed field runs past the end');
    this.pos += n;
  }
}

/** ExportLogsPartialSuccess: rejected_log_records (1, int64), error_message (2, string). */
function partialSuccess(r: WireReader, into: NonNullable<LogsResponse['partialSuccess']>): void {
  while (!r.done) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 0) {
      const v = r.varint();
      into.rejectedLogRecords = (v >= TWO_63 ? v - TWO_64 : v).toString();
    } else if (field === 2 && wireType === 2) {
      into.errorMessage = r.text();
    } else {
      r.skip(wireType);
    }
  }
}

/**
 * An ExportLogsServiceResponse in protobuf (partial_success, field 1), as
 * protobufjs reads it: unknown fields skipped, a repeated message merged.
 * Throws MalformedResponse for bytes that are not one. Pure.
 */
export function decodeLogsResponseProtobuf(bytes: Uint8Array): LogsResponse {
  const r = new WireReader(bytes);
  const response: LogsResponse = {};
  while (!r.done) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 2) {
      response.partialSuccess ??= {};
      partialSuccess(r.delimited(), response.partialSuccess);
    } else {
      r.skip(wireType);
    }
  }
  return response;
}

/** An ExportLogsServiceResponse in OTLP/JSON; throws for text that is not a JSON object. Pure. */
export function decodeLogsResponseJson(bytes: Uint8Array): LogsResponse {
  const text = new TextDecoder().decode(bytes);
  // an empty body is a whole success (OTLP/HTTP), as an empty protobuf message is
  if (text.trim() === '') return {};
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new MalformedResponse('not a JSON object');
  const p = (parsed as { partialSuccess?: unknown }).partialSuccess;
  if (typeof p !== 'object' || p === null) return {};
  const { rejectedLogRecords, errorMessage } = p as { rejectedLogRecords?: unknown; errorMessage?: unknown };
  return {
    partialSuccess: {
      ...(rejectedLogRecords !== undefined && rejectedLogRecords !== null ? { rejectedLogRecords: String(rejectedLogRecords) } : {}),
      ...(typeof errorMessage === 'string' ? { errorMessage } : {}),
    },
  };
}
