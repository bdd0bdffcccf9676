import { mkdirSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tracerOptions } from '../../src/agent/tracer-options';
import { loadConfig, schemaLeaves } from '../../src/config/load';
import { BACKEND_CHOICES, loadAddon, type NativeTracer, type NativeTracerOptions, type TracerOptionSpec } from '../../src/kernel/native';
import { recordEncoder } from '../../src/otlp/native-encoding';
import { MAX_PORTS } from '../../src/model/event';
import { describePrivileged, OWN_UID } from './harness';

/**
 * The addon's own argument checks: whatever JavaScript passes, a wrong call is
 * a TypeError or RangeError naming the argument, never an abort of Node, and
 * a key out of range is refused rather than stored as another key.
 */
const pinDir = `/sys/fs/bpf/bindsnoop-addon-test-${process.pid}`;
afterAll(() => rmSync(pinDir, { recursive: true, force: true }));

function options(overrides: Partial<NativeTracerOptions> = {}): NativeTracerOptions {
  return {
    pid: 0, filterUid: false, uid: 0, ports: [], includeErrors: false, countMode: false, hideKernelBinds: false,
    readCgroupNames: false, readArgs: false, cgroupRootId: 1, cgroupMapPath: '', mntnsMapPath: '', ringBufferBytes: 1 << 16, wakeupBytes: 4096,
    drainIntervalMillis: 50, maxPendingBatches: 8, maxPendingBytes: 1 << 20, pinDir: '', handoverDir: '', unownedAfterMillis: 0, packageVersion: '',
    backend: 'auto', ...overrides,
  };
}

/** Calls the addon as untyped JavaScript would. */
function untyped(target: object, method: string, ...args: unknown[]): unknown {
  const f = (target as Record<string, (...a: unknown[]) => unknown>)[method];
  return f.apply(target, args);
}

describe('the tracer\'s options are declared once, by the addon', () => {
  const specs = loadAddon().tracerOptions;
  const jsonSchema = (path: string): { minimum?: number; maximum?: number; enum?: number[]; maxItems?: number } => {
    const leaf = schemaLeaves().find((l) => l.path === path);
    if (!leaf) throw new Error(`no configuration key ${path}`);
    return (leaf.spec.format as { jsonSchema: { minimum?: number; maximum?: number; enum?: number[]; maxItems?: number } }).jsonSchema;
  };
  const numeric = (name: string): { min: number; max: number } => {
    const spec: TracerOptionSpec = specs[name];
    if (spec.type !== 'uint32' && spec.type !== 'safeInteger') throw new Error(`${name} is not a number option`);
    return spec;
  };

  it('the agent passes every option the addon reads, and only those', () => {
    const built = tracerOptions(loadConfig({ env: {}, flags: {} }), { countMode: false, cgroupRootId: 1, pinDir: '', handoverDir: '', version: '0.0.0' });
    expect(Object.keys(built).sort()).toEqual(Object.keys(specs).sort());
    // and the TypeScript interface is the same set (a compile-time check on one full object)
    expect(Object.keys(options()).sort()).toEqual(Object.keys(specs).sort());
  });

  it('every configured bound lies within what the addon accepts', () => {
    for (const key of ['wakeupBytes', 'drainIntervalMillis', 'maxPendingBatches', 'maxPendingBytes']) {
      const { minimum, maximum } = jsonSchema(`reader.${key}`);
      expect([key, minimum! >= numeric(key).min && maximum! <= numeric(key).max]).toEqual([key, true]);
    }
    const ring = jsonSchema('reader.ringBufferBytes').enum!;
    expect(Math.min(...ring)).toBeGreaterThanOrEqual(numeric('ringBufferBytes').min);
    expect(Math.max(...ring)).toBeLessThanOrEqual(numeric('ringBufferBytes').max);
    expect(jsonSchema('filter.pid').maximum).toBeLessThanOrEqual(numeric('pid').max);
    expect(jsonSchema('filter.uid').maximum).toBeLessThanOrEqual(numeric('uid').max);
    expect(specs.ports).toEqual({ type: 'ports', maxLength: MAX_PORTS });
    expect(jsonSchema('filter.ports').maxItems).toBe(MAX_PORTS);
    expect(specs.backend).toEqual({ type: 'string', oneOf: [...BACKEND_CHOICES] });
  });
});

