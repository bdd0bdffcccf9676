import type { BindEvent } from '../model/event';
import { loadAddon, type StructLayout } from './native';

/**
 * Decodes the kernel's records by the layout of struct bind_event and struct
 * count_key as the BPF object's BTF describes them (bpf/bindsnoop.h is their
 * one declaration; the addon reads the BTF): adding a field means editing the
 * header and the code that uses the field, nowhere else.
 */
export interface RecordLayout {
  event: StructLayout;
  countKey: StructLayout;
}

let cached: RecordLayout | undefined;

/** The layouts of the build's BPF object (loads the addon once). */
export function recordLayout(): RecordLayout {
  cached ??= loadAddon().layouts;
  return cached;
}

/** Byte offset of one field; throws if the object has no such field (a header/decoder mismatch). */
function offsetOf(layout: StructLayout, field: string): number {
  const f = layout.fields[field];
  if (!f) throw new Error(`the BPF record has no field ${field}: rebuild bpf/ and native/`);
  return f.offset;
}

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

/** One decoder per layout: the offsets looked up once, not per record. */
function eventDecoder(layout: StructLayout): (buf: Uint8Array, offset: number) => BindEvent {
  const at = (field: string) => offsetOf(layout, field);
  const o = {
    tsBootNs: at('ts_boot_ns'), cgroupId: at('cgroup_id'), mntnsId: at('mntns_id'), netnsId: at('netns_id'),
    pid: at('pid'), tid: at('tid'), uid: at('uid'), ret: at('ret'), boundDevIf: at('bound_dev_if'),
    boundAddr: at('bound_addr'), reqAddr: at('req_addr'), boundPort: at('bound_port'), reqPort: at('req_port'),
    protocol: at('protocol'), family: at('family'), opts: at('opts'), reqFamily: at('req_family'), flags: at('flags'),
    comm: at('comm'), cgroupName: at('cgroup_name'), cgroupParentName: at('cgroup_parent_name'),
  };
  const commLen = layout.fields.comm.size;
  const cgroupNameLen = layout.fields.cgroup_name.size;
  const size = layout.size;
  return (buf, offset) => {
    const view = new DataView(buf.buffer, buf.byteOffset + offset, size);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + offset, size);
    return {
      tsBootNs: view.getBigUint64(o.tsBootNs, true),
      cgroupId: view.getBigUint64(o.cgroupId, true),
      mntnsId: Number(view.getBigUint64(o.mntnsId, true)),
      netnsId: view.getUint32(o.netnsId, true),
      pid: view.getUint32(o.pid, true),
      tid: view.getUint32(o.tid, true),
      uid: view.getUint32(o.uid, true),
      ret: view.getInt32(o.ret, true),
      boundDevIf: view.getInt32(o.boundDevIf, true),
      boundAddr: bytes.slice(o.boundAddr, o.boundAddr + 16),
      reqAddr: bytes.slice(o.reqAddr, o.reqAddr + 16),
      boundPort: view.getUint16(o.boundPort, true),
      reqPort: view.getUint16(o.reqPort, true),
      protocol: view.getUint16(o.protocol, true),
      family: view.getUint8(o.family),
      opts: view.getUint8(o.opts),
      reqFamily: view.getUint8(o.reqFamily),
      flags: view.getUint8(o.flags),
      comm: cString(bytes, o.comm, commLen),
      cgroupName: Buffer.from(cString(bytes, o.cgroupName, cgroupNameLen)).toString('utf8'),
      cgroupParentName: Buffer.from(cString(bytes, o.cgroupParentName, cgroupNameLen)).toString('utf8'),
    };
  };
}

let decodeOne: ((buf: Uint8Array, offset: number) => BindEvent) | undefined;

export interface DecodedBatch {
  events: BindEvent[];
  /** records that cannot be what the BPF program wrote (a trailing partial one, impossible values): counted, not delivered */
  rejected: number;
}

const AF_INET = 2;
const AF_INET6 = 10;

/**
 * What the BPF program guarantees of every record it submits: an IPv4 or IPv6
 * socket, and only the option and flag bits it defines. A record breaking
 * that did not come from this build's program (or was corrupted). Nothing the
 * binding process controls (its sockaddr, its comm) is judged here: a bind is
 * never dropped for what it asked.
 */
function plausible(e: BindEvent): boolean {
  return (e.family === AF_INET || e.family === AF_INET6) && (e.opts & ~0x1f) === 0 && (e.flags & ~0x07) === 0;
}

/** Decodes a batch of packed records (little-endian host, as the kernel wrote them). */
export function decodeBatch(buf: Uint8Array): DecodedBatch {
  const layout = recordLayout().event;
  decodeOne ??= eventDecoder(layout);
  const events: BindEvent[] = [];
  let rejected = buf.length % layout.size === 0 ? 0 : 1;
  for (let off = 0; off + layout.size <= buf.length; off += layout.size) {
    const e = decodeOne(buf, off);
    if (plausible(e)) events.push(e);
    else rejected++;
  }
  return { events, rejected };
}

/** Decodes Tracer.counts(): packed (struct count_key, u64 binds) pairs. */
export function decodeCounts(buf: Uint8Array): CountEntry[] {
  const key = recordLayout().countKey;
  const entrySize = key.size + 8;
  const addr = offsetOf(key, 'addr');
  const port = offsetOf(key, 'port');
  const family = offsetOf(key, 'family');
  const entries: CountEntry[] = [];
  for (let off = 0; off + entrySize <= buf.length; off += entrySize) {
    const view = new DataView(buf.buffer, buf.byteOffset + off, entrySize);
    entries.push({
      addr: buf.slice(off + addr, off + addr + 16),
      port: view.getUint16(port, true),
      family: view.getUint8(family),
      binds: view.getBigUint64(key.size, true),
    });
  }
  return entries;
}
