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
import { BIND_ATTRIBUTE_KEYS as K } from './bind-attribute-keys';

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
  if (!isUtf8(e.comm)) out.push(K.threadName);
  if (!isUtf8(e.parentComm)) out.push(K.parentComm);
  if (exe) out.push(K.exePath);
  if (args) out.push(K.commandArgs);
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
    [K.pid]: e.pid,
    [K.tid]: e.tid,
    [K.threadName]: commText(e),
    [K.uid]: e.uid,
    [K.parentPid]: e.ppid,
    [K.parentComm]: commName(e.parentComm),
  };
  const exe = executableOf(e);
  if (exe) {
    a[K.exePath] = exe.path;
    a[K.exeName] = exe.name;
    // the unusual only, when so (most binds have none: four attributes fewer to name, encode and store)
    if (e.flags & FLAG_EXE_DELETED) a[K.exeDeleted] = true;
    if (e.flags & FLAG_EXE_ANONYMOUS) a[K.exeAnonymous] = true;
    if (e.flags & FLAG_EXE_UNREACHABLE) a[K.exeUnreachable] = true;
    if (e.flags & FLAG_EXE_TRUNCATED) a[K.exeTruncated] = true;
    // a chrooted process: its root, from its mount namespace's root (absent when longer than the record holds)
    if (exe.root !== undefined) {
      a[K.chrooted] = true;
      if (exe.root) a[K.root] = exe.root;
    }
  }
  const command = commandArgsOf(e);
  if (command) {
    if (command.args) a[K.commandArgs] = command.args;
    else a[K.commandArgsUnreadable] = true;
    a[K.commandArgsTruncated] = command.truncated;
  }
  // names whose bytes are not UTF-8 are shown with U+FFFD: which ones, so two such names are not taken for one
  const invalid = invalidUtf8Names(e, exe?.invalidUtf8 === true, command?.invalidUtf8 === true);
  if (invalid) a[K.invalidUtf8] = invalid;
  a[K.transport] = transportName(e.protocol);
  a[K.networkType] = e.family === AF_INET6 ? 'ipv6' : 'ipv4';
  // a failed bind bound nothing: the request is in bindsnoop.requested.*
  if (e.ret === 0) {
    a[K.localAddress] = formatAddress(e.family, e.boundAddr);
    // a raw socket's "port" is its protocol number: no port (bcc's table still shows it in PORT)
    if (!(e.flags & FLAG_RAW_SOCKET)) a[K.localPort] = e.boundPort;
  }
  if (interfaceName) a[K.interfaceName] = interfaceName;
  if (e.ret !== 0) a[K.errorType] = errnoName(e.ret);
  a[K.returnCode] = e.ret;
  a[K.requestedAddress] = requestedAddress(e);
  a[K.requestedPort] = e.reqPort;
  a[K.opts] = optsString(e.opts);
  a[K.optFreebind] = (e.opts & OPT_FREEBIND) !== 0;
  a[K.optTransparent] = (e.opts & OPT_TRANSPARENT) !== 0;
  a[K.optBindAddressNoPort] = (e.opts & OPT_BIND_ADDRESS_NO_PORT) !== 0;
  a[K.optReuseaddr] = (e.opts & OPT_REUSEADDR) !== 0;
  a[K.optReuseport] = (e.opts & OPT_REUSEPORT) !== 0;
  a[K.boundDevIf] = e.boundDevIf;
  a[K.kernelSocket] = (e.flags & FLAG_KERNEL_SOCKET) !== 0;
  a[K.kernelThread] = (e.flags & FLAG_KERNEL_THREAD) !== 0;
  a[K.rawSocket] = (e.flags & FLAG_RAW_SOCKET) !== 0;
  a[K.cgroupId] = idNumber(e.cgroupId);
  a[K.mntnsId] = e.mntnsId;
  a[K.netnsId] = e.netnsId;
  // 0: the kernel gave no start time (unreadable)
  if (startWallNs !== undefined && e.startBootNs > 0n) a[K.creationTime] = creationTime(startWallNs);
  return a;
}

/** the last process start named: the binds of a flood come from a few processes */
let lastStart: { ns: bigint; text: string } | undefined;

function creationTime(ns: bigint): string {
  if (lastStart?.ns !== ns) lastStart = { ns, text: rfc3339Nanos(ns) };
  return lastStart.text;
}
