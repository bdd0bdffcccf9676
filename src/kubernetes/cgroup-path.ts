import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** Directories looked at, at most, to place one cgroup (a node has a few thousand). */
export const MAX_CGROUP_DIRS_WALKED = 50_000;

/**
 * The path, from the cgroup v2 mount (as /proc/PID/cgroup writes it: "/a/b"),
 * of the cgroup whose id (its kernfs inode) is `id` and whose own name is
 * `leaf`: a breadth-first walk that stats only directories named `leaf`.
 * Undefined when it is gone or not found within `maxDirs` directories.
 */
export function findCgroupPath(mount: string, id: bigint, leaf: string, maxDirs = MAX_CGROUP_DIRS_WALKED): string | undefined {
  const queue = [mount];
  let walked = 0;
  for (let i = 0; i < queue.length && walked < maxDirs; i++, walked++) {
    let entries;
    try {
      entries = readdirSync(queue[i], { withFileTypes: true });
    } catch {
      continue; // gone meanwhile, or unreadable
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const dir = path.join(queue[i], entry.name);
      if (entry.name === leaf) {
        try {
          if (BigInt(statSync(dir).ino) === id) return '/' + path.relative(mount, dir);
        } catch {
          // gone meanwhile
        }
      }
      queue.push(dir);
    }
  }
  return undefined;
}
