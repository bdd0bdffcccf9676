import { describe, expect, it } from 'vitest';
import { decodeBatch, decodeCounts, recordLayout } from '../../src/kernel/decode';

type FieldValue = number | bigint | number[] | string;
const SIGNED = new Set(['ret', 'bound_dev_if']);

/** A record written field by field at the layout of the BPF object's BTF (bpf/bindsnoop.h), by each field's own size. */
function record(fields: Record<string, FieldValue>): Buffer {
  const { size, fields: layout } = recordLayout().event;
  const b = Buffer.alloc(size);
  for (const [name, value] of Object.entries({ family: 2, ...fields })) {
    const f = layout[name];
    if (!f) throw new Error(`no field ${name} in struct bind_event`);
    if (typeof value === 'string') b.write(value, f.offset, 'latin1');
    else if (Array.isArray(value)) b.set(value, f.offset);
    else if (f.size === 8) b.writeBigUInt64LE(BigInt(value), f.offset);
    else if (f.size === 4 && SIGNED.has(name)) b.writeInt32LE(Number(value), f.offset);
    else if (f.size === 4) b.writeUInt32LE(Number(value), f.offset);
    else if (f.size === 2) b.writeUInt16LE(Number(value), f.offset);
    else if (f.size === 1) b.writeUInt8(Number(value), f.offset);
    else throw new Error(`field ${name} of ${f.size} bytes takes bytes or a string`);
  }
  return b;
}

