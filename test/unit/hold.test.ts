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

  it('keeps copies, not views into the reader\'s batch', () => {
    const { hold, released } = setup();
    const batch = new Uint8Array(64);
    const e = makeEvent({ pid: 9, comm: batch.subarray(0, 4), boundAddr: batch.subarray(4, 20), reqAddr: batch.subarray(20, 36) });
    hold.take(e);
    hold.flush();
    const out = released[0][0];
    for (const field of [out.comm, out.boundAddr, out.reqAddr]) expect(field.buffer).not.toBe(batch.buffer);
  });

  it('flush() releases everything and holds nothing more (the agent is stopping)', () => {
    const { hold, released } = setup();
    hold.take(makeEvent({ pid: 5 }));
    hold.flush();
    expect(released.map((b) => b.map((e) => e.pid))).toEqual([[5]]);
    expect(hold.take(makeEvent({ pid: 6 }))).toBe(false);
  });
});