describe('the addon checks the options it is given', () => {
  const { Tracer } = loadAddon();
  const construct = (o: unknown) => () => new (Tracer as unknown as new (o: unknown) => NativeTracer)(o);

  it.each([
    [undefined, TypeError, /options must be an object \(got undefined\)/],
    [42, TypeError, /options must be an object \(got number\)/],
    [[1], TypeError, /options must be an object \(got array\)/],
    [{ pid: 'x' }, TypeError, /options\.pid must be a number \(got string\)/],
    [{ pid: -1 }, RangeError, /options\.pid must be a whole number from 0 to 4294967295/],
    [{ pid: 1.5 }, RangeError, /options\.pid must be a whole number/],
    [{ includeErrors: 1 }, TypeError, /options\.includeErrors must be a boolean \(got number\)/],
    [{ ports: '80' }, TypeError, /options\.ports must be an array of numbers \(got string\)/],
    [{ ports: [70000] }, RangeError, /options\.ports\[0\] must be a whole number from 0 to 65535/],
    [{ ports: Array.from({ length: 65 }, (_, i) => i) }, RangeError, /options\.ports holds at most 64 entries/],
    [{ pinDir: 7 }, TypeError, /options\.pinDir must be a string \(got number\)/],
    [{ cgroupMapPath: 'a\0b' }, TypeError, /options\.cgroupMapPath must not contain NUL/],
    [{ ringBufferBytes: 100 }, RangeError, /options\.ringBufferBytes must be a whole number from 4096/],
    [{ backend: 'ebpf' }, RangeError, /options\.backend must be one of auto, fentry, kprobe, tracepoint \(got 'ebpf'\)/],
  ])('new Tracer(%j) throws %o', (o, type, message) => {
    expect(construct(o)).toThrow(type);
    expect(construct(o)).toThrow(message);
  });

  it('a throwing getter on the options is passed on, not swallowed', () => {
    const o = Object.defineProperty({}, 'pid', { get: () => { throw new Error('getter says no'); } });
    expect(construct(o)).toThrow('getter says no');
  });
});

