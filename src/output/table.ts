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
 * does (microseconds since the first event printed). Rows are text for a
 * terminal, written as UTF-8: a name's valid UTF-8 is shown as it is, whatever
 * is not printable escaped (see terminalText).
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
    const comm = fitColumn(terminalText(e.comm), COMM_COLUMN);
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
      const path = executableOf(e, 'latin1')?.path;
      const exe = path === undefined ? '' : terminalText(Buffer.from(path, 'latin1')).join('');
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

/** COMM's width in bcc's format (%-12.12s). */
const COMM_COLUMN = 12;

/** A byte as the table escapes it. */
const escaped = (b: number): string => `\\x${b.toString(16).padStart(2, '0')}`;

/**
 * A name's bytes as terminal text, in pieces that are never cut: each valid
 * UTF-8 character as itself, unless it is a control (C0, DEL, C1: each of its
 * bytes as \xNN, so no name can move the cursor, forge a row or send an
 * escape sequence); each byte of invalid UTF-8 as \xNN (bcc decodes comm as
 * UTF-8 and would replace it; the bytes say more). Pure.
 */
export function terminalText(bytes: Uint8Array): string[] {
  const out: string[] = [];
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < text.length; ) {
    const n = utf8Length(text, i);
    if (n === 0) {
      out.push(escaped(text[i]));
      i++;
      continue;
    }
    const ch = text.toString('utf8', i, i + n);
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) for (let k = i; k < i + n; k++) out.push(escaped(text[k]));
    else out.push(ch);
    i += n;
  }
  return out;
}

/** The length of the valid UTF-8 sequence at `i` (no overlong forms, no surrogates, at most U+10FFFF), or 0. */
function utf8Length(b: Buffer, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const [lo, hi] = c === 0xe0 ? [0xa0, 0xbf] : c === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const [lo, hi] = c === 0xf0 ? [0x90, 0xbf] : c === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/**
 * The pieces that fit in `width` (as JavaScript counts a string's length, so
 * the format's own precision never cuts further), whole: a character or an
 * escape that does not fit is left out, never cut in half. Pure.
 */
export function fitColumn(pieces: readonly string[], width: number): string {
  let out = '';
  for (const p of pieces) {
    if (out.length + p.length > width) break;
    out += p;
  }
  return out;
}

/** A table's text as the bytes a terminal gets. */
export function terminalBytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
