import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseContainerLogName, parsePodLogDirName } from './cgroup-names';

export interface PodNames {
  namespace: string;
  pod: string;
  uid: string;
  /** container names, from the pod's log subdirectories */
  containers: string[];
}

interface Entry extends PodNames {
  /** when the pod's log directory was last seen gone (kept for a grace period) */
  goneSinceMs?: number;
}

/**
 * Pod and container names from the kubelet's log trees, with no API access:
 * <podLogsDir>/<namespace>_<pod>_<uid>/<container>/ and the container-log links
 * <containerLogsDir>/<pod>_<namespace>_<container>-<id>.log (container id to name).
 * Rescanned on a miss (at most every minRescanMillis) and on refresh(); a pod
 * whose directory is gone is kept for graceMillis, so late events still resolve.
 */
export class PodLogIndex {
  private pods = new Map<string, Entry>();
  /** container id -> name, from the log links; a link gone is kept for the grace period too */
  private containers = new Map<string, { name: string; goneSinceMs?: number }>();
  private scannedAtMs = -Infinity;

  constructor(
    private readonly podLogsDir: string,
    private readonly containerLogsDir: string,
    private readonly graceMillis: number,
    private readonly minRescanMillis = 1000,
    private readonly now: () => number = Date.now,
    private readonly warn: (line: string) => void = () => undefined,
  ) {}

  /** the trees that could not be read, said once each: names then stay empty */
  private readonly warned = new Set<string>();

  private readTree(dir: string): string[] {
    try {
      const entries = readdirSync(dir);
      this.warned.delete(dir);
      return entries;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      // a node without pods yet may not have the tree: only a tree that is there and unreadable is worth a word
      if (code !== 'ENOENT' && !this.warned.has(dir)) {
        this.warned.add(dir);
        this.warn(`cannot read the kubelet's log tree ${dir} (${code}): pods and containers are not named from it`);
      }
      return [];
    }
  }

  refresh(): void {
    const now = this.now();
    this.scannedAtMs = now;
    const seen = new Set<string>();
    for (const dir of this.readTree(this.podLogsDir)) {
      const names = parsePodLogDirName(dir);
      if (!names) continue;
      const containers = safeReaddir(path.join(this.podLogsDir, dir)).filter((c) => isDir(path.join(this.podLogsDir, dir, c)));
      this.pods.set(names.uid, { ...names, containers });
      seen.add(names.uid);
    }
    for (const [uid, entry] of this.pods) {
      if (seen.has(uid)) continue;
      entry.goneSinceMs ??= now;
      if (now - entry.goneSinceMs > this.graceMillis) this.pods.delete(uid);
    }
    const linked = new Set<string>();
    for (const file of this.readTree(this.containerLogsDir)) {
      const c = parseContainerLogName(file);
      if (!c) continue;
      this.containers.set(c.containerId, { name: c.container });
      linked.add(c.containerId);
    }
    for (const [id, entry] of this.containers) {
      if (linked.has(id)) continue;
      entry.goneSinceMs ??= now;
      if (now - entry.goneSinceMs > this.graceMillis) this.containers.delete(id);
    }
  }

  private maybeRescan(): void {
    if (this.now() - this.scannedAtMs >= this.minRescanMillis) this.refresh();
  }

  pod(uid: string): PodNames | undefined {
    let entry = this.pods.get(uid);
    if (!entry) {
      this.maybeRescan();
      entry = this.pods.get(uid);
    }
    return entry;
  }

  /** The container's name: from its log link, or the pod's only container. */
  containerName(containerId: string, pod: PodNames | undefined): string | undefined {
    let name = this.containers.get(containerId)?.name;
    if (!name) {
      this.maybeRescan();
      name = this.containers.get(containerId)?.name;
    }
    if (!name && pod?.containers.length === 1) name = pod.containers[0];
    return name;
  }

  podCount(): number {
    return this.pods.size;
  }

  /** Container names known from the log links (the soak test checks they go too). */
  containerCount(): number {
    return this.containers.size;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
