import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { loadConfig, schemaLeaves } from '../../src/config/load';
import { envName } from '../../src/config/schema';
import { countBatch, decodeBatch, recordLayout } from '../../src/kernel/decode';
import { BindsnoopError } from '../../src/model/errors';
import type { Attributes } from '../../src/model/attributes';
import { logRecordProtobuf, requestProtobuf, resourceFieldProtobuf, schemaUrlFieldProtobuf, scopeFieldProtobuf } from '../../src/otlp/encode';
import { ProtobufWriter } from '../../src/otlp/protobuf-writer';
import type { BindLogRecord } from '../../src/otlp/record';

/*
 * Property-based tests (fast-check): what comes from outside (the kernel's
 * records, the configuration, the attributes of a bind) never crashes the
 * agent, and what it refuses is counted or named.
 */
const RUNS = { numRuns: process.env.CI === 'true' ? 300 : 150 };

describe('the record decoder, given any bytes', () => {
  const size = recordLayout().event.size;

  it('never throws; every record (a trailing partial one too) is delivered or counted as rejected', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: size * 4 + 17 }), (bytes) => {
        const { events, rejected } = decodeBatch(bytes);
        expect(events.length + rejected).toBe(Math.floor(bytes.length / size) + (bytes.length % size ? 1 : 0));
      }),
      RUNS,
    );
  });

  it('counts (-q without export) what it would deliver and reject, for any bytes, with or without the command line', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: recordLayout().eventArgs.size * 3 + 17 }), fc.array(fc.constantFrom(2, 10), { maxLength: 3 }), (withArgs, bytes, families) => {
        const buf = Buffer.from(bytes);
        const stride = withArgs ? recordLayout().eventArgs.size : size;
        // plausible records too, not only random ones
        families.forEach((f, i) => {
          if ((i + 1) * stride <= buf.length) {
            buf[i * stride + recordLayout().event.fields.family.offset] = f;
            buf[i * stride + recordLayout().event.fields.opts.offset] &= 0x1f;
          }
        });
        const { events, rejected } = decodeBatch(buf, withArgs);
        expect(countBatch(buf, withArgs)).toEqual({ records: events.length, rejected });
      }),
      RUNS,
    );
  });

  it('delivers every record the BPF program can write, field for field, whatever the process asked', () => {
    const { fields } = recordLayout().event;
    const recordArb = fc.record({
      family: fc.constantFrom(2, 10),
      reqFamily: fc.integer({ min: 0, max: 255 }), // from the binding process's sockaddr: anything
      opts: fc.integer({ min: 0, max: 31 }),
      flags: fc.integer({ min: 0, max: 7 }),
      pid: fc.nat({ max: 0xffffffff }),
      ret: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      reqPort: fc.nat({ max: 0xffff }),
      protocol: fc.nat({ max: 0xffff }),
      cgroupId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      comm: fc.uint8Array({ minLength: 0, maxLength: 15 }).map((b) => b.map((x) => x || 1)),
    });
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 5 }), (records) => {
        const buf = Buffer.alloc(size * records.length);
        records.forEach((r, i) => {
          const at = i * size;
          buf.writeUInt8(r.family, at + fields.family.offset);
          buf.writeUInt8(r.reqFamily, at + fields.req_family.offset);
          buf.writeUInt8(r.opts, at + fields.opts.offset);
          buf.writeUInt8(r.flags, at + fields.flags.offset);
          buf.writeUInt32LE(r.pid, at + fields.pid.offset);
          buf.writeInt32LE(r.ret, at + fields.ret.offset);
          buf.writeUInt16LE(r.reqPort, at + fields.req_port.offset);
          buf.writeUInt16LE(r.protocol, at + fields.protocol.offset);
          buf.writeBigUInt64LE(r.cgroupId, at + fields.cgroup_id.offset);
          buf.set(r.comm, at + fields.comm.offset);
        });
        const { events, rejected } = decodeBatch(buf);
        expect(rejected).toBe(0);
        expect(events.map((e) => ({ family: e.family, reqFamily: e.reqFamily, opts: e.opts, flags: e.flags, pid: e.pid, ret: e.ret, reqPort: e.reqPort, protocol: e.protocol, cgroupId: e.cgroupId, comm: Buffer.from(e.comm).toString('hex') }))).toEqual(
          records.map((r) => ({ ...r, comm: Buffer.from(r.comm).toString('hex') })),
        );
      }),
      RUNS,
    );
  });
});

