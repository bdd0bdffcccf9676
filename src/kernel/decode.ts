import { KNOWN_FLAGS, KNOWN_OPTS, type BindEvent } from '../model/event';
import { loadAddon, type StructLayout } from './native';

/**
 * Decodes the kernel's records by the layout of struct bind_event and struct
 * count_key as the BPF object's BTF describes them (bpf/bindsnoop.h is their
 * one declaration; the addon reads the BTF): adding a field means editing the
 * header and the code that uses the field, nowhere else.
 */
export interface RecordLayout {
  event: StructLayout;
  /** struct bind_event_args: the event, then the command line (when read) */
  eventArgs: StructLayout;
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

/** The bytes up to the first NUL, as a view (no copy: a record's consumers read it while the batch is alive). */
function cString(buf: Uint8Array, start: number, max: number): Uint8Array {
  let end = start;
  while (end < start + max && buf[end] !== 0) end++;
  return buf.subarray(start, end);
}

const utf8 = new TextDecoder();

/** One decoder per layout: the offsets looked up once, not per record. */
function eventDecoder(layout: StructLayout): (buf: Uint8Array, offset: number) => BindEvent {
  const at = (field: string) => offsetOf(layout, field);
  const o = {
    tsBootNs: at('ts_boot_ns'), cgroupId: at('cgroup_id'), mntnsId: at('mntns_id'), netnsId: at('netns_id'),
    pid: at('pid'), tid: at('tid'), ppid: at('ppid'), parentComm: at('parent_comm'), startBootNs: at('start_boot_ns'), uid: at('uid'), ret: at('ret'), boundDevIf: at('bound_dev_if'),
    boundAddr: at('bound_addr'), reqAddr: at('req_addr'), boundPort: at('bound_port'), reqPort: at('req_port'),
    protocol: at('protocol'), family: at('family'), opts: at('opts'), reqFamily: at('req_family'), flags: at('flags'),
    comm: at('comm'), cgroupName: at('cgroup_name'), cgroupParentName: at('cgroup_parent_name'),
    exeLen: at('exe_len'), exeNames: at('exe_names'),
  };
  const exeNamesLen = layout.fields.exe_names.size;
  const commLen = layout.fields.comm.size;
  const cgroupNameLen = layout.fields.cgroup_name.size;
  const size = layout.size;
  // one DataView per batch buffer, not per record
  let viewOf: Uint8Array | undefined;
  let view: DataView | undefined;
  return (buf, offset) => {
    if (viewOf !== buf || !view) {
      viewOf = buf;
      view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    const v = view;
    const at = offset;
    const bytes = buf.subarray(at, at + size);
    const cgroupName = bytes[o.cgroupName] === 0 ? '' : utf8.decode(cString(bytes, o.cgroupName, cgroupNameLen));
    const cgroupParentName = bytes[o.cgroupParentName] === 0 ? '' : utf8.decode(cString(bytes, o.cgroupParentName, cgroupNameLen));
    return {
      tsBootNs: v.getBigUint64(at + o.tsBootNs, true),
      cgroupId: v.getBigUint64(at + o.cgroupId, true),
      mntnsId: Number(v.getBigUint64(at + o.mntnsId, true)),
      netnsId: v.getUint32(at + o.netnsId, true),
      pid: v.getUint32(at + o.pid, true),
      tid: v.getUint32(at + o.tid, true),
      ppid: v.getUint32(at + o.ppid, true),
      parentComm: cString(bytes, o.parentComm, commLen),
      startBootNs: v.getBigUint64(at + o.startBootNs, true),
      uid: v.getUint32(at + o.uid, true),
      ret: v.getInt32(at + o.ret, true),
      boundDevIf: v.getInt32(at + o.boundDevIf, true),
      boundAddr: bytes.subarray(o.boundAddr, o.boundAddr + 16),
      reqAddr: bytes.subarray(o.reqAddr, o.reqAddr + 16),
      boundPort: v.getUint16(at + o.boundPort, true),
      reqPort: v.getUint16(at + o.reqPort, true),
      protocol: v.getUint16(at + o.protocol, true),
      family: v.getUint8(at + o.family),
      opts: v.getUint8(at + o.opts),
      reqFamily: v.getUint8(at + o.reqFamily),
      flags: v.getUint8(at + o.flags),
      comm: cString(bytes, o.comm, commLen),
      cgroupName,
      cgroupParentName,
      exeNames: bytes.subarray(o.exeNames, o.exeNames + Math.min(v.getUint16(at + o.exeLen, true), exeNamesLen)),
    };
  };
}

let decodeOne: ((buf: Uint8Array, offset: number) => BindEvent) | undefined;
let argsFields: { len: number; flags: number; args: number; room: number } | undefined;

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
  return (e.family === AF_INET || e.family === AF_INET6) && (e.opts & ~KNOWN_OPTS) === 0 && (e.flags & ~KNOWN_FLAGS) === 0;
}

/**
 * Decodes a batch of packed records (little-endian host, as the kernel wrote them):
 * struct bind_event, or with `withArgs` struct bind_event_args (the command line read too).
 */
export function decodeBatch(buf: Uint8Array, withArgs = false): DecodedBatch {
  const layouts = recordLayout();
  decodeOne ??= eventDecoder(layouts.event);
  const stride = withArgs ? layouts.eventArgs.size : layouts.event.size;
  const a = withArgs
    ? (argsFields ??= {
        len: offsetOf(layouts.eventArgs, 'args_len'),
        flags: offsetOf(layouts.eventArgs, 'args_flags'),
        args: offsetOf(layouts.eventArgs, 'args'),
        room: layouts.eventArgs.fields.args.size,
      })
    : undefined;
  const events: BindEvent[] = [];
  let rejected = buf.length % stride === 0 ? 0 : 1;
  for (let off = 0; off + stride <= buf.length; off += stride) {
    const e = decodeOne(buf, off);
    if (a) {
      const len = Math.min(buf[off + a.len] | (buf[off + a.len + 1] << 8), a.room);
      e.args = buf.subarray(off + a.args, off + a.args + len);
      e.argsFlags = buf[off + a.flags];
    }
    if (plausible(e)) events.push(e);
    else rejected++;
  }
  return { events, rejected };
}

/**
 * A batch's records counted, not decoded (nothing reads them: -q without export): those plausible() would deliver,
 * and those it would reject, from the same bytes.
 */
export function countBatch(buf: Uint8Array, withArgs = false): { records: number; rejected: number } {
  const layouts = recordLayout();
  const stride = withArgs ? layouts.eventArgs.size : layouts.event.size;
  const family = offsetOf(layouts.event, 'family');
  const opts = offsetOf(layouts.event, 'opts');
  const flags = offsetOf(layouts.event, 'flags');
  let records = 0;
  let rejected = buf.length % stride === 0 ? 0 : 1;
  for (let off = 0; off + stride <= buf.length; off += stride) {
    const f = buf[off + family];
    if ((f === AF_INET || f === AF_INET6) && (buf[off + opts] & ~KNOWN_OPTS) === 0 && (buf[off + flags] & ~KNOWN_FLAGS) === 0) records++;
    else rejected++;
  }
  return { records, rejected };
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
