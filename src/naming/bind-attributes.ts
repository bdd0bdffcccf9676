import { isUtf8 } from 'node:buffer';
import type { Attributes } from '../model/attributes';
import type { BindEvent } from '../model/event';
import {
  FLAG_EXE_ANONYMOUS,
  FLAG_EXE_DELETED,
  FLAG_EXE_TRUNCATED,
  FLAG_EXE_UNREACHABLE,
  FLAG_KERNEL_SOCKET,
  FLAG_KERNEL_THREAD,
  FLAG_RAW_SOCKET,
  KNOWN_OPTS,
  OPT_BIND_ADDRESS_NO_PORT,
  OPT_FREEBIND,
  OPT_REUSEADDR,
  OPT_REUSEPORT,
  OPT_TRANSPARENT,
} from '../model/event';
import { commandArgsOf, executableOf } from './executable';
import { AF_INET6, formatAddress } from './net/address';
import { errnoName } from './net/errno';
import { transportName } from './net/protocols';
import { rfc3339Nanos } from './time';

/** bcc's five OPTS letters, "FTNRr", each "." when unset. */
export function optsString(opts: number): string {
  return OPTS_STRINGS[opts & KNOWN_OPTS];
}

const OPTS_STRINGS = Array.from({ length: KNOWN_OPTS + 1 }, (_, opts) => {
  const letters = 'FTNRr';
  let out = '';
  for (let i = 0; i < letters.length; i++) out += opts & (1 << i) ? letters[i] : '.';
  return out;
});

export function commText(e: BindEvent): string {
  return commName(e.comm);
}

/** The attributes whose bytes were not UTF-8, or undefined (most binds: nothing to add). */
function invalidUtf8Names(e: BindEvent, exe: boolean, args: boolean): string[] | undefined {
  const out: string[] = [];
  if (!isUtf8(e.comm)) out.push('thread.name');
  if (!isUtf8(e.parentComm)) out.push('bindsnoop.parent.comm');
  if (exe) out.push('process.executable.path');
  if (args) out.push('process.command_args');
  return out.length ? out : undefined;
}

function commName(comm: Uint8Array): string {
  // a view, not a copy: the comm is decoded once per bind
  return Buffer.from(comm.buffer, comm.byteOffset, comm.byteLength).toString('utf8');
}

/** Family of the requested address: the sockaddr's when it is IPv4 or IPv6, else the socket's. */
export function requestedFamily(e: BindEvent): number {
  return e.reqFamily === AF_INET6 || e.reqFamily === 2 ? e.reqFamily : e.family;
}

export function requestedAddress(e: BindEvent): string {
  return formatAddress(requestedFamily(e), e.reqAddr);
}

/** The address a user reads: what was bound, or for a failed bind what was asked for. */
export function shownAddress(e: BindEvent): string {
  return e.ret === 0 ? formatAddress(e.family, e.boundAddr) : requestedAddress(e);
}

export function shownPort(e: BindEvent): number {
  return e.ret === 0 ? e.boundPort : e.reqPort;
}


/** Safe JS number for a u64 id (ids beyond 2^53 would lose precision; kernel ids stay far below). */
function idNumber(v: bigint): number {
  return Number(v);
}

/**
 * The log attributes of docs/CONTRACT.md, section 2, in one place for the JSON output
 * and the OTLP record. `interfaceName` when SO_BINDTODEVICE's index resolves;
 * `startWallNs`: the process's start on the wall clock.
 */
