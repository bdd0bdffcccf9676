import type { BindEvent } from '../model/event';
import { ARGS_TRUNCATED, ARGS_UNREADABLE, FLAG_EXE_DELETED, FLAG_EXE_TRUNCATED } from '../model/event';

export interface Executable {
  /**
   * As /proc/PID/exe names it to the process: absolute from the process's root,
   * " (deleted)" appended when unlinked. Truncated: the last components the
   * record holds, without the leading "/" (the start is unknown).
   */
  path: string;
  /** the file's own name (no " (deleted)") */
  name: string;
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
  const exe = parseExecutable(bytes.toString(encoding), e.flags);
  lastOf[encoding] = { bytes: Buffer.from(bytes), flags: e.flags, exe };
  return exe;
}

const lastOf: Record<'utf8' | 'latin1', { bytes: Buffer; flags: number; exe: Executable | undefined } | undefined> = { utf8: undefined, latin1: undefined };

/** The names, leaf first and NUL-terminated, as a path. Pure. */
function parseExecutable(text: string, flags: number): Executable | undefined {
  const names = text.split('\0');
  // each name ends in a NUL: the last element is the empty string after it (or a cut-off name)
  names.pop();
  if (names.length === 0) return undefined;
  const name = names[0];
  names.reverse();
  let path = (flags & FLAG_EXE_TRUNCATED ? '' : '/') + names.join('/');
  if (flags & FLAG_EXE_DELETED) path += ' (deleted)';
  return { path, name };
}

/**
 * The command line's arguments (the kernel's NUL-separated bytes, as
 * /proc/PID/cmdline), when it was read: `args` undefined when unreadable; the
 * last one cut short when truncated. Undefined when not read (off). Pure.
 */
export function commandArgsOf(e: BindEvent): { args?: string[]; truncated: boolean } | undefined {
  if (e.args === undefined) return undefined;
  const flags = e.argsFlags ?? 0;
  const truncated = (flags & ARGS_TRUNCATED) !== 0;
  if (flags & ARGS_UNREADABLE) return { truncated };
  const args = Buffer.from(e.args.buffer, e.args.byteOffset, e.args.byteLength).toString('utf8').split('\0');
  // a whole command line ends in a NUL: drop the empty string after it (a cut-off one keeps its part)
  if (!truncated && args[args.length - 1] === '') args.pop();
  return { args, truncated };
}