describe('the configuration, given any value for any key', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const leaves = schemaLeaves();
  const nest = (key: string, value: unknown): Record<string, unknown> =>
    key.split('.').reduceRight<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;

  /** loads, or refuses with a configuration error (exit 2) that names the key; anything else fails the property */
  const loadsOrNames = (key: string, load: () => unknown): void => {
    try {
      load();
    } catch (e) {
      if (!(e instanceof BindsnoopError)) throw e;
      expect(e.exitStatus).toBe(2);
      // the key itself, or the section it is in when the value replaced a section's shape
      expect(e.message).toContain(key.split('.')[0]);
    }
  };

  it('from a file: any JSON value, and any YAML the value makes, loads or is refused naming the key', () => {
    fc.assert(
      fc.property(fc.constantFrom(...leaves), fc.jsonValue(), (leaf, value) => {
        const f = path.join(dir, 'fuzz.yaml');
        writeFileSync(f, toYaml(nest(leaf.path, value)));
        loadsOrNames(leaf.path, () => loadConfig({ file: f, env: {}, flags: {} }));
      }),
      RUNS,
    );
  });

  it('from the environment: any text in any key\'s variable loads or is refused naming the key', () => {
    fc.assert(
      fc.property(fc.constantFrom(...leaves), fc.string({ unit: 'binary', maxLength: 64 }).filter((s) => !s.includes('\0')), (leaf, text) => {
        loadsOrNames(leaf.path, () => loadConfig({ env: { [envName(leaf.path)]: text }, flags: {} }));
      }),
      RUNS,
    );
  });
});

