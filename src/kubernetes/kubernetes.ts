import { statSync } from 'node:fs';
import * as path from 'node:path';
import { FLAG_KUBELET_CGROUP, type BindEvent } from '../model/event';
import { commaList } from '../model/text';
import type { RoutedBind } from '../model/named-bind';
import type { NativeTracer } from '../kernel/native';
import { CgroupPaths } from './cgroup-path';
import { findCgroup2Mount, NodeMaps } from './node-maps';
import { preparePinDir, PinDirInUse, PinDirUnusable } from '../kernel/pin-dir';
import { BindHold, type HoldCounts } from './hold';
import { PodLogIndex } from './pod-logs';
import { ApiAccessError, loadApiAccess, type ApiAccess } from './api-access';
import { DaemonSetWatch, parseDaemonSetRef } from './owner-watch';
import { PodWatch, type PodWatchCounts } from './pod-watch';
import { PodResolver } from './resolver';
import { parseLabelSelector } from './label-selector';

/** the maps the kernel program pins under pinDir */
const PINNED_MAPS = ['cgroups', 'mntns', 'excluded'];

export interface KubernetesSettings {
  nodeName: string;
  podLogsDir: string;
  containerLogsDir: string;
  deletedPodGraceMillis: number;
  podRescanIntervalMillis: number;
  pinDir: string;
  /** NAMESPACE/NAME of the DaemonSet the agent runs in, watched to know whether a next agent will come ("" = none) */
  daemonSet: string;
  cgroupRoot: string;
  namespaces: string;
  excludeNamespaces: string;
  labelSelector: string;
  mapSyncIntervalMillis: number;
  labels: string;
  api: {
    enabled: 'auto' | 'true' | 'false';
    kubeconfig: string;
    restartDelayMillis: number;
    watchIdleMillis: number;
    listTimeoutMillis: number;
    maxPods: number;
    maxListBytes: number;
    holdMillis: number;
    holdMaxRecords: number;
  };
}

/** Why the stage cannot start; the front end words it for the user. */
export class KubernetesSetupError extends Error {
  constructor(
    readonly setting: 'nodeName' | 'pinDir' | 'daemonSet' | 'api.kubeconfig' | 'api.enabled',
    message: string,
  ) {
    super(message);
    this.name = 'KubernetesSetupError';
  }
}

/** How often binds held for the API are looked at again. */
const HOLD_CHECK_MILLIS = 100;
/** A change of the container tree or of a pod is acted on once the burst it belongs to settled this long. */
const CHANGE_SETTLE_MILLIS = 100;

/** A bind that passed the selection, with its pod (none for a host process). */
export interface SelectedBind extends RoutedBind {
  /**
   * A bind from a cgroup named as the kubelet names a pod's container but not
   * attributed to it (outside the kubelet's hierarchy, or not one of the pod's
   * containers): where that cgroup really is, from the cgroup v2 mount.
   */
  unattributedCgroupPath?: string;
}

/**
 * The Kubernetes stage: this node's pods (the kubelet log tree, the API watch),
 * the resolution of a bind to its pod, and the selection, which is the single
 * owner of the pinned maps (the kernel drops excluded containers) and of the
 * user-space drop of binds that raced them. Owns its timers.
 */
export class Kubernetes {
  private readonly index: PodLogIndex;
  private readonly watch?: PodWatch;
  private access?: ApiAccess;
  private readonly daemonSetWatch?: DaemonSetWatch;
  private readonly resolver: PodResolver;
  private selection?: NodeMaps;
  private readonly hold: BindHold;
  private readonly knowledgeListeners: (() => void)[] = [];
  /** where look-alike cgroups really are (the cgroup v2 mount's paths) */
  private readonly cgroupPaths = new CgroupPaths(() => findCgroup2Mount());
  private release?: (binds: SelectedBind[]) => void;
  private outsideSelection = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private pinLock?: { release(): void };
  private stopChanges?: () => void;

  constructor(
    private readonly settings: KubernetesSettings,
    private readonly warn: (line: string) => void,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.index = new PodLogIndex(settings.podLogsDir, settings.containerLogsDir, settings.deletedPodGraceMillis, 1000, Date.now, warn);
    this.index.refresh();
    this.watch = this.makeWatch(env);
    this.daemonSetWatch = this.makeDaemonSetWatch();
    this.resolver = new PodResolver(this.index, this.watch, commaList(settings.labels));
    this.hold = new BindHold(
      { maxMillis: settings.api.holdMillis, maxRecords: settings.api.holdMaxRecords, checkMillis: HOLD_CHECK_MILLIS },
      (e) => this.ready(e),
      (events) => this.released(events),
    );
  }

  /**
   * A bind can be named now: the API (when watched) has described its pod, and
   * a bind from a look-alike cgroup has its real path (looked up meanwhile).
   */
  private ready(e: BindEvent): boolean {
    if (!this.resolver.describedByApi(e)) return false;
    // a host process's bind (most of a flood) is decided by the two cached look-ups, in this order
    if (this.resolver.resolve(e) || !this.resolver.namedLikeAPod(e)) return true;
    return this.cgroupPaths.lookup(e.cgroupId, e.cgroupName, e.pid) !== undefined;
  }

