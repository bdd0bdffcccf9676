import { describe, expect, it } from 'vitest';
import type { BindEvent } from '../../src/model/event';
import { BindHold } from '../../src/kubernetes/hold';
import { makeEvent } from './events';

describe('binds held for the Kubernetes API', () => {
  const setup = (maxRecords = 10) => {
    let now = 0;
    const describedPids = new Set<number>();
    const released: BindEvent[][] = [];
    const hold = new BindHold({ maxMillis: 1000, maxRecords, checkMillis: 60_000 }, (e) => describedPids.has(e.pid), (events) => released.push(events), () => now);
    return { hold, describedPids, released, at: (t: number) => (now = t) };
  };

  it('lets a described bind go on, holds the others until described or past maxMillis, in arrival order', () => {
    const { hold, describedPids, released, at } = setup();
    describedPids.add(1);
    expect(hold.take(makeEvent({ pid: 1 }))).toBe(false);
    expect(hold.take(makeEvent({ pid: 2 }))).toBe(true);
    expect(hold.take(makeEvent({ pid: 3 }))).toBe(true);
    expect(hold.take(makeEvent({ pid: 4 }))).toBe(true);
    expect(hold.snapshot()).toEqual({ held: 3, described: 0, expired: 0, overflowed: 0 });
    describedPids.add(3);
    hold.check();
    expect(released.map((b) => b.map((e) => e.pid))).toEqual([[3]]);
    at(1000);
    hold.check();
    expect(released.map((b) => b.map((e) => e.pid))).toEqual([[3], [2, 4]]);
    expect(hold.snapshot()).toEqual({ held: 0, described: 1, expired: 2, overflowed: 0 });
  });

  it('holds at most maxRecords; past it a bind goes on at once and is counted', () => {
    const { hold } = setup(2);
    expect([1, 2, 3].map((pid) => hold.take(makeEvent({ pid })))).toEqual([true, true, false]);
    expect(hold.snapshot()).toMatchObject({ held: 2, overflowed: 1 });
    hold.flush();
  });

  /** A bind whose every byte field is a view into `batch`, as the decoder makes it (Buffers, whose slice() is a view too). */
  const fromBatch = (batch: Buffer, pid: number): BindEvent =>
    makeEvent({ pid, comm: batch.subarray(0, 4), boundAddr: batch.subarray(4, 20), reqAddr: batch.subarray(20, 36), parentComm: batch.subarray(36, 44), exeNames: batch.subarray(44, 60), args: batch.subarray(60, 80) });

  it('keeps copies of every byte field, not views into the reader\'s batch', () => {
    const { hold, released } = setup();
    const batch = Buffer.alloc(128);
    hold.take(fromBatch(batch, 9));
    hold.flush();
    const out = released[0][0];
    for (const field of [out.comm, out.boundAddr, out.reqAddr, out.parentComm, out.exeNames, out.args!]) expect(field.buffer).not.toBe(batch.buffer);
  });

  it('5,000 binds held from 5,000 batches of 64 KiB hold their own bytes, not the batches (resident memory per held bind)', async () => {
    const { hold } = setup(10_000);
    const setFlags = (await import('node:v8')).setFlagsFromString;
    setFlags('--expose-gc');
    const gc = (await import('node:vm')).runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage();
    for (let i = 0; i < 5000; i++) hold.take(fromBatch(Buffer.allocUnsafeSlow(64 * 1024), 10_000 + i));
    // freed buffers' memory is swept after the collection, concurrently: collected again once it had the time
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = process.memoryUsage();
    // a view would keep its 64 KiB batch (320 MB of buffers for these); a copy is the record's own few hundred bytes
    expect((after.arrayBuffers - before.arrayBuffers) / 5000).toBeLessThan(1024);
    // and all a held bind holds, the heap's share included (the heap's own measure moves by a few hundred KB)
    expect((after.arrayBuffers - before.arrayBuffers + after.heapUsed - before.heapUsed) / 5000).toBeLessThan(4096);
    expect(hold.snapshot().held).toBe(5000);
    hold.flush();
  });

  it('flush() releases everything and holds nothing more (the agent is stopping)', () => {
    const { hold, released } = setup();
    hold.take(makeEvent({ pid: 5 }));
    hold.flush();
    expect(released.map((b) => b.map((e) => e.pid))).toEqual([[5]]);
    expect(hold.take(makeEvent({ pid: 6 }))).toBe(false);
  });
});
