import { describe, expect, it } from 'vitest';
import { Router } from '../../src/agent/router';
import { BootClock } from '../../src/kernel/clock';
import type { EventOutput, NamedBind, NamingOutput, Output, RoutedBind } from '../../src/model/named-bind';
import { InterfaceNames } from '../../src/naming/net/interfaces';
import { makeEvent } from './events';

/** An output that records what it was given, full when told. */
function output(full = false): NamingOutput & { written: NamedBind[]; dropped: number; full: boolean } {
  const o = {
    reads: 'named' as const,
    written: [] as NamedBind[],
    dropped: 0,
    full,
    write(binds: readonly NamedBind[]) {
      o.written.push(...binds);
    },
    saturated: () => o.full,
    drop(n: number) {
      o.dropped += n;
    },
  };
  return o;
}

function router(outputs: Output[]): Router {
  return new Router({
    clock: new BootClock(() => ({ realtimeNs: 2_000_000_000n, boottimeNs: 1_000_000_000n })),
    interfaces: new InterfaceNames('/nonexistent'),
    baseResource: { 'service.name': 'bindsnoop' },
    podService: 'workload',
    outputs,
  });
}

/** An output of the events only (as bcc's table), recording what it was given. */
function eventOutput(): EventOutput & { written: RoutedBind[] } {
  const o = {
    reads: 'events' as const,
    written: [] as RoutedBind[],
    write(binds: readonly RoutedBind[]) {
      o.written.push(...binds);
    },
  };
  return o;
}

describe('the router', () => {
  const batch = [makeEvent({ pid: 1 }), makeEvent({ pid: 2 }), makeEvent({ pid: 3 })];

  it('names nothing for an output of the events alone (the table), and names once when another output reads the naming', () => {
    const table = eventOutput();
    router([table]).route(batch);
    expect(table.written.map((b) => b.event.pid)).toEqual([1, 2, 3]);
    expect(table.written.every((b) => !('attributes' in b) && !('wallNs' in b))).toBe(true);

    const beside = eventOutput();
    const named = output();
    router([beside, named]).route(batch);
    expect(beside.written.map((b) => b.event)).toEqual(named.written.map((b) => b.event));
    expect(named.written[0].attributes['process.pid']).toBe(1);
  });

  it('names each bind once and gives every output the same named binds, with wall-clock time', () => {
    const a = output();
    const b = output();
    const r = router([a, b]);
    r.route(batch);
    expect(r.delivered).toBe(3);
    expect(a.written.map((n) => n.attributes['process.pid'])).toEqual([1, 2, 3]);
    expect(b.written).toEqual(a.written);
    expect(a.written[0].attributes).toBe(b.written[0].attributes); // named once, shared
    expect(a.written[0].wallNs).toBe(2_000_000_000n);
    expect(a.written[0].resource).toEqual({ 'service.name': 'bindsnoop' });
  });

  it('when every output is saturated, names nothing and has each count the binds as dropped', () => {
    const a = output(true);
    const b = output(true);
    const r = router([a, b]);
    r.route(batch);
    expect(r.delivered).toBe(3);
    expect([a.written.length, b.written.length]).toEqual([0, 0]);
    expect([a.dropped, b.dropped]).toEqual([3, 3]);
  });

  it('when only some outputs are saturated, writes to all (each counts its own drops) and drops nothing itself', () => {
    const full = output(true);
    const open = output(false);
    const r = router([full, open]);
    r.route(batch);
    expect(open.written).toHaveLength(3);
    expect(full.written).toHaveLength(3); // a saturated output's write counts what it cannot take
    expect(full.dropped).toBe(0);
  });

  it('with no output (-q without export) counts the batch as delivered and does nothing else', () => {
    const r = router([]);
    r.route(batch);
    expect(r.delivered).toBe(3);
  });
});

describe('the router, when the addon encodes by cgroup', () => {
  function namingRouter() {
    const named: [bigint, number][] = [];
    let forgotten = 0;
    const r = new Router({
      clock: new BootClock(() => ({ realtimeNs: 2_000_000_000n, boottimeNs: 1_000_000_000n })),
      interfaces: new InterfaceNames('/nonexistent'),
      baseResource: { 'service.name': 'bindsnoop' },
      podService: 'workload',
      outputs: [output()],
      encoded: (batch, resourceOf) => {
        expect(resourceOf(0)).toEqual({ 'service.name': 'bindsnoop' });
        return batch.length;
      },
      encodedCgroups: {
        encodeAs: (cgroupId, slot) => {
          named.push([cgroupId, slot]);
          return true;
        },
        forget: () => forgotten++,
      },
    });
    return { r, named, forgotten: () => forgotten };
  }

  it('names each cgroup once (a host process\'s as slot 0), forgets them all when told, and names them again after', () => {
    const { r, named, forgotten } = namingRouter();
    r.route([makeEvent({ cgroupId: 7n }), makeEvent({ cgroupId: 7n }), makeEvent({ cgroupId: 8n })]);
    expect(named).toEqual([[7n, 0], [8n, 0]]);
    r.forgetEncodedCgroups();
    expect(forgotten()).toBe(1);
    r.forgetEncodedCgroups(); // nothing named since: nothing to forget
    expect(forgotten()).toBe(1);
    r.route([makeEvent({ cgroupId: 7n })]);
    expect(named).toEqual([[7n, 0], [8n, 0], [7n, 0]]);
    r.routeEncoded(Buffer.alloc(5));
    expect(r.delivered).toBe(4 + 5);
  });

  it('names at most 16,384 cgroups between two forgettings (the addon\'s bound): the others stay on this path', () => {
    const { r, named } = namingRouter();
    for (let i = 0; i < 20_000; i += 1000) r.route(Array.from({ length: 1000 }, (_, k) => makeEvent({ cgroupId: BigInt(i + k + 1) })));
    expect(named).toHaveLength(16_384);
    r.forgetEncodedCgroups();
    r.route([makeEvent({ cgroupId: 19_999n })]);
    expect(named).toHaveLength(16_385);
  });
});
