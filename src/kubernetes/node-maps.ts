import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { commaList } from '../model/text';
import type { K8sMapName, NativeTracer } from '../kernel/native';
import { parseContainerCgroup, type ContainerRef } from './cgroup-names';
import { parseLabelSelector, type LabelSelector } from './label-selector';

export interface NodeContainer extends ContainerRef {
  cgroupId: bigint;
  dir: string;
}

/** Directories worth descending into on the way to kubelet container cgroups. */
function mayHoldContainers(name: string): boolean {
  return name.includes('kubepods') || name === 'burstable' || name === 'besteffort' || /^pod[0-9a-f-]{36}$/.test(name);
}

/**
 * The container cgroups found, and the directories to watch: those walked on
 * the way (a container made or removed below one) and the containers' own (a
 * container's first process changes its cgroup.events: its mount namespace can
 * be read).
 */
export interface ContainerScan {
  containers: NodeContainer[];
  walked: string[];
}

/**
 * The kubelet-shaped container cgroups under `root` (systemd or cgroupfs
 * driver), read asynchronously (the reads run off the event loop, which keeps
 * answering the probes however large the tree).
 */
export async function scanContainerCgroups(root: string, maxDepth = 6): Promise<ContainerScan> {
  const containers: NodeContainer[] = [];
  const walked: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: string[];
    try {
      entries = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return; // vanished meanwhile
    }
    walked.push(dir);
    for (const name of entries) {
      const child = path.join(dir, name);
      const ref = parseContainerCgroup(name, path.basename(dir));
      if (ref) {
        try {
          containers.push({ ...ref, cgroupId: BigInt((await stat(child)).ino), dir: child });
          walked.push(child);
        } catch {
          // removed between readdir and stat
        }
      } else if (depth < maxDepth && mayHoldContainers(name)) {
        await walk(child, depth + 1);
      }
    }
  };
  await walk(root, 0);
  return { containers, walked };
}

/** The mount namespace of one of the container's processes, if it has any. */
async function containerMntns(dir: string): Promise<bigint | undefined> {
  try {
    for (const line of (await readFile(path.join(dir, 'cgroup.procs'), 'utf8')).split('\n')) {
      const pid = Number.parseInt(line, 10);
      if (!pid) continue;
      try {
        return BigInt((await stat(`/proc/${pid}/ns/mnt`)).ino);
      } catch {
        // that process is gone: try the next
      }
    }
  } catch {
    // the cgroup is gone
  }
  return undefined;
}

export interface NodeMapsOptions {
  cgroupRoot: string;
  namespaces: string;
  excludeNamespaces: string;
  labelSelector: string;
}

/** What selection needs to know of a pod; undefined fields are not known (yet). */
export interface PodFacts {
  namespace?: string;
  labels?: Record<string, string>;
}

/**
 * Keeps the pinned maps equal to this node's containers: "cgroups" and "mntns"
 * list the selected ones (value: the pod's slot), "excluded" the ones whose
 * namespace is excluded (dropped in the kernel). A container whose namespace is
 * not known yet counts as selected. Slots are kept across agent restarts: a
 * pod's slot is taken back from the entries already in the pinned map.
 */
export class NodeMaps {
  private readonly slots = new Map<string, bigint>();
  private nextSlot = 1n;
  private readonly include: Set<string>;
  private readonly exclude: Set<string>;
  private readonly selector?: LabelSelector;
  private known = 0;
  private running?: Promise<void>;
  private stopped = false;
  /** mount namespaces seen in binds, by cgroup id: no /proc access (CAP_SYS_PTRACE) needed */
  private readonly learned = new Map<bigint, Set<bigint>>();
  /** a container's mount namespace, once read (it keeps it for its life) */
  private readonly mntnsOf = new Map<bigint, bigint>();
  /** the directories on the way to containers, watched (inotify): a container cgroup made or removed below one asks for a pass */
  private readonly watchers = new Map<string, FSWatcher>();
  /** a pass asked for while one ran: one more follows it */
  private again = false;
  private passes = 0;

  constructor(
    private readonly maps: Pick<NativeTracer, 'mapUpdate' | 'mapDelete' | 'mapEntries'>,
    private readonly facts: { factsOf(podUid: string): PodFacts },
    private readonly options: NodeMapsOptions,
    /** told when the container tree changes (inotify on the directories each pass walked); none: not watched */
    private readonly onChange?: () => void,
  ) {
    this.include = new Set(commaList(options.namespaces));
    this.exclude = new Set(commaList(options.excludeNamespaces));
    if (options.labelSelector) this.selector = parseLabelSelector(options.labelSelector);
  }

  /** Known to be left out by the selection; a pod not known yet is not. */
  excluded(podUid: string): boolean {
    const { namespace, labels } = this.facts.factsOf(podUid);
    if (namespace !== undefined) {
      if (this.exclude.has(namespace)) return true;
      if (this.include.size > 0 && !this.include.has(namespace)) return true;
    }
    return this.selector !== undefined && labels !== undefined && !this.selector(labels);
  }

