import { sprintf } from 'sprintf-js';
import type { BindEvent } from '../model/event';
import { errnoName } from '../naming/net/errno';
import { protocolName } from '../naming/net/protocols';
import type { PodIdentity } from '../model/attributes';
import { optsString, shownAddress, shownPort } from '../naming/bind-attributes';
import { executableOf } from '../naming/executable';

/** bcc's bindsnoop.py format strings, verbatim. */
export const FORMATS = {
  header: '%8s %-12.12s %-4s %-15s %-5s %5s %2s',
  row: '%8d %-12.12s %-4.4s %-15.15s %5d %-5s %2d',
  wideHeader: '%10s %-12.12s %-4s %-39s %-5s %5s %2s',
  wideRow: '%10d %-12.12s %-4s %-39s %5d %-5s %2d',
  timeHeader: '%-9s ',
  timeValue: '%-9.6f ',
  uidHeader: '%6s ',
  uidValue: '%6d ',
  rc: '%3s ',
  wideRc: '%-25s ',
  /** --exe: after IF; EXE is padded only when -K's columns follow it */
  exe: ' %7s %s',
  exeThenKubernetes: ' %7s %-32s',
  /** -K: appended after IF (and --exe's columns) */
  kubernetes: ' %-16.16s %-32.32s %s',
} as const;

export const TRACING_LINE = 'Tracing binds ... Hit Ctrl-C to end';

export interface TableOptions {
  timestamp: boolean;
  wide: boolean;
  errors: boolean;
  printUid: boolean;
  /** NAMESPACE POD CONTAINER columns (-K) */
  kubernetes?: boolean;
  /** PPID and EXE columns (--exe; not in bcc) */
  exe?: boolean;
}

export function tableHeader(o: TableOptions): string {
  let line = '';
  if (o.timestamp) line += sprintf(FORMATS.timeHeader, 'TIME(s)');
  if (o.printUid) line += sprintf(FORMATS.uidHeader, 'UID');
  if (o.errors) line += sprintf(o.wide ? FORMATS.wideRc : FORMATS.rc, 'RC');
  line += sprintf(o.wide ? FORMATS.wideHeader : FORMATS.header, 'PID', 'COMM', 'PROT', 'ADDR', 'PORT', 'OPTS', 'IF');
  if (o.exe) line += sprintf(o.kubernetes ? FORMATS.exeThenKubernetes : FORMATS.exe, 'PPID', 'EXE');
  if (o.kubernetes) line += sprintf(FORMATS.kubernetes, 'NAMESPACE', 'POD', 'CONTAINER');
  return line;
}

/** RC as bcc shows it: the number, or with -w the errno name (bcc printed strerror of a negative number). */
export function returnCodeText(ret: number, wide: boolean): string {
  if (!wide) return String(ret);
  return ret === 0 ? 'Success' : errnoName(ret);
}

/**
 * Formats rows; remembers the first event's time for the TIME(s) column as bcc
 * does (microseconds since the first event printed). Strings are latin1 so a
 * comm's raw bytes come out byte for byte (see latin1Bytes).
 */
export class TableFormatter {
  private startUs: bigint | undefined;

  constructor(private readonly o: TableOptions) {}

  header(): string {
    return tableHeader(this.o);
  }

  /** `pod` with -K: the pod the bind came from (host processes: none, empty columns). */
  row(e: BindEvent, pod?: PodIdentity): string {
    const o = this.o;
    let line = '';
    if (o.timestamp) {
      const us = e.tsBootNs / 1000n;
      if (this.startUs === undefined) this.startUs = us;
      line += sprintf(FORMATS.timeValue, Number(us - this.startUs) / 1_000_000);
    }
    if (o.printUid) line += sprintf(FORMATS.uidValue, e.uid);
    if (o.errors) line += sprintf(o.wide ? FORMATS.wideRc : FORMATS.rc, returnCodeText(e.ret, o.wide));
    const comm = escapeControls(Buffer.from(e.comm).toString('latin1'));
    line += sprintf(
      o.wide ? FORMATS.wideRow : FORMATS.row,
      e.pid,
      comm,
      protocolName(e.protocol),
      shownAddress(e),
      shownPort(e),
      optsString(e.opts),
      e.boundDevIf,
    );
    if (o.exe) {
      // a kernel thread has no executable: an empty column
      const exe = escapeControls(executableOf(e, 'latin1')?.path ?? '');
      line += sprintf(o.kubernetes ? FORMATS.exeThenKubernetes : FORMATS.exe, String(e.ppid), exe);
      if (!o.kubernetes) line = line.trimEnd();
    }
    if (o.kubernetes) {
      line += sprintf(FORMATS.kubernetes, escapeControls(pod?.namespace ?? ''), escapeControls(pod?.pod ?? ''), escapeControls(pod?.container ?? '')).trimEnd();
    }
    return line;
  }
}

/**
 * Control characters (C0, DEL, C1) as \xNN, so that no process (its comm) or pod
 * name can move the operator's cursor, forge a row or send an escape sequence to
 * the terminal; bcc prints them raw. Pure.
 */
export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Lines built from latin1 strings back to the exact bytes. */
export function latin1Bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}
