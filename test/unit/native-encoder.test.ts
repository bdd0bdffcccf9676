import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatch, recordLayout } from '../../src/kernel/decode';
import { loadAddon, type NativeRecordEncoder } from '../../src/kernel/native';
import type { BindEvent } from '../../src/model/event';
import { bindAttributes } from '../../src/naming/bind-attributes';
import { BIND_ATTRIBUTE_KEYS } from '../../src/naming/bind-attribute-keys';
import { ProtobufDirectPipeline } from '../../src/otlp/direct-pipeline';
import { logRecordProtobuf, protobufEncoding, requestProtobuf, resourceFieldProtobuf, schemaUrlFieldProtobuf, scopeFieldProtobuf } from '../../src/otlp/encode';
import { SEMCONV_SCHEMA_URL } from '../../src/naming/resource';
import { recordEncoder } from '../../src/otlp/native-encoding';
import { ProtobufWriter } from '../../src/otlp/protobuf-writer';
import { bindLogRecord, limitAttributes, type AttributeLimits, type BindLogRecord } from '../../src/otlp/record';

/*
 * The addon's encoder (native/encoder.cc) writes, for every record the kernel
 * can send, the bytes the JavaScript path writes for it (decode, name, limit,
 * encode), and so the bytes the OpenTelemetry SDK's serializer writes; given
 * hostile bytes it never crashes and encodes one record per whole record.
 */
const RUNS = { numRuns: process.env.CI === 'true' ? 400 : 200 };
const OFFSET_NS = 1_764_000_000_000_000_000n; // the wall clock's lead on boot time (late 2025)
const OBSERVED_NS = 1_765_000_000_123_456_789n;

const layouts = recordLayout();
const F = layouts.event.fields;
const A = layouts.eventArgs.fields;

interface RecordSpec {
  tsBootNs: bigint;
  cgroupId: bigint;
  mntnsId: bigint;
  startBootNs: bigint;
  netnsId: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  ret: number;
  boundDevIf: number;
  boundAddr: Uint8Array;
  reqAddr: Uint8Array;
  boundPort: number;
  reqPort: number;
  protocol: number;
  family: number;
  opts: number;
  reqFamily: number;
  flags: number;
  comm: Uint8Array;
  parentComm: Uint8Array;
  exeNames: Uint8Array;
  exeLen: number;
  args: Uint8Array;
  argsLen: number;
  argsFlags: number;
}

function writeRecord(buf: Buffer, at: number, r: RecordSpec, withArgs: boolean): void {
  buf.writeBigUInt64LE(r.tsBootNs, at + F.ts_boot_ns.offset);
  buf.writeBigUInt64LE(r.cgroupId, at + F.cgroup_id.offset);
  buf.writeBigUInt64LE(r.mntnsId, at + F.mntns_id.offset);
  buf.writeBigUInt64LE(r.startBootNs, at + F.start_boot_ns.offset);
  buf.writeUInt32LE(r.netnsId, at + F.netns_id.offset);
  buf.writeUInt32LE(r.pid, at + F.pid.offset);
  buf.writeUInt32LE(r.tid, at + F.tid.offset);
  buf.writeUInt32LE(r.ppid, at + F.ppid.offset);
  buf.writeUInt32LE(r.uid, at + F.uid.offset);
  buf.writeInt32LE(r.ret, at + F.ret.offset);
  buf.writeInt32LE(r.boundDevIf, at + F.bound_dev_if.offset);
  buf.set(r.boundAddr, at + F.bound_addr.offset);
  buf.set(r.reqAddr, at + F.req_addr.offset);
  buf.writeUInt16LE(r.boundPort, at + F.bound_port.offset);
  buf.writeUInt16LE(r.reqPort, at + F.req_port.offset);
  buf.writeUInt16LE(r.protocol, at + F.protocol.offset);
  buf.writeUInt8(r.family, at + F.family.offset);
  buf.writeUInt8(r.opts, at + F.opts.offset);
  buf.writeUInt8(r.reqFamily, at + F.req_family.offset);
  buf.writeUInt8(r.flags, at + F.flags.offset);
  buf.writeUInt16LE(r.exeLen, at + F.exe_len.offset);
  buf.set(r.comm.subarray(0, F.comm.size), at + F.comm.offset);
  buf.set(r.parentComm.subarray(0, F.parent_comm.size), at + F.parent_comm.offset);
  buf.set(r.exeNames.subarray(0, F.exe_names.size), at + F.exe_names.offset);
  if (withArgs) {
    buf.writeUInt16LE(r.argsLen, at + A.args_len.offset);
    buf.writeUInt8(r.argsFlags, at + A.args_flags.offset);
    buf.set(r.args.subarray(0, A.args.size), at + A.args.offset);
  }
}