  private slotFor(podUid: string): bigint {
    let slot = this.slots.get(podUid);
    if (slot === undefined) {
      slot = this.nextSlot++;
      this.slots.set(podUid, slot);
    }
    return slot;
  }

  private apply(name: K8sMapName, desired: Map<bigint, bigint>): void {
    const current = new Map(this.maps.mapEntries(name));
    for (const [key, value] of desired) if (current.get(key) !== value) this.maps.mapUpdate(name, key, value);
    for (const key of current.keys()) if (!desired.has(key)) this.maps.mapDelete(name, key);
  }

  /** One reconciliation pass; one asked for while a pass runs is made right after it. */
  async sync(): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.reconcile();
      } while (this.again && !this.stopped);
    })();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Passes made so far (each reads the whole container tree). */
  passCount(): number {
    return this.passes;
  }

  /** No pass after this; waits for the one under way, which writes nothing more. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.running;
  }

  /**
   * Watches the directories of the last pass (and no others): a change in one
   * calls `onChange`. A directory that cannot be watched (inotify's limit) is
   * left to the periodic pass.
   */
  private watchTree(walked: string[]): void {
    if (!this.onChange || this.stopped) return;
    const keep = new Set(walked);
    for (const [dir, w] of this.watchers) {
      if (!keep.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of walked) {
      if (this.watchers.has(dir)) continue;
      // what was made in a directory between the pass's read of it and its watch is seen by one more pass
      this.again = true;
      try {
        const w = watch(dir, { persistent: false }, () => this.onChange?.());
        // a directory removed ends its watch; the next pass forgets it
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch {
        // not watchable (gone, or inotify's limit): the periodic pass still sees it
      }
    }
  }

  /** Directories watched now. */
  watchedCount(): number {
    return this.watchers.size;
  }

  private async reconcile(): Promise<void> {
    this.passes++;
    const { containers, walked } = await scanContainerCgroups(this.options.cgroupRoot);
    this.watchTree(walked);
    // take back the slots a previous agent gave to pods still here
    const pinned = new Map(this.maps.mapEntries('cgroups'));
    for (const c of containers) {
      const slot = pinned.get(c.cgroupId);
      if (slot !== undefined && !this.slots.has(c.podUid)) {
        this.slots.set(c.podUid, slot);
        if (slot >= this.nextSlot) this.nextSlot = slot + 1n;
      }
    }
    const cgroups = new Map<bigint, bigint>();
    const mntns = new Map<bigint, bigint>();
    const excluded = new Map<bigint, bigint>();
    for (const c of containers) {
      const slot = this.slotFor(c.podUid);
      if (this.excluded(c.podUid)) {
        excluded.set(c.cgroupId, slot);
        continue;
      }
      cgroups.set(c.cgroupId, slot);
      let ns = this.mntnsOf.get(c.cgroupId);
      if (ns === undefined) {
        ns = await containerMntns(c.dir);
        if (ns !== undefined) this.mntnsOf.set(c.cgroupId, ns);
      }
      if (ns !== undefined) mntns.set(ns, slot);
      for (const seen of this.learned.get(c.cgroupId) ?? []) mntns.set(seen, slot);
    }
    const present = new Set(containers.map((c) => c.cgroupId));
    for (const cgroupId of this.learned.keys()) if (!present.has(cgroupId)) this.learned.delete(cgroupId);
    for (const cgroupId of this.mntnsOf.keys()) if (!present.has(cgroupId)) this.mntnsOf.delete(cgroupId);
    // a pod with no container cgroup left on the node gives its slot up
    const pods = new Set(containers.map((c) => c.podUid));
    for (const podUid of this.slots.keys()) if (!pods.has(podUid)) this.slots.delete(podUid);
    if (this.stopped) return; // the tracer may be closing: nothing is written once stop() was called
    this.apply('cgroups', cgroups);
    this.apply('mntns', mntns);
    this.apply('excluded', excluded);
    this.known = containers.length;
  }

  /**
   * A bind showed this container's mount namespace. Reading /proc/<pid>/ns/mnt
   * of another container's process needs ptrace access (proc_ns_get_link ->
   * ptrace_may_access), which the DaemonSet does not grant; the kernel record
   * carries it anyway.
   */
  learn(cgroupId: bigint, mntnsId: number): void {
    let set = this.learned.get(cgroupId);
    if (!set) this.learned.set(cgroupId, (set = new Set()));
    set.add(BigInt(mntnsId));
  }

  containerCount(): number {
    return this.known;
  }

  /** Pods holding a slot now. */
  slotCount(): number {
    return this.slots.size;
  }
}

/** The cgroup v2 mount point, from /proc/self/mountinfo. */
export function findCgroup2Mount(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre.split(' ')[4];
  }
  return undefined;
}
