import { describe, expect, it } from 'vitest';
import { COUNT_ENTRY_SIZE, COUNT_KEY_SIZE, COUNT_OFFSETS, decodeBatch, decodeCounts, EVENT_OFFSETS, EVENT_SIZE } from '../../src/decode';
import { loadAddon } from '../../src/native';

/** A record laid out by the addon's own offsets (from the C header), not the decoder's. */
function record(fields: Partial<Record<keyof typeof EVENT_OFFSETS, number | bigint | number[] | string>>): Buffer {
  const { offsets, size } = loadAddon().eventLayout;
  const b = Buffer.alloc(size);
  const put = (name: string, value: number | bigint | number[] | string): void => {
    const at = offsets[name];
    if (name === 'ts_boot_ns' || name === 'cgroup_id' || name === 'mntns_id') b.writeBigUInt64LE(BigInt(value as number), at);
    else if (name === 'ret' || name === 'bound_dev_if') b.writeInt32LE(value as number, at);
    else if (['netns_id', 'pid', 'tid', 'uid'].includes(name)) b.writeUInt32LE(value as number, at);
    else if (['bound_port', 'req_port', 'protocol'].includes(name)) b.writeUInt16LE(value as number, at);
    else if (['family', 'opts', 'req_family'].includes(name)) b.writeUInt8(value as number, at);
    else if (typeof value === 'string') b.write(value, at, 'latin1');
    else b.set(value as number[], at);
  };
  for (const [k, v] of Object.entries(fields)) put(k, v);
  return b;
}

describe('decoding records of the C layout', () => {
  it('uses the same size and offsets as the addon (bpf/bindsnoop.h)', () => {
    const addon = loadAddon();
    expect(addon.eventLayout.size).toBe(EVENT_SIZE);
    expect(addon.eventLayout.offsets).toEqual({ ...EVENT_OFFSETS });
    expect(addon.countLayout.keySize).toBe(COUNT_KEY_SIZE);
    expect(addon.countLayout.entrySize).toBe(COUNT_ENTRY_SIZE);
    expect(addon.countLayout.offsets).toEqual({ ...COUNT_OFFSETS });
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
      comm: 'nginx: worker',
    });
    const [e] = decodeBatch(buf);
    expect(e).toMatchObject({
      tsBootNs: 123456789012345n,
      cgroupId: 9007199254740000n,
      mntnsId: 4026531840,
      netnsId: 4026531993,
      pid: 4242,
      tid: 4243,
      uid: 1000,
      ret: -98,
      boundDevIf: 3,
      boundPort: 8080,
      reqPort: 65535,
      protocol: 262,
      family: 10,
      opts: 0b10101,
      reqFamily: 10,
    });
    expect([...e.boundAddr.slice(0, 4)]).toEqual([127, 0, 0, 1]);
    expect(e.reqAddr[15]).toBe(1);
    expect(Buffer.from(e.comm).toString('latin1')).toBe('nginx: worker');
  });

  it('stops a comm at its NUL and keeps all 15 bytes of a full one', () => {
    expect(Buffer.from(decodeBatch(record({ comm: 'abc' }))[0].comm).toString()).toBe('abc');
    expect(decodeBatch(record({ comm: '0123456789abcde' }))[0].comm).toHaveLength(15);
  });

  it('decodes a batch of records at any byte offset of a larger buffer', () => {
    const batch = Buffer.concat([record({ pid: 1 }), record({ pid: 2 }), record({ pid: 3 })]);
    const shifted = Buffer.concat([Buffer.alloc(8), batch]).subarray(8);
    expect(decodeBatch(shifted).map((e) => e.pid)).toEqual([1, 2, 3]);
    // a trailing partial record is not decoded
    expect(decodeBatch(batch.subarray(0, EVENT_SIZE * 2 + 5))).toHaveLength(2);
  });

  it('decodes --count entries', () => {
    const b = Buffer.alloc(COUNT_ENTRY_SIZE * 2);
    b.set([10, 0, 0, 1], 0);
    b.writeUInt16LE(80, COUNT_OFFSETS.port);
    b.writeUInt8(2, COUNT_OFFSETS.family);
    b.writeBigUInt64LE(7n, COUNT_KEY_SIZE);
    b.writeUInt16LE(443, COUNT_ENTRY_SIZE + COUNT_OFFSETS.port);
    b.writeUInt8(10, COUNT_ENTRY_SIZE + COUNT_OFFSETS.family);
    b.writeBigUInt64LE(1n, COUNT_ENTRY_SIZE + COUNT_KEY_SIZE);
    const entries = decodeCounts(b);
    expect(entries.map((e) => [e.family, e.port, e.binds])).toEqual([
      [2, 80, 7n],
      [10, 443, 1n],
    ]);
    expect([...entries[0].addr.slice(0, 4)]).toEqual([10, 0, 0, 1]);
  });
});