function recordsBuffer(specs: readonly RecordSpec[], withArgs: boolean): Buffer {
  const size = withArgs ? layouts.eventArgs.size : layouts.event.size;
  const buf = Buffer.alloc(size * specs.length);
  specs.forEach((r, i) => writeRecord(buf, i * size, r, withArgs));
  return buf;
}

/** The JavaScript path: the router's naming, the OTLP output's record, the limits, the encoder. */
function jsRecord(e: BindEvent, limits?: AttributeLimits): BindLogRecord {
  const attributes = bindAttributes(e, undefined, e.startBootNs + OFFSET_NS);
  const record = bindLogRecord({ event: e, attributes, resource: {}, wallNs: e.tsBootNs + OFFSET_NS }, OBSERVED_NS);
  return limits ? limitAttributes(record, limits) : record;
}

function jsBytes(e: BindEvent, limits?: AttributeLimits): string {
  return logRecordProtobuf(new ProtobufWriter(64), jsRecord(e, limits)).toString('hex');
}

function encoderWith(limits?: AttributeLimits): NativeRecordEncoder {
  return recordEncoder({ attributeCountLimit: limits?.countLimit ?? 0, attributeValueLengthLimit: limits?.valueLengthLimit ?? 0 });
}

/** Text of the kinds a record's names hold: ASCII, other scripts, emoji (surrogate pairs in JavaScript), and bytes that are not UTF-8. */
const nameBytes = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.stringMatching(/^[a-z0-9._-]{1,12}$/).map((s) => Buffer.from(s)),
    fc.string({ unit: 'grapheme', maxLength: 6 }).map((s) => Buffer.from(s.replace(/\0/g, 'x'))),
    fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Buffer.from(b.map((x) => x || 0xc3))),
    fc.constantFrom(Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from('nginx: worker'), Buffer.from('😀🐳')),
  ).map((b) => b.subarray(0, maxLength));

/** exe_names as the kernel writes it: names leaf first, each NUL-terminated; a chroot's mark and root; cut short. */
const exeArb = fc
  .tuple(fc.array(nameBytes(40), { minLength: 0, maxLength: 6 }), fc.option(fc.array(nameBytes(20), { maxLength: 3 })), fc.boolean(), fc.boolean())
  .map(([names, root, cutOff, overLength]) => {
    const parts: Buffer[] = names.map((n) => Buffer.concat([Buffer.from(n), Buffer.of(0)]));
    if (root !== null) {
      parts.push(Buffer.of(0));
      for (const n of root) parts.push(Buffer.concat([Buffer.from(n), Buffer.of(0)]));
    }
    let bytes = Buffer.concat(parts);
    if (cutOff && bytes.length > 2) bytes = bytes.subarray(0, bytes.length - 2);
    return { bytes, len: overLength ? 0xffff : bytes.length };
  });

const argsArb = fc
  .tuple(fc.array(nameBytes(60), { maxLength: 6 }), fc.integer({ min: 0, max: 7 }), fc.boolean())
  .map(([args, flags, endsInNul]) => {
    const bytes = Buffer.concat(args.map((a, i) => Buffer.concat([Buffer.from(a), i < args.length - 1 || endsInNul ? Buffer.of(0) : Buffer.alloc(0)])));
    return { bytes: bytes.subarray(0, 256), len: Math.min(bytes.length, 300), flags };
  });

const addrArb = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.constantFrom(
    Uint8Array.from([127, 0, 0, 1, ...new Array<number>(12).fill(0)]),
    new Uint8Array(16),
    Uint8Array.from([...new Array<number>(10).fill(0), 0xff, 0xff, 10, 0, 0, 1]),
    Uint8Array.from([...new Array<number>(12).fill(0), 10, 1, 2, 3]),
    Uint8Array.from([0xfe, 0x80, ...new Array<number>(13).fill(0), 1]),
    Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]),
  ),
);