describe('decoding records of the C layout', () => {
  it('reads the layout of struct bind_event and struct count_key from the BPF object', () => {
    const { event, countKey } = recordLayout();
    expect(event.fields.pid).toEqual({ offset: expect.any(Number), size: 4 });
    expect(event.fields.comm.size).toBe(16);
    expect(event.fields.cgroup_name.size).toBe(128);
    expect(Object.keys(countKey.fields)).toEqual(expect.arrayContaining(['addr', 'port', 'family']));
    // fields in order, none overlapping, all inside the record
    for (const layout of [event, countKey]) {
      const fields = Object.values(layout.fields).sort((x, y) => x.offset - y.offset);
      fields.forEach((f, i) => expect(f.offset + f.size).toBeLessThanOrEqual(i + 1 < fields.length ? fields[i + 1].offset : layout.size));
    }
  });

  it('decodes every field', () => {
    const buf = record({
      ts_boot_ns: 123456789012345n,
      cgroup_id: 9007199254740000n,
      mntns_id: 4026531840,
      netns_id: 4026531993,
      pid: 4242,
      tid: 4243,
      uid: 1000,
      ret: -98,
      bound_dev_if: 3,
      bound_addr: [127, 0, 0, 1],
      req_addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
      bound_port: 8080,
      req_port: 65535,
      protocol: 262,
      family: 10,
      opts: 0b10101,
      req_family: 10,
      flags: 3,
      comm: 'nginx: worker',
      ppid: 4200,
      parent_comm: 'nginx',
      start_boot_ns: 123000000000000n,
      cgroup_name: 'cri-containerd-abc.scope',
      cgroup_parent_name: 'kubepods-burstable-pod1_2.slice',
      exe_names: 'nginx\0sbin\0usr\0',
      exe_len: 15,
    });
    const [e] = decodeBatch(buf).events;
    expect(e).toMatchObject({
      tsBootNs: 123456789012345n,
      cgroupId: 9007199254740000n,
      mntnsId: 4026531840,
      netnsId: 4026531993,
      pid: 4242,
      tid: 4243,
      ppid: 4200,
      startBootNs: 123000000000000n,
      uid: 1000,
      ret: -98,
      boundDevIf: 3,
      boundPort: 8080,
      reqPort: 65535,
      protocol: 262,
      family: 10,
      opts: 0b10101,
      reqFamily: 10,
      flags: 3,
      cgroupName: 'cri-containerd-abc.scope',
      cgroupParentName: 'kubepods-burstable-pod1_2.slice',
    });
    expect([...e.boundAddr.slice(0, 4)]).toEqual([127, 0, 0, 1]);
    expect(e.reqAddr[15]).toBe(1);
    expect(Buffer.from(e.comm).toString('latin1')).toBe('nginx: worker');
    expect(Buffer.from(e.parentComm).toString('latin1')).toBe('nginx');
    expect(Buffer.from(e.exeNames).toString('latin1')).toBe('nginx\0sbin\0usr\0');
  });

  it('decodes records that carry the command line (struct bind_event_args) when asked to, by their own size', () => {
    const { event, eventArgs } = recordLayout();
    expect(eventArgs.fields.event).toEqual({ offset: 0, size: event.size });
    const one = (pid: number, args: string, flags: number) => {
      const b = Buffer.alloc(eventArgs.size);
      record({ pid, exe_names: 'sh\0', exe_len: 3 }).copy(b);
      b.writeUInt16LE(args.length, eventArgs.fields.args_len.offset);
      b.writeUInt8(flags, eventArgs.fields.args_flags.offset);
      b.write(args, eventArgs.fields.args.offset, 'latin1');
      return b;
    };
    const { events, rejected } = decodeBatch(Buffer.concat([one(7, 'sh\0-c\0', 0), one(8, 'x'.repeat(eventArgs.fields.args.size), 1)]), true);
    expect(rejected).toBe(0);
    expect(events.map((e) => [e.pid, Buffer.from(e.args ?? []).toString('latin1'), e.argsFlags])).toEqual([[7, 'sh\0-c\0', 0], [8, 'x'.repeat(eventArgs.fields.args.size), 1]]);
  });

  it('takes exe_len bytes of the executable\'s names, never more than the field holds (the ring is not zeroed)', () => {
    const room = recordLayout().event.fields.exe_names.size;
    const stale = 'x'.repeat(room);
    expect(decodeBatch(record({ exe_names: stale, exe_len: 0 })).events[0].exeNames).toHaveLength(0);
    expect(Buffer.from(decodeBatch(record({ exe_names: `sh\0${stale}`.slice(0, room), exe_len: 3 })).events[0].exeNames).toString()).toBe('sh\0');
    expect(decodeBatch(record({ exe_names: stale, exe_len: 65535 })).events[0].exeNames).toHaveLength(room);
  });

  it('stops a comm at its NUL and keeps all 15 bytes of a full one', () => {
    expect(Buffer.from(decodeBatch(record({ comm: 'abc' })).events[0].comm).toString()).toBe('abc');
    expect(decodeBatch(record({ comm: '0123456789abcde' })).events[0].comm).toHaveLength(15);
  });

  it('decodes a batch of records at any byte offset of a larger buffer', () => {
    const batch = Buffer.concat([record({ pid: 1 }), record({ pid: 2 }), record({ pid: 3 })]);
    const shifted = Buffer.concat([Buffer.alloc(8), batch]).subarray(8);
    expect(decodeBatch(shifted).events.map((e) => e.pid)).toEqual([1, 2, 3]);
    // a trailing partial record is not decoded: it is counted
    expect(decodeBatch(batch.subarray(0, recordLayout().event.size * 2 + 5))).toMatchObject({ events: { length: 2 }, rejected: 1 });
  });

  it('decodes --count entries', () => {
    const key = recordLayout().countKey;
    const entry = key.size + 8; // (struct count_key, u64 binds)
    const b = Buffer.alloc(entry * 2);
    b.set([10, 0, 0, 1], key.fields.addr.offset);
    b.writeUInt16LE(80, key.fields.port.offset);
    b.writeUInt8(2, key.fields.family.offset);
    b.writeBigUInt64LE(7n, key.size);
    b.writeUInt16LE(443, entry + key.fields.port.offset);
    b.writeUInt8(10, entry + key.fields.family.offset);
    b.writeBigUInt64LE(1n, entry + key.size);
    const entries = decodeCounts(b);
    expect(entries.map((e) => [e.family, e.port, e.binds])).toEqual([
      [2, 80, 7n],
      [10, 443, 1n],
    ]);
    expect([...entries[0].addr.slice(0, 4)]).toEqual([10, 0, 0, 1]);
  });
});
