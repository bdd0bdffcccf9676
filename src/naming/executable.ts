import type { BindEvent } from '../model/event';
import { FLAG_EXE_DELETED, FLAG_EXE_TRUNCATED } from '../model/event';

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
 * `encoding`: 'utf8' for records, 'latin1' for the table (its rows keep raw bytes). Pure.
 */
export function executableOf(e: BindEvent, encoding: 'utf8' | 'latin1' = 'utf8'): Executable | undefined {
  const raw = e.exeNames;
  if (raw.length === 0) return undefined;
  const names = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString(encoding).split('\0');
  // each name ends in a NUL: the last element is the empty string after it (or a cut-off name)
  names.pop();
  if (names.length === 0) return undefined;
  const name = names[0];
  names.reverse();
  let path = (e.flags & FLAG_EXE_TRUNCATED ? '' : '/') + names.join('/');
  if (e.flags & FLAG_EXE_DELETED) path += ' (deleted)';
  return { path, name };
}