const recordArb: fc.Arbitrary<RecordSpec> = fc.record({
  tsBootNs: fc.bigInt({ min: 0n, max: 2n ** 50n }),
  cgroupId: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 32n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  mntnsId: fc.oneof(fc.bigInt({ min: 4026531840n, max: 4026540000n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  startBootNs: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 50n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  netnsId: fc.nat({ max: 0xffffffff }),
  pid: fc.nat({ max: 0xffffffff }),
  tid: fc.nat({ max: 0xffffffff }),
  ppid: fc.nat({ max: 0xffffffff }),
  uid: fc.nat({ max: 0xffffffff }),
  ret: fc.oneof(fc.constantFrom(0, 0, 0, -98, -13, -22, -99, -4095, -(2 ** 31)), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
  boundDevIf: fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 0 }), fc.integer({ min: 1, max: 100 })),
  boundAddr: addrArb,
  reqAddr: addrArb,
  boundPort: fc.nat({ max: 0xffff }),
  reqPort: fc.nat({ max: 0xffff }),
  protocol: fc.oneof(fc.constantFrom(0, 6, 17, 132, 136, 255, 262), fc.nat({ max: 0xffff })),
  family: fc.constantFrom(2, 10),
  opts: fc.integer({ min: 0, max: 31 }),
  reqFamily: fc.oneof(fc.constantFrom(0, 2, 10), fc.nat({ max: 255 })),
  flags: fc.nat({ max: 255 }),
  comm: nameBytes(16),
  parentComm: nameBytes(16),
  exeNames: fc.constant(new Uint8Array(0)),
  exeLen: fc.constant(0),
  args: fc.constant(new Uint8Array(0)),
  argsLen: fc.constant(0),
  argsFlags: fc.constant(0),
});

const fullRecordArb = fc.tuple(recordArb, exeArb, argsArb).map(([r, exe, args]) => ({ ...r, exeNames: exe.bytes, exeLen: Math.min(exe.len, exe.bytes.length === 0 ? 0 : exe.len), args: args.bytes, argsLen: args.len, argsFlags: args.flags }));

const limitsArb: fc.Arbitrary<AttributeLimits | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record({ countLimit: fc.integer({ min: 0, max: 40 }), valueLengthLimit: fc.integer({ min: 0, max: 20 }) }),
);

