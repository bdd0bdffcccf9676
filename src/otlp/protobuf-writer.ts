/**
 * A protobuf wire-format writer over one growing Buffer, reused across
 * records: the encoding the official OTLP serializer in
 * @opentelemetry/otlp-transformer writes (which does not export its writer),
 * byte for byte: varints as it writes them (negative int64 as ten bytes of
 * two's complement), nested messages with one length byte reserved and the
 * content shifted when the length needs more.
 *
 * Records are written one after another into slabs (startRecord/finishRecord)
 * and handed out as views: no allocation or copy per record. A slab whose
 * records have all been released (releaseRecord: copied into a request, or
 * dropped) is written again: fresh memory costs a page fault per page on first
 * touch, more than writing the record. Positions handed out by begin() are
 * relative to the record's start, so a record that outgrows its slab moves to
 * a new one whole.
 */
export class ProtobufWriter {
  private buffer: Buffer;
  pos = 0;
  private recordStart = 0;
  /**
   * records handed out and not released yet, by the slab they are in: each slab owns its memory
   * (allocUnsafeSlow: Node's shared pool, 64 KiB from Node 24, would put several slabs in one)
   */
  private readonly outstanding = new Map<ArrayBufferLike, { slab: Buffer; records: number }>();
  /** slabs of initialBytes whose records were all released, to be written again */
  private readonly spareSlabs: Buffer[] = [];

  constructor(private readonly initialBytes = 4096) {
    this.buffer = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** A copy of what was written since `start` (the writer is reused). */
  copy(start = 0): Buffer {
    const out = Buffer.allocUnsafe(this.pos - start);
    this.buffer.copy(out, 0, start, this.pos);
    return out;
  }

  /** Begins a record after the last one, in another slab when this one is nearly full. */
  startRecord(): void {
    if (this.buffer.length - this.pos < MIN_SLAB_ROOM) {
      const previous = this.buffer;
      this.buffer = this.spareSlabs.pop() ?? Buffer.allocUnsafeSlow(this.initialBytes);
      this.pos = 0;
      // a slab left with nothing outstanding is spare at once
      if (!this.outstanding.has(previous.buffer)) this.spare(previous);
    }
    this.recordStart = this.pos;
  }

  /** The record written since startRecord(), as a view of its slab, which is not written again until it is released. */
  finishRecord(): Buffer {
    const record = this.buffer.subarray(this.recordStart, this.pos);
    this.recordStart = this.pos;
    const held = this.outstanding.get(this.buffer.buffer);
    if (held) held.records++;
    else this.outstanding.set(this.buffer.buffer, { slab: this.buffer, records: 1 });
    return record;
  }

  /** A record from finishRecord is no longer read (copied into a request, or dropped): once, for each. */
  releaseRecord(record: Buffer): void {
    const held = this.outstanding.get(record.buffer);
    if (!held || --held.records > 0) return;
    this.outstanding.delete(record.buffer);
    // the slab being written goes spare when the writer leaves it
    if (held.slab !== this.buffer) this.spare(held.slab);
  }

  /** Keeps a slab with no record outstanding to be written again (at most MAX_SPARE_SLABS, and only slabs of initialBytes). */
  private spare(slab: Buffer): void {
    if (slab.length === this.initialBytes && this.spareSlabs.length < MAX_SPARE_SLABS) this.spareSlabs.push(slab);
  }

  private ensure(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.buffer.length) return;
    // only the record being written moves: what is before it belongs to records handed out
    const used = this.pos - this.recordStart;
    let size = Math.max(this.initialBytes, this.buffer.length - this.recordStart);
    while (size < used + bytes) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    this.buffer.copy(grown, 0, this.recordStart, this.pos);
    const previous = this.buffer;
    this.buffer = grown;
    this.pos = used;
    this.recordStart = 0;
    if (!this.outstanding.has(previous.buffer)) this.spare(previous);
  }