export function bindAttributes(e: BindEvent, interfaceName?: string, startWallNs?: bigint): Attributes {
  const a: Attributes = {
    'process.pid': e.pid,
    'thread.id': e.tid,
    'thread.name': commText(e),
    'process.real_user.id': e.uid,
    'process.parent_pid': e.ppid,
    'bindsnoop.parent.comm': commName(e.parentComm),
  };
  const exe = executableOf(e);
  if (exe) {
    a['process.executable.path'] = exe.path;
    a['process.executable.name'] = exe.name;
    // the unusual only, when so (most binds have none: four attributes fewer to name, encode and store)
    if (e.flags & FLAG_EXE_DELETED) a['bindsnoop.process.executable.deleted'] = true;
    if (e.flags & FLAG_EXE_ANONYMOUS) a['bindsnoop.process.executable.anonymous'] = true;
    if (e.flags & FLAG_EXE_UNREACHABLE) a['bindsnoop.process.executable.unreachable'] = true;
    if (e.flags & FLAG_EXE_TRUNCATED) a['bindsnoop.process.executable.truncated'] = true;
    // a chrooted process: its root, from its mount namespace's root (absent when longer than the record holds)
    if (exe.root !== undefined) {
      a['bindsnoop.process.chrooted'] = true;
      if (exe.root) a['bindsnoop.process.root'] = exe.root;
    }
  }
  const command = commandArgsOf(e);
  if (command) {
    if (command.args) a['process.command_args'] = command.args;
    else a['bindsnoop.process.command_args.unreadable'] = true;
    a['bindsnoop.process.command_args.truncated'] = command.truncated;
  }
  // names whose bytes are not UTF-8 are shown with U+FFFD: which ones, so two such names are not taken for one
  const invalid = invalidUtf8Names(e, exe?.invalidUtf8 === true, command?.invalidUtf8 === true);
  if (invalid) a['bindsnoop.invalid_utf8'] = invalid;
  a['network.transport'] = transportName(e.protocol);
  a['network.type'] = e.family === AF_INET6 ? 'ipv6' : 'ipv4';
  // a failed bind bound nothing: the request is in bindsnoop.requested.*
  if (e.ret === 0) {
    a['network.local.address'] = formatAddress(e.family, e.boundAddr);
    // a raw socket's "port" is its protocol number: no port (bcc's table still shows it in PORT)
    if (!(e.flags & FLAG_RAW_SOCKET)) a['network.local.port'] = e.boundPort;
  }
  if (interfaceName) a['network.interface.name'] = interfaceName;
  if (e.ret !== 0) a['error.type'] = errnoName(e.ret);
  a['bindsnoop.return_code'] = e.ret;
  a['bindsnoop.requested.address'] = requestedAddress(e);
  a['bindsnoop.requested.port'] = e.reqPort;
  a['bindsnoop.opts'] = optsString(e.opts);
  a['bindsnoop.opt.freebind'] = (e.opts & OPT_FREEBIND) !== 0;
  a['bindsnoop.opt.transparent'] = (e.opts & OPT_TRANSPARENT) !== 0;
  a['bindsnoop.opt.bind_address_no_port'] = (e.opts & OPT_BIND_ADDRESS_NO_PORT) !== 0;
  a['bindsnoop.opt.reuseaddr'] = (e.opts & OPT_REUSEADDR) !== 0;
  a['bindsnoop.opt.reuseport'] = (e.opts & OPT_REUSEPORT) !== 0;
  a['bindsnoop.bound_dev_if'] = e.boundDevIf;
  a['bindsnoop.kernel_socket'] = (e.flags & FLAG_KERNEL_SOCKET) !== 0;
  a['bindsnoop.kernel_thread'] = (e.flags & FLAG_KERNEL_THREAD) !== 0;
  a['bindsnoop.raw_socket'] = (e.flags & FLAG_RAW_SOCKET) !== 0;
  a['bindsnoop.cgroup.id'] = idNumber(e.cgroupId);
  a['bindsnoop.mntns.id'] = e.mntnsId;
  a['bindsnoop.netns.id'] = e.netnsId;
  // 0: the kernel gave no start time (unreadable)
  if (startWallNs !== undefined && e.startBootNs > 0n) a['process.creation.time'] = creationTime(startWallNs);
  return a;
}

/** the last process start named: the binds of a flood come from a few processes */
let lastStart: { ns: bigint; text: string } | undefined;

function creationTime(ns: bigint): string {
  if (lastStart?.ns !== ns) lastStart = { ns, text: rfc3339Nanos(ns) };
  return lastStart.text;
}