describe('the addon\'s record encoder', () => {
  it('writes, for every kind of record, the bytes the JavaScript path writes (flags, families, protocols, executables, command lines, limits)', () => {
    fc.assert(
      fc.property(fc.array(fullRecordArb, { minLength: 1, maxLength: 6 }), fc.boolean(), limitsArb, (specs, withArgs, limits) => {
        const buf = recordsBuffer(specs, withArgs);
        const encoded = encoderWith(limits).encode(buf, withArgs, OFFSET_NS, OBSERVED_NS);
        const events = decodeBatch(buf, withArgs).events;
        expect(events).toHaveLength(specs.length);
        expect(encoded).toHaveLength(specs.length);
        events.forEach((e, i) => {
          // a device's name is JavaScript's to resolve: such a record takes its path
          if (e.boundDevIf > 0) expect(encoded[i]).toBeNull();
          else expect(encoded[i]?.toString('hex')).toBe(jsBytes(e, limits));
        });
      }),
      RUNS,
    );
  });

  it('puts in a request the bytes the OpenTelemetry SDK\'s serializer writes for the same records', () => {
    const schemaUrl = 'https://opentelemetry.io/schemas/1.37.0';
    const resourceAttributes = { 'service.name': 'bindsnoop', 'host.name': 'node-1' };
    const scope = { name: 'bindsnoop', version: '1.2.3', schemaUrl, attributes: { 'bindsnoop.backend': 'tracepoint' } };
    fc.assert(
      fc.property(fc.array(fullRecordArb.map((r) => ({ ...r, boundDevIf: 0 })), { minLength: 1, maxLength: 5 }), fc.boolean(), (specs, withArgs) => {
        const buf = recordsBuffer(specs, withArgs);
        const native = encoderWith().encode(buf, withArgs, OFFSET_NS, OBSERVED_NS) as Buffer[];
        const resource = resourceFromAttributes(resourceAttributes, { schemaUrl });
        const sdkRecords: ReadableLogRecord[] = decodeBatch(buf, withArgs).events.map((e) => {
          const r = jsRecord(e);
          const hr = (ns: bigint): [number, number] => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
          return {
            hrTime: hr(r.timeUnixNano),
            hrTimeObserved: hr(r.observedTimeUnixNano),
            severityNumber: r.severityNumber,
            severityText: r.severityText,
            body: r.body,
            eventName: r.eventName,
            attributes: r.attributes,
            droppedAttributesCount: 0,
            resource,
            instrumentationScope: scope,
          };
        });
        const direct = requestProtobuf([{ resource: resourceFieldProtobuf(resourceAttributes), records: native }], scopeFieldProtobuf(scope), schemaUrlFieldProtobuf(schemaUrl)).body;
        expect(Buffer.from(direct).toString('hex')).toBe(Buffer.from(ProtobufLogsSerializer.serializeRequest(sdkRecords) ?? []).toString('hex'));
      }),
      { numRuns: RUNS.numRuns / 4 },
    );
  });

  it('given any bytes, never crashes: one entry per whole record, and the bytes JavaScript writes for every record it would deliver', () => {
    const encoder = encoderWith();
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 100 }), fc.infiniteStream(fc.integer({ min: 0, max: 255 })), (withArgs, records, tail, bytes) => {
        const size = withArgs ? layouts.eventArgs.size : layouts.event.size;
        const it = bytes[Symbol.iterator]();
        const buf = Buffer.from(Array.from({ length: records * size + Math.min(tail, size - 1) }, () => it.next().value as number));
        const encoded = encoder.encode(buf, withArgs, 0n, OBSERVED_NS);
        expect(encoded).toHaveLength(records);
        const whole = buf.subarray(0, records * size);
        for (let i = 0; i < records; i++) {
          const one = whole.subarray(i * size, (i + 1) * size);
          const { events } = decodeBatch(one, withArgs);
          // what the decoder rejects (not this build's records) and a device to name are left to JavaScript
          if (events.length === 0 || events[0].boundDevIf > 0) expect(encoded[i]).toBeNull();
          else expect(encoded[i]?.toString('hex')).toBe(logRecordProtobuf(new ProtobufWriter(64), bindLogRecord({ event: events[0], attributes: bindAttributes(events[0], undefined, events[0].startBootNs), resource: {}, wallNs: events[0].tsBootNs }, OBSERVED_NS)).toString('hex'));
        }
      }),
      RUNS,
    );
  });

  it('reads no byte past a record and does nothing undefined, whatever the bytes and lengths (AddressSanitizer, UBSan)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-encoder-fuzz-'));
    try {
      const root = path.resolve(__dirname, '..', '..');
      const binary = path.join(dir, 'encoder_fuzz');
      const build = spawnSync('g++', ['-std=c++17', '-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-I', path.join(root, 'native'), '-I', path.join(root, 'bpf'), path.join(root, 'test', 'native', 'encoder_fuzz.cc'), path.join(root, 'native', 'encoder.cc'), '-o', binary], { encoding: 'utf8' });
      expect(build.status, build.stderr).toBe(0);
      const run = spawnSync(binary, [String(process.pid), process.env.CI === 'true' ? '200000' : '50000'], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0' } });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      // most records were plausible and encoded: the fuzzing reached the encoder's every path
      const [, encoded, total] = /encoded (\d+) of (\d+)/.exec(run.stdout) ?? [];
      expect(Number(encoded)).toBeGreaterThan(Number(total) / 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a bad argument or configuration with an exception naming it, never an abort', () => {
    const { RecordEncoder } = loadAddon();
    const good = { keys: BIND_ATTRIBUTE_KEYS, errnoNames: [[98, 'EADDRINUSE']] as [number, string][], protocolNames: [[6, 'TCP']] as [number, string][], eventName: 'bindsnoop.bind', countLimit: 0, valueLengthLimit: 0 };
    const make = (config: unknown) => () => new RecordEncoder(config as typeof good);
    expect(make(undefined)).toThrow(/config must be an object/);
    expect(make({ ...good, keys: { ...BIND_ATTRIBUTE_KEYS, pid: undefined } })).toThrow(/config\.keys\.pid must be a key/);
    expect(make({ ...good, errnoNames: [[-1, 'X']] })).toThrow(/errnoNames\[0\]\[0\] must be a whole number/);
    expect(make({ ...good, protocolNames: 'TCP' })).toThrow(/protocolNames must be an array/);
    expect(make({ ...good, countLimit: -1 })).toThrow(/countLimit/);
    const encoder = new RecordEncoder(good);
    const bad = (...args: unknown[]) => () => (encoder.encode as (...a: unknown[]) => unknown)(...args);
    expect(bad('x', false, 0n, 0n)).toThrow(/records must be a Buffer/);
    expect(bad(Buffer.alloc(0), 1, 0n, 0n)).toThrow(/withArgs must be a boolean/);
    expect(bad(Buffer.alloc(0), false, 0, 0n)).toThrow(/wallOffsetNs must be a bigint/);
    expect(bad(Buffer.alloc(0), false, 2n ** 64n, 0n)).toThrow(/wallOffsetNs must fit/);
    expect(bad(Buffer.alloc(0), false, 0n, -1n)).toThrow(/observedNs/);
  });

  it('names every role the JavaScript declaration names, and the addon refuses a declaration without one', () => {
    const { RecordEncoder } = loadAddon();
    for (const role of Object.keys(BIND_ATTRIBUTE_KEYS)) {
      const keys: Record<string, string> = { ...BIND_ATTRIBUTE_KEYS };
      delete keys[role];
      expect(() => new RecordEncoder({ keys, errnoNames: [], protocolNames: [], eventName: 'e', countLimit: 0, valueLengthLimit: 0 }), role).toThrow(new RegExp(`config\\.keys\\.${role} must be a key`));
    }
  });
});

