import { isUtf8 } from 'node:buffer';
import type { BindEvent } from '../model/event';
import { ARGS_TITLE, ARGS_TRUNCATED, ARGS_UNREADABLE, FLAG_EXE_DELETED, FLAG_EXE_TRUNCATED } from '../model/event';

export interface Executable {
  /**
   * As /proc/PID/exe names it to the process: absolute from the process's root,
   * " (deleted)" appended when unlinked. Truncated: the last components the
   * record holds, without the leading "/" (the start is unknown).
   */
  path: string;
  /** the file's own name (no " (deleted)") */
  name: string;
  /**
   * When the process's root is not its mount namespace's root (a chroot): that
   * root as a path from the namespace's root ("/srv/jail"), or "" when it is
   * longer than the record holds. Undefined: not chrooted.
   */
  root?: string;
  /** some of the names' bytes are not UTF-8 (shown as U+FFFD in `path` and `name`) */
  invalidUtf8: boolean;
}

/**
 * The executable of a bind's process from the kernel's leaf-first names
 * ("python3\0bin\0usr\0"), or undefined when none was read (a kernel thread).
 * `encoding`: 'utf8' for records, 'latin1' for the table (its rows keep raw bytes).
 */
export function executableOf(e: BindEvent, encoding: 'utf8' | 'latin1' = 'utf8'): Executable | undefined {
  const raw = e.exeNames;
  if (raw.length === 0) return undefined;
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  // the binds of a flood come from a few executables: the last one's answer, when the bytes and flags are the same
  const last = lastOf[encoding];
  if (last && last.flags === e.flags && last.bytes.equals(bytes)) return last.exe;
  const exe = parseExecutable(bytes.toString(encoding), e.flags, !isUtf8(bytes));
  lastOf[encoding] = { bytes: Buffer.from(bytes), flags: e.flags, exe };
  return exe;
}

const lastOf: Record<'utf8' | 'latin1', { bytes: Buffer; flags: number; exe: Executable | undefined } | undefined> = { utf8: undefined, latin1: undefined };

/**
 * The names, leaf first and NUL-terminated, as a path; an empty name marks the
 * process's root when it is not its namespace's, the names after it that
 * root's own (bindsnoop.h). Pure.
 */
function parseExecutable(text: string, flags: number, invalidUtf8: boolean): Executable | undefined {
  const all = text.split('\0');
  // each name ends in a NUL: the last element is the empty string after it (or a cut-off name)
  all.pop();
  const mark = all.indexOf('');
  const names = mark === -1 ? all : all.slice(0, mark);
  if (names.length === 0) return undefined;
  const name = names[0];
  let path = (flags & FLAG_EXE_TRUNCATED ? '' : '/') + names.reverse().join('/');
  if (flags & FLAG_EXE_DELETED) path += ' (deleted)';
  if (mark === -1) return { path, name, invalidUtf8 };
  const rootNames = all.slice(mark + 1);
  return { path, name, root: rootNames.length ? `/${rootNames.reverse().join('/')}` : '', invalidUtf8 };
}

/**
 * The executable's path from its mount namespace's root: the path the process
 * sees, under its root when it is chrooted. Undefined when that cannot be had
 * (a chroot whose own path did not fit, a truncated path). Pure.
 */
export function namespacePathOf(exe: Executable, truncated: boolean): string | undefined {
  if (truncated || exe.root === '') return undefined;
  return exe.root === undefined ? exe.path : `${exe.root}${exe.path}`;
}

/**
 * The command line's arguments (the kernel's NUL-separated bytes, as
 * /proc/PID/cmdline), when it was read: `args` undefined when unreadable; the
 * last one cut short when truncated. Undefined when not read (off). Pure.
 */
export function commandArgsOf(e: BindEvent): { args?: string[]; truncated: boolean; invalidUtf8?: boolean } | undefined {
  if (e.args === undefined) return undefined;
  const flags = e.argsFlags ?? 0;
  let truncated = (flags & ARGS_TRUNCATED) !== 0;
  if (flags & ARGS_UNREADABLE) return { truncated };
  let bytes = Buffer.from(e.args.buffer, e.args.byteOffset, e.args.byteLength);
  if (flags & ARGS_TITLE) {
    // a process title (setproctitle): one string, to its first NUL, as /proc/PID/cmdline gives it; cut only when
    // no NUL was within what the record holds
    const nul = bytes.indexOf(0);
    if (nul !== -1) {
      bytes = bytes.subarray(0, nul);
      truncated = false;
    }
    return { args: [bytes.toString('utf8')], truncated, invalidUtf8: !isUtf8(bytes) };
  }
  const args = bytes.toString('utf8').split('\0');
  // a whole command line ends in a NUL: drop the empty string after it (a cut-off one keeps its part)
  if (!truncated && args[args.length - 1] === '') args.pop();
  return { args, truncated, invalidUtf8: !isUtf8(bytes) };
}
