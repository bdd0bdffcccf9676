import type { BindEvent } from '../model/event';
import type { Attributes, PodIdentity } from '../model/attributes';
import { parseContainerCgroup } from './cgroup-names';
import { labelAttributes } from './pod-api';
import { workloadService } from './service-name';
import type { PodLogIndex } from './pod-logs';
import type { PodWatch } from './pod-watch';


/**
 * Resolves a bind to its pod: the cgroup names captured in the kernel give the
 * container id and pod uid; the kubelet's log tree gives the names. A host
 * process resolves to nothing.
 */
export class PodResolver {
  constructor(
    private readonly index: PodLogIndex,
    private readonly api?: PodWatch,
    private readonly labelKeys: readonly string[] = [],
  ) {}

  /** The pod's namespace (API or log tree) and labels (API), as far as known. */
  factsOf(podUid: string): { namespace?: string; labels?: Record<string, string> } {
    const api = this.api?.pod(podUid);
    return { namespace: api?.namespace ?? this.index.pod(podUid)?.namespace, labels: api?.labels };
  }

  resolve(e: BindEvent): PodIdentity | undefined {
    const ref = parseContainerCgroup(e.cgroupName, e.cgroupParentName);
    if (!ref) return undefined;
    const api = this.api?.pod(ref.podUid);
    const logs = this.index.pod(ref.podUid);
    const namespace = api?.namespace ?? logs?.namespace;
    const pod = api?.name ?? logs?.pod;
    const container = api?.containers.get(ref.containerId) ?? this.index.containerName(ref.containerId, logs);
    return {
      namespace,
      pod,
      podUid: ref.podUid,
      container,
      containerId: ref.containerId,
      attributes: api ? { ...api.owners, ...labelAttributes(api.labels, this.labelKeys) } : undefined,
      service: workloadService({ namespace, pod, container, owners: api?.owners, labels: api?.labels, annotations: api?.annotations }),
    };
  }
}

/** Contract section 2's pod resource attributes (only those known). */
export function podResourceAttributes(p: PodIdentity | undefined): Attributes {
  if (!p) return {};
  const a: Attributes = {};
  if (p.namespace) a['k8s.namespace.name'] = p.namespace;
  if (p.pod) a['k8s.pod.name'] = p.pod;
  a['k8s.pod.uid'] = p.podUid;
  if (p.container) a['k8s.container.name'] = p.container;
  a['container.id'] = p.containerId;
  return { ...a, ...p.attributes };
}