  /** The API watch when configured (or, on auto, when in a cluster or given a kubeconfig). */
  private makeWatch(env: NodeJS.ProcessEnv): PodWatch | undefined {
    const s = this.settings;
    const setting = String(s.api.enabled);
    const wanted = setting === 'true' || (setting === 'auto' && (Boolean(env.KUBERNETES_SERVICE_HOST) || s.api.kubeconfig !== ''));
    if (!wanted) return undefined;
    if (!s.nodeName) {
      if (setting === 'true') throw new KubernetesSetupError('nodeName', "needed to watch this node's pods (set NODE_NAME from the downward API, spec.nodeName)");
      this.warn('no node name (NODE_NAME): not watching the Kubernetes API; pods are named from the kubelet log tree only');
      return undefined;
    }
    let access;
    try {
      access = loadApiAccess(s.api.kubeconfig, env, this.warn);
    } catch (e) {
      if (!(e instanceof ApiAccessError)) throw e;
      if (s.api.kubeconfig) throw new KubernetesSetupError('api.kubeconfig', e.message);
      if (setting === 'true') throw new KubernetesSetupError('api.enabled', `cannot reach the API: ${e.message}`);
      this.warn(`cannot watch the Kubernetes API (${e.message}); pods are named from the kubelet log tree only`);
      return undefined;
    }
    this.access = access;
    return new PodWatch({
      access,
      nodeName: s.nodeName,
      graceMillis: s.deletedPodGraceMillis,
      restartDelayMillis: s.api.restartDelayMillis,
      watchIdleMillis: s.api.watchIdleMillis,
      listTimeoutMillis: s.api.listTimeoutMillis,
      maxListBytes: s.api.maxListBytes,
      maxPods: s.api.maxPods,
      // the labels the records carry and the selection reads: a pod's others are not kept
      labelKeys: new Set([...commaList(s.labels), ...(s.labelSelector ? parseLabelSelector(s.labelSelector).keys : [])]),
      warn: this.warn,
    });
  }

  /** The watch of the agent's own DaemonSet, when it is named and the API is watched. */
  private makeDaemonSetWatch(): DaemonSetWatch | undefined {
    const ref = this.settings.daemonSet;
    if (!ref) return undefined;
    const parsed = parseDaemonSetRef(ref);
    if (!parsed) throw new KubernetesSetupError('daemonSet', `must be NAMESPACE/NAME (got '${ref}')`);
    if (!this.access) return undefined;
    return new DaemonSetWatch({ access: this.access, ...parsed, restartDelayMillis: this.settings.api.restartDelayMillis, warn: this.warn });
  }

  /** The agent's DaemonSet was deleted (helm uninstall, kubectl delete) while it was watched: no next agent will come. */
  daemonSetDeleted(): boolean {
    return this.daemonSetWatch?.deleted() ?? false;
  }

  /**
   * The directory the kernel program pins the node's maps in, checked and made
   * before anything loads; "" = none. It must be on a BPF filesystem (checked on
   * its nearest existing ancestor before anything is created), be a real
   * directory owned by root and writable by no one else, and so must each map
   * already pinned there: a directory or link planted by another user is never
   * followed.
   */
  preparePinDir(): string {
    const dir = path.resolve(this.settings.pinDir);
    if (!this.settings.pinDir) return '';
    try {
      this.pinLock = preparePinDir(dir, PINNED_MAPS, 'two agents on one pin directory would each rewrite the maps the other filters by; stop it, or give this one its own kubernetes.pinDir');
    } catch (e) {
      if (e instanceof PinDirUnusable || e instanceof PinDirInUse) throw new KubernetesSetupError('pinDir', e.message);
      throw e;
    }
    return dir;
  }

  /** Where the node's container cgroups live: kubernetes.cgroupRoot, else the cgroup v2 mount. */
  private cgroupRoot(): string | undefined {
    return this.settings.cgroupRoot || findCgroup2Mount();
  }

  /**
   * The kernfs id (the directory's inode) of the cgroup root: the kernel marks a
   * bind whose cgroup path below it starts with the kubelet's hierarchy, and
   * only such a bind is attributed to a pod. 1 is the hierarchy's own root.
   */
  cgroupRootId(): number {
    const root = this.cgroupRoot();
    try {
      return root ? statSync(root).ino : 1;
    } catch {
      return 1;
    }
  }

