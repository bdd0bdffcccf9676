import type { BindEvent } from '../model/event';
import { FLAG_EXE_TRUNCATED } from '../model/event';
import { executableOf } from '../naming/executable';

/**
 * Whether a bind's executable passes filter.executables and
 * filter.excludeExecutables (string prefixes of process.executable.path). A
 * path whose start is unknown (truncated) cannot be judged and is kept; a bind
 * with no executable (a kernel thread) passes only when no inclusion is set.
 * Pure.
 */
export function executableSelected(path: string | undefined, truncated: boolean, include: readonly string[], exclude: readonly string[]): boolean {
  if (truncated) return true;
  if (include.length > 0 && !(path !== undefined && include.some((p) => path.startsWith(p)))) return false;
  return !(path !== undefined && exclude.some((p) => path.startsWith(p)));
}

/**
 * The executable selection, in user space (the kernel holds the path leaf
 * first, where a prefix cannot be matched cheaply): binds it drops are counted
 * and, like the Kubernetes selection's, not counted as seen.
 */
export class ExecutableSelection {
  /** binds dropped so far */
  dropped = 0;

  private constructor(private readonly include: readonly string[], private readonly exclude: readonly string[]) {}

  /** The selection of the configuration, or undefined when it selects everything. */
  static of(filter: { executables: readonly string[]; excludeExecutables: readonly string[] }): ExecutableSelection | undefined {
    if (filter.executables.length === 0 && filter.excludeExecutables.length === 0) return undefined;
    return new ExecutableSelection(filter.executables, filter.excludeExecutables);
  }

  select(batch: readonly BindEvent[]): BindEvent[] {
    const out: BindEvent[] = [];
    for (const e of batch) {
      if (executableSelected(executableOf(e)?.path, (e.flags & FLAG_EXE_TRUNCATED) !== 0, this.include, this.exclude)) out.push(e);
      else this.dropped++;
    }
    return out;
  }
}