  byte(value: number): void {
    this.ensure(1);
    this.buffer[this.pos++] = value;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** An unsigned or int64 varint of a whole number (negative: two's complement, ten bytes). */
  varint(value: number): void {
    this.ensure(10);
    const b = this.buffer;
    if (value >= 0 && value <= 0xffffffff) {
      this.pos = putVarint32(b, this.pos, value >>> 0);
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 0x100000000) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      b[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[this.pos++] = low & 0x7f;
  }

  /** A fixed64 (a time in ns since the epoch). */
  fixed64(value: bigint): void {
    this.ensure(8);
    this.buffer.writeBigUInt64LE(value, this.pos);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** A length-delimited UTF-8 string (lone surrogates become U+FFFD, as TextEncoder does). */
  string(text: string): void {
    const n = text.length;
    if (n < 128) {
      // one length byte suffices when every character is ASCII: write in place, check as we go
      this.ensure(1 + n * 3);
      const b = this.buffer;
      const lengthAt = this.pos;
      let p = lengthAt + 1;
      let ascii = true;
      for (let i = 0; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c > 127) {
          ascii = false;
          break;
        }
        b[p++] = c;
      }
      if (ascii) {
        b[lengthAt] = n;
        this.pos = p;
        return;
      }
    }
    const bytes = Buffer.byteLength(text, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.buffer.write(text, this.pos, bytes, 'utf8');
    this.pos += bytes;
  }

  /**
   * A whole KeyValue (its one-byte tag, then key and AnyValue) whose value is
   * a string, when every length fits one byte and the text is ASCII: the
   * lengths are known before writing, so nothing is moved. False, with
   * nothing written, otherwise (the caller takes the general path).
   */
  keyValueAscii(tag: number, keyField: Uint8Array, text: string): boolean {
    const n = text.length;
    const kvLength = keyField.length + 4 + n;
    if (kvLength > 0x7f) return false;
    this.ensure(2 + kvLength);
    const b = this.buffer;
    // the text first, where it goes after the head: a character past ASCII leaves nothing written
    const textAt = this.pos + 2 + keyField.length + 4;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 127) return false;
      b[textAt + i] = c;
    }
    const p = this.keyValueHead(tag, keyField, kvLength, n + 2);
    b[p] = 0x0a; // AnyValue.string_value
    b[p + 1] = n;
    this.pos = textAt + n;
    return true;
  }

  /** A whole KeyValue whose value is a bool (AnyValue.bool_value), when the key's length fits one byte. */
  keyValueBool(tag: number, keyField: Uint8Array, value: boolean): boolean {
    const kvLength = keyField.length + 4;
    if (kvLength > 0x7f) return false;
    this.ensure(2 + kvLength);
    const p = this.keyValueHead(tag, keyField, kvLength, 2);
    this.buffer[p] = 0x10;
    this.buffer[p + 1] = value ? 1 : 0;
    this.pos = p + 2;
    return true;
  }

  /** A whole KeyValue whose value is a whole number in [0, 2^32) (AnyValue.int_value), when lengths fit one byte. */
  keyValueUint32(tag: number, keyField: Uint8Array, value: number): boolean {
    const size = varintSize(value);
    const kvLength = keyField.length + 3 + size;
    if (kvLength > 0x7f) return false;
    this.ensure(2 + kvLength);
    const p = this.keyValueHead(tag, keyField, kvLength, 1 + size);
    this.buffer[p] = 0x18;
    this.pos = putVarint32(this.buffer, p + 1, value);
    return true;
  }

  /**
   * The head every one-step KeyValue shares (room already ensured): its tag and
   * one-byte length, the key field, then KeyValue.value's tag and the AnyValue's
   * one-byte length. Returns where the AnyValue goes.
   */
  private keyValueHead(tag: number, keyField: Uint8Array, kvLength: number, anyValueLength: number): number {
    const b = this.buffer;
    let p = this.pos;
    b[p++] = tag;
    b[p++] = kvLength;
    b.set(keyField, p);
    p += keyField.length;
    b[p++] = 0x12; // KeyValue.value
    b[p++] = anyValueLength;
    return p;
  }

  /** Starts a nested message (its tag already written): returns where its length goes. */
  begin(): number {
    this.ensure(1);
    return this.pos++ - this.recordStart;
  }

  /** Ends the nested message begun at `at`: writes its length, moving the content when it needs more than a byte. */
  end(relativeAt: number): void {
    let at = this.recordStart + relativeAt;
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buffer[at] = length;
      return;
    }
    const size = varintSize(length);
    this.ensure(size - 1);
    at = this.recordStart + relativeAt; // the record may have moved
    this.buffer.copy(this.buffer, at + size, at + 1, this.pos);
    this.pos += size - 1;
    putVarint32(this.buffer, at, length);
  }
}

/** Room left in a slab below which the next record starts a new one. */
const MIN_SLAB_ROOM = 2048;

/** Spare slabs kept at most (each initialBytes); the rest are left to the collector. */
const MAX_SPARE_SLABS = 64;

/** Writes the varint of a whole number in [0, 2^32) at `pos` (room already there); returns the position after it. */
export function putVarint32(out: Uint8Array, pos: number, value: number): number {
  let v = value;
  while (v > 0x7f) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}

/** Bytes of a varint of a non-negative whole number below 2^32. */
export function varintSize(value: number): number {
  let size = 1;
  for (let v = value >>> 0; v > 0x7f; v >>>= 7) size++;
  return size;
}