describePrivileged('the addon on a loaded tracer', () => {
  const { Tracer } = loadAddon();

  it('refuses wrong arguments to every method without aborting, and never wraps a key', async () => {
    mkdirSync(pinDir, { recursive: true });
    const tracer = new Tracer(options({ pinDir, backend: 'tracepoint' }));
    expect(() => untyped(tracer, 'start', 42)).toThrow(/onBatch must be a function \(got number\)/);
    expect(() => untyped(tracer, 'mapUpdate', 42, 1n, 1n)).toThrow(TypeError);
    expect(() => untyped(tracer, 'mapUpdate', 42, 1n, 1n)).toThrow(/map must be a string \(got number\)/);
    expect(() => untyped(tracer, 'mapUpdate', 'nope', 1n, 1n)).toThrow(/map must be one of cgroups, mntns, excluded/);
    expect(() => untyped(tracer, 'mapUpdate', 'cgroups', 1, 1n)).toThrow(/key must be a bigint \(got number\)/);
    expect(() => untyped(tracer, 'mapUpdate', 'cgroups', 1n)).toThrow(/value must be a bigint \(got undefined\)/);
    expect(() => tracer.mapUpdate('cgroups', -1n, 1n)).toThrow(RangeError);
    expect(() => tracer.mapUpdate('cgroups', 2n ** 70n + 7n, 1n)).toThrow(/key must be from 0n to 18446744073709551615n/);
    expect(() => tracer.mapUpdate('mntns', 1n, 2n ** 32n)).toThrow(/value must be from 0n to 4294967295n/);
    expect(() => untyped(tracer, 'mapDelete', 'cgroups', 'x')).toThrow(/key must be a bigint \(got string\)/);
    expect(() => untyped(tracer, 'mapEntries')).toThrow(/map must be a string \(got undefined\)/);
    // nothing out of range was stored under another key
    expect(tracer.mapEntries('cgroups')).toEqual([]);
    expect(tracer.mapEntries('mntns')).toEqual([]);

    tracer.mapUpdate('cgroups', 2n ** 64n - 1n, 5n);
    tracer.mapUpdate('mntns', 7n, 2n ** 32n - 1n);
    expect(tracer.mapEntries('cgroups')).toEqual([[2n ** 64n - 1n, 5n]]);
    expect(tracer.mapEntries('mntns')).toEqual([[7n, 2n ** 32n - 1n]]);
    expect(tracer.mapDelete('cgroups', 2n ** 64n - 1n)).toBe(true);
    expect(tracer.mapDelete('cgroups', 2n ** 64n - 1n)).toBe(false);
    expect(tracer.backend()).toMatchObject({ name: 'tracepoint' });

    await tracer.stop();
    expect(tracer.attached()).toBe(false);
    expect(() => tracer.mapEntries('cgroups')).toThrow(/the tracer is stopped/);
    expect(() => tracer.start(() => undefined)).toThrow(/a tracer can be started once, before stop\(\)/);
  });

  it('start() takes only a RecordEncoder; the cgroups it encodes by are bounded and checked', async () => {
    const tracer = new Tracer(options({ backend: 'tracepoint', drainIntervalMillis: 60_000, filterUid: true, uid: OWN_UID }));
    expect(() => untyped(tracer, 'start', () => undefined, {})).toThrow(/encoder must be a RecordEncoder \(got object\)/);
    const encoder = recordEncoder({ attributeCountLimit: 0, attributeValueLengthLimit: 0 });
    expect(() => untyped(tracer, 'start', () => undefined, encoder, 'yes')).toThrow(/cgroupSlots must be a boolean \(got string\)/);
    expect(() => untyped(tracer, 'encodeCgroupAs', 1, 0)).toThrow(/cgroupId must be a bigint \(got number\)/);
    expect(() => untyped(tracer, 'encodeCgroupAs', 1n, -1)).toThrow(/slot must be a whole number/);
    expect(() => untyped(tracer, 'encodeCgroupAs', 1n, 0.5)).toThrow(/slot must be a whole number/);
    tracer.start(() => undefined, encoder, true);
    // a bounded table: 16,384 cgroups, then refusals (one named again is not a new one) until forgotten
    for (let i = 1; i <= 16_384; i++) expect(tracer.encodeCgroupAs(BigInt(i), i)).toBe(true);
    expect(tracer.encodeCgroupAs(16_385n, 1)).toBe(false);
    expect(tracer.encodeCgroupAs(7n, 3)).toBe(true);
    tracer.forgetEncodedCgroups();
    expect(tracer.encodeCgroupAs(16_385n, 1)).toBe(true);
    await tracer.stop();
  });

  it('stop() wakes the reader instead of waiting out its drain interval, and delivers what was read', async () => {
    // only the run's own user's binds (none here): a neighbour binding meanwhile delivers nothing to this tracer
    const tracer = new Tracer(options({ backend: 'tracepoint', drainIntervalMillis: 60_000, filterUid: true, uid: OWN_UID }));
    let batches = 0;
    tracer.start(() => batches++);
    const stopped = tracer.stop();
    // the JavaScript thread is free while the worker detaches and unloads
    let ticked = false;
    setImmediate(() => (ticked = true));
    await stopped;
    expect(ticked).toBe(true);
    expect(tracer.attached()).toBe(false);
    expect(tracer.stats()).toMatchObject({ readerAlive: false, readerErrno: 0, recordsMalformed: 0 });
    expect(batches).toBe(0);
    // a second stop() is already done
    await tracer.stop();
  });
});

describe('the addon\'s file helpers check their arguments', () => {
  const addon = loadAddon();
  const dir = `/tmp/bindsnoop-lock-test-${process.pid}`;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lockDirectory/unlockDirectory: wrong types and fds it does not hold are refused; a held lock is exclusive', () => {
    mkdirSync(dir, { recursive: true });
    expect(() => untyped(addon, 'lockDirectory', 42)).toThrow(TypeError);
    expect(() => untyped(addon, 'lockDirectory', '')).toThrow(RangeError);
    expect(() => addon.lockDirectory(`${dir}/missing`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => untyped(addon, 'unlockDirectory', 'x')).toThrow(TypeError);
    expect(() => addon.unlockDirectory(0)).toThrow(/not a lock this module holds/); // never closes a caller's fd
    const fd = addon.lockDirectory(dir);
    // flock is per open file: a second open in this process conflicts too, as another agent's would
    expect(() => addon.lockDirectory(dir)).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
    addon.unlockDirectory(fd);
    expect(() => addon.unlockDirectory(fd)).toThrow(RangeError);
    addon.unlockDirectory(addon.lockDirectory(dir));
  });

  it('peerClosed/setNonBlocking: wrong types and ranges are refused; a closed fd is an error with its errno', () => {
    expect(() => untyped(addon, 'peerClosed', '1')).toThrow(TypeError);
    expect(() => addon.peerClosed(-1)).toThrow(RangeError);
    expect(() => addon.peerClosed(1.5)).toThrow(RangeError);
    expect(() => untyped(addon, 'setNonBlocking')).toThrow(TypeError);
    expect(() => addon.setNonBlocking(2 ** 31)).toThrow(RangeError);
    expect(() => addon.setNonBlocking(999_999)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
