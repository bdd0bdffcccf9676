import type { BindEvent } from './event';

/**
 * Byte offsets of struct bind_event (bpf/bindsnoop.h). The addon exports the
 * real ones; test/unit/decode.test.ts checks that these match them.
 */
export const EVENT_SIZE = 368;
export const EVENT_OFFSETS = {
  ts_boot_ns: 0,
  cgroup_id: 8,
  mntns_id: 16,
  netns_id: 24,
  pid: 28,
  tid: 32,
  uid: 36,
  ret: 40,
  bound_dev_if: 44,
  bound_addr: 48,
  req_addr: 64,
  bound_port: 80,
  req_port: 82,
  protocol: 84,
  family: 86,
  opts: 87,
  req_family: 88,
  flags: 89,
  comm: 96,
  cgroup_name: 112,
  cgroup_parent_name: 240,
} as const;
const COMM_LEN = 16;
const CGROUP_NAME_LEN = 128;

/** Offsets of struct count_key and the u64 that follows it in Tracer.counts(). */
export const COUNT_KEY_SIZE = 24;
export const COUNT_ENTRY_SIZE = 32;
export const COUNT_OFFSETS = { addr: 0, port: 16, family: 18 } as const;

export interface CountEntry {
  family: number;
  addr: Uint8Array;
  port: number;
  binds: bigint;
}

function cString(buf: Uint8Array, start: number, max: number): Uint8Array {
  let end = start;
  while (end < start + max && buf[end] !== 0) end++;
  return buf.slice(start, end);
}

/** Decodes one record at `offset` (little-endian host, as the kernel wrote it). */
export function decodeEvent(buf: Uint8Array, offset = 0): BindEvent {
  const o = EVENT_OFFSETS;
  const view = new DataView(buf.buffer, buf.byteOffset + offset, EVENT_SIZE);
  const at = buf.byteOffset + offset;
  const bytes = new Uint8Array(buf.buffer, at, EVENT_SIZE);
  return {
    tsBootNs: view.getBigUint64(o.ts_boot_ns, true),
    cgroupId: view.getBigUint64(o.cgroup_id, true),
    mntnsId: Number(view.getBigUint64(o.mntns_id, true)),
    netnsId: view.getUint32(o.netns_id, true),
    pid: view.getUint32(o.pid, true),
    tid: view.getUint32(o.tid, true),
    uid: view.getUint32(o.uid, true),
    ret: view.getInt32(o.ret, true),
    boundDevIf: view.getInt32(o.bound_dev_if, true),
    boundAddr: bytes.slice(o.bound_addr, o.bound_addr + 16),
    reqAddr: bytes.slice(o.req_addr, o.req_addr + 16),
    boundPort: view.getUint16(o.bound_port, true),
    reqPort: view.getUint16(o.req_port, true),
    protocol: view.getUint16(o.protocol, true),
    family: view.getUint8(o.family),
    opts: view.getUint8(o.opts),
    reqFamily: view.getUint8(o.req_family),
    flags: view.getUint8(o.flags),
    comm: cString(bytes, o.comm, COMM_LEN),
    cgroupName: Buffer.from(cString(bytes, o.cgroup_name, CGROUP_NAME_LEN)).toString('utf8'),
    cgroupParentName: Buffer.from(cString(bytes, o.cgroup_parent_name, CGROUP_NAME_LEN)).toString('utf8'),
  };
}

/** Decodes a batch of packed records; a trailing partial record is ignored. */
export function decodeBatch(buf: Uint8Array): BindEvent[] {
  const events: BindEvent[] = [];
  for (let off = 0; off + EVENT_SIZE <= buf.length; off += EVENT_SIZE) events.push(decodeEvent(buf, off));
  return events;
}

export function decodeCounts(buf: Uint8Array): CountEntry[] {
  const entries: CountEntry[] = [];
  for (let off = 0; off + COUNT_ENTRY_SIZE <= buf.length; off += COUNT_ENTRY_SIZE) {
    const view = new DataView(buf.buffer, buf.byteOffset + off, COUNT_ENTRY_SIZE);
    entries.push({
      addr: buf.slice(off + COUNT_OFFSETS.addr, off + COUNT_OFFSETS.addr + 16),
      port: view.getUint16(COUNT_OFFSETS.port, true),
      family: view.getUint8(COUNT_OFFSETS.family),
      binds: view.getBigUint64(COUNT_KEY_SIZE, true),
    });
  }
  return entries;
}