describe('the direct OTLP encoder, given any attributes', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const root = require('otlp-proto-reference/build/src/generated/root') as {
    opentelemetry: { proto: { collector: { logs: { v1: { ExportLogsServiceRequest: { decode(b: Uint8Array): unknown; toObject(m: unknown, o: object): Record<string, unknown> } } } } } };
  };
  const Request = root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;

  const valueArb = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }), // lone surrogates and all
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 4 }), // container.image.tags and the like
  );

  it('writes requests the official protos decode back to the same record, keys in order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 40 }), valueArb, { maxKeys: 40 }), fc.string({ maxLength: 500 }), (attributes: Attributes, body) => {
        const record: BindLogRecord = {
          eventName: 'bindsnoop.bind',
          timeUnixNano: 1_800_000_000_999_999_999n,
          observedTimeUnixNano: 1_800_000_001_000_000_001n,
          severityNumber: 9,
          severityText: 'INFO',
          body,
          attributes,
        };
        const encoded = logRecordProtobuf(new ProtobufWriter(16), record);
        const scope = scopeFieldProtobuf({ name: 'bindsnoop', version: '1', attributes: {}, schemaUrl: '' });
        const request = requestProtobuf([{ resource: resourceFieldProtobuf({ 'service.name': 'x' }), records: [encoded, encoded] }], scope, schemaUrlFieldProtobuf('https://opentelemetry.io/schemas/1.37.0')).body;
        const decoded = Request.toObject(Request.decode(request), { longs: String, defaults: false }) as {
          resourceLogs: { scopeLogs: { logRecords: { body: { stringValue?: string }; timeUnixNano: string; attributes?: { key: string; value: Record<string, unknown> }[] }[] }[] }[];
        };
        const [lr1, lr2] = decoded.resourceLogs[0].scopeLogs[0].logRecords;
        expect(lr2).toEqual(lr1);
        expect(lr1.timeUnixNano).toBe('1800000000999999999');
        expect(lr1.body.stringValue ?? '').toBe(Buffer.from(body, 'utf8').toString('utf8'));
        const got = (lr1.attributes ?? []).map((kv) => [kv.key, kv.value]);
        const want = Object.keys(attributes).map((k) => {
          const v = attributes[k];
          // AnyValue's value is a oneof: present even when it is the zero value
          if (typeof v === 'string') return [k, { stringValue: Buffer.from(v, 'utf8').toString('utf8') }];
          if (typeof v === 'boolean') return [k, { boolValue: v }];
          // an empty repeated field decodes as absent
          if (Array.isArray(v)) return [k, { arrayValue: v.length ? { values: v.map((item) => ({ stringValue: Buffer.from(item, 'utf8').toString('utf8') })) } : {} }];
          // the double's exact integer value (String() would round one beyond 2^53)
          if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) return [k, { intValue: BigInt(v).toString() }];
          return [k, { doubleValue: v }];
        });
        expect(got).toEqual(want);
      }),
      RUNS,
    );
  });

  it('never writes again a slab a record still held is in, and does write again one whose records were all released', () => {
    const record = (i: number): BindLogRecord => ({ eventName: 'e', timeUnixNano: BigInt(i), observedTimeUnixNano: 1n, severityNumber: 9, severityText: 'INFO', body: String(i).repeat(100).slice(0, 400), attributes: { a: 'b' } });
    const writer = new ProtobufWriter(4096);
    const write = (i: number) => ({ view: logRecordProtobuf(writer, record(i)), want: logRecordProtobuf(new ProtobufWriter(16), record(i)).toString('hex') });
    const held = Array.from({ length: 40 }, (_, i) => write(i));
    const firstSlab = held[0].view.buffer;
    // the oldest record released, the rest of its slab held: the slab is not written again
    writer.releaseRecord(held.shift()!.view);
    for (let i = 40; i < 80; i++) held.push(write(i));
    for (const h of held) expect(h.view.toString('hex')).toBe(h.want);
    expect(held.slice(39).some((h) => h.view.buffer === firstSlab)).toBe(false);
    // every record of the first slab released: it is written again
    while (held[0].view.buffer === firstSlab) writer.releaseRecord(held.shift()!.view);
    const later = Array.from({ length: 40 }, (_, i) => write(80 + i));
    expect(later.some((h) => h.view.buffer === firstSlab)).toBe(true);
    for (const h of [...held, ...later]) expect(h.view.toString('hex')).toBe(h.want);
  });

  it('writes released records\' slabs again and never one a record still held is in; a request body written into an old one is the same', () => {
    const recordOf = (attributes: Attributes, body: string, i: number): BindLogRecord => ({
      eventName: 'bindsnoop.bind',
      timeUnixNano: BigInt(1_800_000_000 + i) * 1_000_000_000n,
      observedTimeUnixNano: 1_800_000_001_000_000_002n,
      severityNumber: 9,
      severityText: 'INFO',
      body,
      attributes,
    });
    fc.assert(
      fc.property(
        // each step writes a record (small, or one that outgrows a slab) and releases the oldest held ones, as the
        // export queue does: records leave in order, copied into a request
        fc.array(fc.tuple(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), valueArb, { maxKeys: 12 }), fc.string({ maxLength: 60 }), fc.boolean(), fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0), fc.nat(4))), { minLength: 1, maxLength: 200 }),
        (steps) => {
          const writer = new ProtobufWriter(4096);
          const held: { view: Buffer; want: string }[] = [];
          let previousBody: Buffer | undefined;
          steps.forEach(([attributes, text, big, releases], i) => {
            const r = recordOf(attributes, big ? text.padEnd(5000, 'y') : text, i);
            held.push({ view: logRecordProtobuf(writer, r), want: logRecordProtobuf(new ProtobufWriter(16), r).toString('hex') });
            const out = held.splice(0, Math.min(releases, held.length));
            if (out.length) {
              const groups = [{ resource: resourceFieldProtobuf({ 'service.name': 'x' }), records: out.map((o) => o.view) }];
              const scope = scopeFieldProtobuf({ name: 'bindsnoop', version: '1', attributes: {}, schemaUrl: '' });
              const fresh = requestProtobuf(groups, scope, Buffer.alloc(0)).body.toString('hex');
              const reused = requestProtobuf(groups, scope, Buffer.alloc(0), previousBody);
              expect(reused.body.toString('hex')).toBe(fresh);
              previousBody = reused.backing;
              for (const o of out) writer.releaseRecord(o.view);
            }
            for (const h of held) expect(h.view.toString('hex')).toBe(h.want);
          });
        },
      ),
      RUNS,
    );
  });

  it('keeps every record it handed out intact while later ones share or outgrow its slab', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.dictionary(fc.string({ minLength: 1, maxLength: 30 }), valueArb, { maxKeys: 30 }), fc.string({ maxLength: 200 }), fc.boolean()), { minLength: 1, maxLength: 30 }), (inputs) => {
        const records: BindLogRecord[] = inputs.map(([attributes, text, big], i) => ({
          eventName: 'bindsnoop.bind',
          timeUnixNano: BigInt(1_800_000_000 + i) * 1_000_000_000n + 1n,
          observedTimeUnixNano: 1_800_000_001_000_000_002n,
          severityNumber: 9,
          severityText: 'INFO',
          body: big ? text.padEnd(3000, 'x') : text,
          attributes,
        }));
        // one slab of 4 KiB: small records share it, a large one moves to a new slab mid-record
        const shared = new ProtobufWriter(4096);
        const views = records.map((r) => logRecordProtobuf(shared, r));
        const alone = records.map((r) => logRecordProtobuf(new ProtobufWriter(16), r));
        expect(views.map((v) => v.toString('hex'))).toEqual(alone.map((v) => v.toString('hex')));
      }),
      RUNS,
    );
  });

  it('writes, for any attributes, the bytes the official SDK serializer writes for the same records', () => {
    const schemaUrl = 'https://opentelemetry.io/schemas/1.37.0';
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), valueArb, { maxKeys: 30 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.constantFrom(9, 13)), { minLength: 1, maxLength: 4 }),
        // the SDK's resource drops keys named like Object.prototype's members (toString, valueOf...); this encoder keeps them
        fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !(k in Object.prototype)), valueArb, { maxKeys: 8 }),
        (records, resourceAttributes) => {
          const resource = resourceFromAttributes(resourceAttributes, { schemaUrl });
          const scope = { name: 'bindsnoop', version: '1.2.3', schemaUrl, attributes: { 'bindsnoop.backend': 'fentry' } };
          const sdkRecords: ReadableLogRecord[] = records.map(([attributes, body, severityNumber], i) => ({
            hrTime: [1_700_000_000 + i, 123_456_789],
            hrTimeObserved: [1_700_000_100, 5],
            severityNumber,
            severityText: severityNumber === 13 ? 'WARN' : 'INFO',
            body,
            eventName: 'bindsnoop.bind',
            attributes,
            droppedAttributesCount: 0,
            resource,
            instrumentationScope: scope,
          }));
          const writer = new ProtobufWriter(64);
          const direct = requestProtobuf(
            [
              {
                resource: resourceFieldProtobuf(resourceAttributes),
                records: records.map(([attributes, body, severityNumber], i) =>
                  logRecordProtobuf(writer, {
                    eventName: 'bindsnoop.bind',
                    timeUnixNano: BigInt(1_700_000_000 + i) * 1_000_000_000n + 123_456_789n,
                    observedTimeUnixNano: 1_700_000_100_000_000_005n,
                    severityNumber,
                    severityText: severityNumber === 13 ? 'WARN' : 'INFO',
                    body,
                    attributes,
                  }),
                ),
              },
            ],
            scopeFieldProtobuf(scope),
            schemaUrlFieldProtobuf(schemaUrl),
          ).body;
          expect(Buffer.from(direct).toString('hex')).toBe(Buffer.from(ProtobufLogsSerializer.serializeRequest(sdkRecords) ?? []).toString('hex'));
        },
      ),
      RUNS,
    );
  });
});
