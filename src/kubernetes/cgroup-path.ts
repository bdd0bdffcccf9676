import { readFileSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Directories looked at, at most, to place one cgroup (a node has a few thousand). */
export const MAX_CGROUP_DIRS_WALKED = 50_000;
/** Directories a walk reads between pauses, and the pause: at most 10,000 directories a second, off the event loop. */
const DIRS_PER_SLICE = 500;
const SLICE_PAUSE_MILLIS = 50;
/** Cgroups whose path is remembered at most (the oldest goes first). */
const MAX_REMEMBERED = 1024;
/** Lookups waiting at most; past it a cgroup is reported as not looked up. */
const MAX_PENDING = 64;

/**
 * The paths, from the cgroup v2 mount (as /proc/PID/cgroup writes them: "/a/b"),
 * of the cgroups wanted, each by its id (its kernfs inode) and its own name:
 * one breadth-first walk for all of them that stats only directories of a
 * wanted name, its reads asynchronous and paced (DIRS_PER_SLICE, then a pause),
 * so that a tree of any size never blocks the thread that answers the probes.
 * It ends when every one is found or after `maxDirs` directories; those gone
 * or not found are absent from the answer.
 */
export async function findCgroupPaths(mount: string, wanted: ReadonlyMap<bigint, string>, maxDirs = MAX_CGROUP_DIRS_WALKED): Promise<Map<bigint, string>> {
  const found = new Map<bigint, string>();
  const leaves = new Set(wanted.values());
  const queue = [mount];
  let walked = 0;
  for (let i = 0; i < queue.length && walked < maxDirs && found.size < wanted.size; i++, walked++) {
    if (walked > 0 && walked % DIRS_PER_SLICE === 0) await sleep(SLICE_PAUSE_MILLIS);
    let entries;
    try {
      entries = await readdir(queue[i], { withFileTypes: true });
    } catch {
      continue; // gone meanwhile, or unreadable
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const dir = path.join(queue[i], entry.name);
      if (leaves.has(entry.name)) {
        try {
          const id = BigInt((await stat(dir)).ino);
          if (wanted.get(id) === entry.name) found.set(id, '/' + path.relative(mount, dir));
        } catch {
          // gone meanwhile
        }
      }
      queue.push(dir);
    }
  }
  return found;
}

/**
 * Where look-alike cgroups really are (a bind from a cgroup named like a pod's
 * container but not attributed to one): first from the binding process's
 * /proc/PID/cgroup, checked against the cgroup's id (two reads); when the
 * process is gone, by a paced walk of the tree (one walk under way at a
 * time, for every cgroup waiting; at most MAX_PENDING waiting). Found and not-found answers are remembered (bounded),
 * so each cgroup costs one lookup however often it binds.
 */
export class CgroupPaths {
  private readonly known = new Map<bigint, string>();
  private readonly queue: { id: bigint; leaf: string }[] = [];
  private readonly pending = new Set<bigint>();
  private walking = false;
  private stopped = false;

  constructor(
    /** the cgroup v2 mount, where paths start */
    private readonly mount: () => string | undefined,
    private readonly proc = '/proc',
  ) {}

  /** The path if known now (or what is known: not found, not looked up); undefined while a walk is looking. */
  lookup(id: bigint, leaf: string, pid: number): string | undefined {
    const found = this.known.get(id);
    if (found !== undefined) return found;
    if (this.pending.has(id)) return undefined;
    const mount = this.mount();
    if (!mount) return this.remember(id, `(cgroup id ${id}, no cgroup v2 mount)`);
    const fromProc = this.fromProc(mount, id, pid);
    if (fromProc) return this.remember(id, fromProc);
    if (this.pending.size >= MAX_PENDING) return `(cgroup id ${id}, not looked up: too many lookups at once)`;
    this.pending.add(id);
    this.queue.push({ id, leaf });
    if (!this.walking) void this.walk(mount);
    return undefined;
  }

  /** "0::/a/b" of the process, when it still runs, is in that cgroup, and the path is below this mount's root. */
  private fromProc(mount: string, id: bigint, pid: number): string | undefined {
    try {
      const line = readFileSync(`${this.proc}/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::'));
      const p = line?.slice(3);
      // "/.." when the agent runs in a cgroup namespace of its own and the process is outside it: walk instead
      if (!p || p.startsWith('/..')) return undefined;
      return BigInt(statSync(path.join(mount, p)).ino) === id ? p : undefined;
    } catch {
      return undefined; // the process has exited, or moved
    }
  }

  /** Walks for what is waiting, one walk for all of it, until nothing waits. */
  private async walk(mount: string): Promise<void> {
    this.walking = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const wanted = new Map(this.queue.splice(0).map((w) => [w.id, w.leaf]));
        const found = await findCgroupPaths(mount, wanted);
        for (const id of wanted.keys()) {
          this.remember(id, found.get(id) ?? `(cgroup id ${id}, not found)`);
          this.pending.delete(id);
        }
      }
    } finally {
      this.walking = false;
    }
  }

  private remember(id: bigint, found: string): string {
    if (this.known.size >= MAX_REMEMBERED) this.known.delete(this.known.keys().next().value as bigint);
    this.known.set(id, found);
    return found;
  }

  /** Walks waiting or under way. */
  pendingCount(): number {
    return this.pending.size;
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }
}
