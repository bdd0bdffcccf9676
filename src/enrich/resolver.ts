import type { BindEvent } from '../event';
import type { Attributes } from '../naming';
import { parseContainerCgroup } from './cgroup-names';
import type { PodLogIndex } from './pod-logs';

/** The pod a bind came from, as the columns of -K show it. */
export interface PodIdentity {
  namespace?: string;
  pod?: string;
  podUid: string;
  container?: string;
  containerId: string;
}

/**
 * Resolves a bind to its pod: the cgroup names captured in the kernel give the
 * container id and pod uid; the kubelet's log tree gives the names. A host
 * process resolves to nothing.
 */
export class PodResolver {
  constructor(private readonly index: PodLogIndex) {}

  resolve(e: BindEvent): PodIdentity | undefined {
    const ref = parseContainerCgroup(e.cgroupName, e.cgroupParentName);
    if (!ref) return undefined;
    const pod = this.index.pod(ref.podUid);
    return {
      namespace: pod?.namespace,
      pod: pod?.pod,
      podUid: ref.podUid,
      container: this.index.containerName(ref.containerId, pod),
      containerId: ref.containerId,
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
  return a;
}
