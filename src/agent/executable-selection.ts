import type { BindEvent } from '../model/event';
import { FLAG_EXE_TRUNCATED } from '../model/event';
import { executableOf, namespacePathOf } from '../naming/executable';

/**
 * Whether a bind's executable passes filter.executables and
 * filter.excludeExecutables (string prefixes of the executable's path from its
 * mount namespace's root: for a chrooted process, under its root, so that a
 * jail's /usr/sbin/nginx is judged as /srv/jail/usr/sbin/nginx). A path whose
 * start is unknown (truncated, or a chroot whose own path did not fit) cannot
 * be judged and is kept; a bind with no executable (a kernel thread) passes
 * only when no inclusion is set. Pure.
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
      const exe = executableOf(e);
      const truncated = (e.flags & FLAG_EXE_TRUNCATED) !== 0;
      const path = exe && namespacePathOf(exe, truncated);
      if (executableSelected(path ?? exe?.path, truncated || (exe !== undefined && path === undefined), this.include, this.exclude)) out.push(e);
      else this.dropped++;
    }
    return out;
  }
}