/** A varint at `p`: its value and the position after it. */
function varint(buf: Buffer, p: number): [number, number] {
  let value = 0;
  for (let scale = 1; ; scale *= 128) {
    const b = buf[p++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, p];
  }
}

/** The length-delimited fields numbered `field` of a message, in order. */
function fieldsOf(buf: Buffer, field: number): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < buf.length; ) {
    const [tag, q] = varint(buf, p);
    if ((tag & 7) !== 2) throw new Error(`field ${tag >> 3}: only length-delimited fields are expected here`);
    const [length, start] = varint(buf, q);
    if (tag >> 3 === field) out.push(buf.subarray(start, start + length));
    p = start + length;
  }
  return out;
}

/** The LogRecords of an ExportLogsServiceRequest, in order. */
function logRecordsOf(body: Buffer): string[] {
  return fieldsOf(body, 1).flatMap((rl) => fieldsOf(rl, 2).flatMap((sl) => fieldsOf(sl, 2).map((r) => r.toString('hex'))));
}

/** Records as the reader thread writes a run: each a ScopeLogs.log_records field. */
function runOf(records: readonly Buffer[]): Buffer {
  return Buffer.concat(records.map((r) => {
    const head: number[] = [0x12];
    for (let n = r.length; ; n = Math.floor(n / 128)) {
      if (n < 128) {
        head.push(n);
        break;
      }
      head.push((n & 0x7f) | 0x80);
    }
    return Buffer.concat([Buffer.from(head), r]);
  }));
}

