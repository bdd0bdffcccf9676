import { FLAG_KUBELET_CGROUP, type BindEvent } from '../model/event';
import type { PodIdentity } from '../model/attributes';
import { parseContainerCgroup, type ContainerRef } from './cgroup-names';
import { labelAttributes, type ApiPod } from './pod-api';
import type { PodLogIndex, PodNames } from './pod-logs';
import type { PodWatch } from './pod-watch';
import { workloadService } from './service-name';
import { containerImageAttributes } from './container-image';

/**
 * Resolves a bind to its pod: the cgroup names captured in the kernel give the
 * container id and pod uid; the kubelet's log tree gives the names. A host
 * process resolves to nothing.
 */
/** cgroups whose identity is kept (a node runs a few hundred containers) */
const MAX_CACHED_CGROUPS = 4096;

export class PodResolver {
  constructor(
    private readonly index: PodLogIndex,
    /** the API watch's pods (PodWatch), when watched */
    private readonly api?: Pick<PodWatch, 'pod'>,
    private readonly labelKeys: readonly string[] = [],
  ) {}

  /** The pod's namespace (API or log tree) and labels (API), as far as known. */
  factsOf(podUid: string): { namespace?: string; labels?: Record<string, string> } {
    const api = this.api?.pod(podUid);
    return { namespace: api?.namespace ?? this.index.pod(podUid)?.namespace, labels: api?.labels };
  }

  /**
   * The last identity made per cgroup (by its kernfs names), reused while the
   * pod's API object and log-tree entry are the same objects (they are replaced
   * when they change): one identity object per container, so later stages can
   * key on it. Bounded: the least recently used goes first.
   */
  private readonly cache = new Map<string, { ref?: ContainerRef; identity?: PodIdentity; api?: ApiPod; logs?: PodNames }>();

  /**
   * Whether the API has described this bind's pod and container (true where
   * there is nothing to wait for: no API watch, or not a container of the
   * kubelet's hierarchy): a pod it knows, with this container among its
   * statuses or none listed yet.
   */
  describedByApi(e: BindEvent): boolean {
    if (!this.api || !(e.flags & FLAG_KUBELET_CGROUP)) return true;
    const cached = this.cache.get(`${e.flags & FLAG_KUBELET_CGROUP}/${e.cgroupParentName}/${e.cgroupName}`);
    const ref = cached ? cached.ref : parseContainerCgroup(e.cgroupName, e.cgroupParentName);
    if (!ref) return true;
    const pod = this.api.pod(ref.podUid);
    return pod !== undefined && (pod.containers.size === 0 || pod.containers.has(ref.containerId));
  }

  /**
   * Forgets the identities of pods neither the API nor the log tree knows any
   * more (deleted, past their grace period): the cache is bounded, and this
   * keeps it from holding gone pods' API objects until newer ones push them out.
   */
  prune(): void {
    for (const [key, entry] of this.cache) {
      const uid = entry.ref?.podUid;
      if (uid !== undefined && this.api?.pod(uid) === undefined && this.index.pod(uid) === undefined) this.cache.delete(key);
    }
  }

  /** per cgroup (by its names): whether it is named like a pod's container; asked of every bind, parsed once */
  private readonly namedLike = new Map<string, boolean>();

  /** The cgroup is named as the kubelet names a pod's container (whether or not it is one). */
  namedLikeAPod(e: BindEvent): boolean {
    const key = `${e.cgroupParentName}/${e.cgroupName}`;
    let named = this.namedLike.get(key);
    if (named === undefined) {
      named = parseContainerCgroup(e.cgroupName, e.cgroupParentName) !== undefined;
      if (this.namedLike.size >= MAX_CACHED_CGROUPS) this.namedLike.delete(this.namedLike.keys().next().value as string);
      this.namedLike.set(key, named);
    }
    return named;
  }

  resolve(e: BindEvent): PodIdentity | undefined {
    const key = `${e.flags & FLAG_KUBELET_CGROUP}/${e.cgroupParentName}/${e.cgroupName}`;
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      if (!cached.ref) return undefined; // not a container's cgroup of the kubelet's hierarchy
      const { podUid } = cached.ref;
      if (cached.api === this.api?.pod(podUid) && cached.logs === this.index.pod(podUid)) return cached.identity;
    }
    // a kubelet-shaped name is not enough: the whole path must be the kubelet's (a user can make look-alikes in a
    // delegated subtree), and, where the API is watched, the container must be one of the pod's
    const ref = e.flags & FLAG_KUBELET_CGROUP ? parseContainerCgroup(e.cgroupName, e.cgroupParentName) : undefined;
    const api = ref && this.api?.pod(ref.podUid);
    const logs = ref && this.index.pod(ref.podUid);
    const claimed = ref && api && api.containers.size > 0 && !api.containers.has(ref.containerId);
    const identity = ref && !claimed ? this.identity(ref, api, logs) : undefined;
    if (this.cache.size >= MAX_CACHED_CGROUPS) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { ref, identity, api, logs });
    return identity;
  }

  private identity(ref: ContainerRef, api: ApiPod | undefined, logs: PodNames | undefined): PodIdentity {
    const namespace = api?.namespace ?? logs?.namespace;
    const pod = api?.name ?? logs?.pod;
    const container = api?.containers.get(ref.containerId) ?? this.index.containerName(ref.containerId, logs);
    const image = api?.images.get(ref.containerId);
    return {
      namespace,
      pod,
      podUid: ref.podUid,
      container,
      containerId: ref.containerId,
      attributes: {
        ...(api && { ...api.owners, ...labelAttributes(api.labels, this.labelKeys) }),
        ...containerImageAttributes(image ?? {}, ref.runtime),
      },
      service: workloadService({ namespace, pod, container, owners: api?.owners, labels: api?.labels, annotations: api?.annotations, ...image }),
    };
  }
}