  /** Starts the watch, the rescans and, once the kernel program has pinned them, the reconciliation of the maps. */
  start(maps?: Pick<NativeTracer, 'mapUpdate' | 'mapDelete' | 'mapEntries'>): void {
    const s = this.settings;
    this.daemonSetWatch?.start();
    let mapsChanged: (() => void) | undefined;
    if (maps) {
      const cgroupRoot = this.cgroupRoot();
      if (cgroupRoot) {
        // a pass when the container tree or a pod changes (settled for CHANGE_SETTLE_MILLIS), and a full one every
        // mapSyncIntervalMillis in case a change was missed: an idle node's many containers cost nothing between
        let settle: NodeJS.Timeout | undefined;
        const changed = (): void => {
          settle ??= setTimeout(() => {
            settle = undefined;
            sync();
          }, CHANGE_SETTLE_MILLIS);
          settle.unref();
        };
        const selection = new NodeMaps(maps, this.resolver, { cgroupRoot, namespaces: s.namespaces, excludeNamespaces: s.excludeNamespaces, labelSelector: s.labelSelector }, changed);
        this.selection = selection;
        this.stopChanges = () => clearTimeout(settle);
        // a pass that fails (a map write refused) is said and tried again at the next change or interval
        const sync = (): void => void selection.sync().catch((e: Error) => this.warn(`cannot update the pinned maps: ${e.message}`));
        mapsChanged = changed;
        sync();
        this.every(s.mapSyncIntervalMillis, sync);
      } else {
        this.warn('no cgroup v2 mount found: pinned pod maps stay empty (set kubernetes.cgroupRoot)');
      }
    }
    // notice deleted pods (kept for the grace period) even when no bind asks
    const index = this.index;
    const resolver = this.resolver;
    this.every(s.podRescanIntervalMillis, () => {
      index.refresh();
      resolver.prune();
      this.knowledgeChanged();
    });
    this.watch?.onChange(() => {
      mapsChanged?.();
      this.knowledgeChanged();
    });
    this.watch?.start();
  }

  private every(millis: number, task: () => void): void {
    const timer = setInterval(task, millis);
    timer.unref();
    this.timers.push(timer);
  }

  /**
   * What a bind resolves to may have changed (a pod described, updated or gone; the log tree rescanned): whoever
   * kept a bind's answer by its cgroup forgets it.
   */
  onKnowledgeChange(listener: () => void): void {
    this.knowledgeListeners.push(listener);
  }

  private knowledgeChanged(): void {
    for (const listener of this.knowledgeListeners) listener();
  }

  /** Where binds the hold releases go (the router names and outputs them as it does a batch). */
  onRelease(release: (binds: SelectedBind[]) => void): void {
    this.release = release;
  }

  /**
   * Resolves each bind to its pod and drops those of containers the selection
   * leaves out that passed the kernel before the maps knew them. With the API
   * watched, binds of pods (or containers) it has not described yet are held
   * until it has, or until kubernetes.api.holdMillis, and come out through
   * onRelease; so are binds from look-alike cgroups while their real path is
   * looked up.
   */
  select(events: readonly BindEvent[]): SelectedBind[] {
    const out: SelectedBind[] = [];
    for (const event of events) {
      // only a bind of the kubelet's hierarchy, or from a cgroup named like one, can have to wait: a host process's
      // bind (most of a flood) goes straight on
      const mayWait = (event.flags & FLAG_KUBELET_CGROUP) !== 0 || this.resolver.namedLikeAPod(event);
      if (!(mayWait && this.hold.take(event))) this.selectOne(event, out);
    }
    return out;
  }

  private selectOne(event: BindEvent, out: SelectedBind[]): void {
    const pod = this.resolver.resolve(event);
    if (pod && this.selection) {
      if (this.selection.excluded(pod.podUid)) {
        this.outsideSelection++;
        return;
      }
      this.selection.learn(event.cgroupId, event.mntnsId);
    }
    if (!pod && this.resolver.namedLikeAPod(event)) out.push({ event, unattributedCgroupPath: this.cgroupPath(event) });
    else out.push({ event, pod });
  }

  private released(events: BindEvent[]): void {
    const out: SelectedBind[] = [];
    for (const event of events) this.selectOne(event, out);
    if (out.length > 0) this.release?.(out);
  }

  /** Binds the selection dropped in user space (not seen, as those the kernel drops are not). */
  droppedOutsideSelection(): number {
    return this.outsideSelection;
  }

  /** Binds held for the API now, and what became of the others. */
  holdCounts(): HoldCounts {
    return this.hold.snapshot();
  }

  /** Where a look-alike cgroup really is; a bind released before its lookup ended says so. */
  private cgroupPath(event: BindEvent): string {
    return this.cgroupPaths.lookup(event.cgroupId, event.cgroupName, event.pid) ?? `(cgroup id ${event.cgroupId}, still being looked up)`;
  }

  /** The API watch's books, when the API is watched. */
  watchCounts(): PodWatchCounts | undefined {
    return this.watch?.counts();
  }

  podsKnown(): number {
    return this.watch?.podCount() ?? this.index.podCount();
  }

  containersKnown(): number {
    return this.selection?.containerCount() ?? 0;
  }

  /** Full reads of the container tree so far (on change, and every mapSyncIntervalMillis). */
  mapPasses(): number {
    return this.selection?.passCount() ?? 0;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.stopChanges?.();
    // what waits for the API goes out as it can be named now: nothing read is dropped at stop
    this.hold.flush();
    this.cgroupPaths.stop();
    await this.selection?.stop();
    await this.watch?.stop();
    await this.daemonSetWatch?.stop();
    this.pinLock?.release();
  }
}