describe('the direct pipeline, given the addon\'s runs of records', () => {
  const specs = fc.sample(fullRecordArb.map((r) => ({ ...r, boundDevIf: 0 })), { numRuns: 40, seed: 7 });
  const encoded = encoderWith().encode(recordsBuffer(specs, true), true, OFFSET_NS, OBSERVED_NS) as Buffer[];

  function pipeline(over: { maxQueueSize?: number; maxQueueBytes?: number; maxExportBatchSize?: number } = {}) {
    const bodies: Buffer[] = [];
    const p = new ProtobufDirectPipeline({
      encoding: protobufEncoding(),
      send: (request, done, released) => {
        bodies.push(Buffer.from(request.body));
        done({ exported: request.count, failed: 0 });
        released();
      },
      closeTransport: async () => undefined,
      maxQueueSize: over.maxQueueSize ?? 1000,
      maxQueueBytes: over.maxQueueBytes ?? 1 << 24,
      maxExportBatchSize: over.maxExportBatchSize ?? 7,
      flushIntervalMillis: 60_000,
      scopeName: 'bindsnoop',
      scopeVersion: '1.2.3',
      maxResources: 16,
      resourceIdleMillis: 60_000,
    });
    return { p, bodies };
  }

  it('sends every record once, in order, no request over the batch size: runs split where a request ends', async () => {
    const { p, bodies } = pipeline();
    const runs = [encoded.slice(0, 10), encoded.slice(10, 13), encoded.slice(13, 40)];
    for (const run of runs) expect(p.enqueueEncoded(runOf(run), run.length, { 'service.name': 'bindsnoop' })).toBe(run.length);
    const counts = await p.shutdown(1000);
    expect(counts).toMatchObject({ exported: 40, lostExportQueue: 0, lostExport: 0, pending: 0 });
    for (const body of bodies) expect(logRecordsOf(body).length).toBeLessThanOrEqual(7);
    expect(bodies.flatMap(logRecordsOf)).toEqual(encoded.map((r) => r.toString('hex')));
    // a request of the addon's records is the request of the same records encoded in JavaScript
    const first = requestProtobuf([{ resource: resourceFieldProtobuf({ 'service.name': 'bindsnoop' }), records: encoded.slice(0, 7) }], scopeFieldProtobuf({ name: 'bindsnoop', version: '1.2.3', attributes: {}, schemaUrl: SEMCONV_SCHEMA_URL }), schemaUrlFieldProtobuf(SEMCONV_SCHEMA_URL)).body;
    expect(bodies[0].toString('hex')).toBe(Buffer.from(first).toString('hex'));
  });

  it('hands a batch back to the addon once, when every run of it was copied into a request, or at once when none was queued', async () => {
    const { p, bodies } = pipeline({ maxExportBatchSize: 4 });
    const own = (bytes: Buffer): Buffer => {
      const b = Buffer.allocUnsafeSlow(bytes.length);
      bytes.copy(b);
      return b;
    };
    const a = runOf(encoded.slice(0, 6));
    const batch = own(Buffer.concat([a, runOf(encoded.slice(6, 9))]));
    const recycled: Buffer[] = [];
    // two runs of one batch (two resources), the first split across requests
    expect(p.enqueueEncoded(batch.subarray(0, a.length), 6, { 'k8s.pod.name': 'a' })).toBe(6);
    expect(p.enqueueEncoded(batch.subarray(a.length), 3, { 'k8s.pod.name': 'b' })).toBe(3);
    p.encodedBatchOffered(batch, (b) => recycled.push(b));
    // two requests of 4 sent: the third record of the second run is still queued
    expect(bodies).toHaveLength(2);
    expect(recycled).toEqual([]);
    await p.shutdown(1000);
    expect(bodies.flatMap(logRecordsOf)).toHaveLength(9);
    expect(recycled).toEqual([batch]);

    // a batch none of which is queued (the queue is closed) goes back at once
    const dropped = own(runOf(encoded.slice(0, 2)));
    expect(p.enqueueEncoded(dropped, 2, {})).toBe(0);
    p.encodedBatchOffered(dropped, (b) => recycled.push(b));
    expect(recycled).toEqual([batch, dropped]);
  });

  it('queues what its record bound and its byte bound hold, counting the rest of a run lost', async () => {
    const byCount = pipeline({ maxQueueSize: 12, maxExportBatchSize: 100 });
    expect(byCount.p.enqueueEncoded(runOf(encoded.slice(0, 10)), 10, {})).toBe(10);
    expect(byCount.p.enqueueEncoded(runOf(encoded.slice(10, 20)), 10, {})).toBe(2);
    expect(byCount.p.snapshot()).toMatchObject({ lostExportQueue: 8, pending: 12 });
    expect(await byCount.p.shutdown(1000)).toMatchObject({ exported: 12, lostExportQueue: 8 });
    expect(byCount.bodies.flatMap(logRecordsOf)).toEqual(encoded.slice(0, 12).map((r) => r.toString('hex')));

    // the byte bound: what is queued leaves room for some of the next run, cut at a record
    const byBytes = pipeline({ maxQueueBytes: 65_536, maxExportBatchSize: 1000 });
    const first = runOf(encoded.slice(0, 20));
    expect(byBytes.p.enqueueEncoded(first, 20, {})).toBe(20);
    let room = 65_536 - first.length;
    let fit = 0;
    while (fit < encoded.length && runOf([encoded[fit]]).length <= room) room -= runOf([encoded[fit++]]).length;
    expect(fit).toBeGreaterThan(0);
    expect(fit).toBeLessThan(encoded.length);
    expect(byBytes.p.enqueueEncoded(runOf(encoded), encoded.length, {})).toBe(fit);
    expect(byBytes.p.snapshot()).toMatchObject({ lostExportQueue: encoded.length - fit, pending: 20 + fit });
    expect(await byBytes.p.shutdown(1000)).toMatchObject({ exported: 20 + fit });
    expect(byBytes.bodies.flatMap(logRecordsOf)).toEqual([...encoded.slice(0, 20), ...encoded.slice(0, fit)].map((r) => r.toString('hex')));
  });
});
