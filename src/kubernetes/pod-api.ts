import type { Attributes } from '../model/attributes';

/** What the agent keeps of a pod from the Kubernetes API. */
export interface ApiPod {
  uid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** the pod's resource.opentelemetry.io/ annotations (the others are not kept) */
  annotations: Record<string, string>;
  /** k8s.deployment.name, k8s.replicaset.name, k8s.daemonset.name, ... as known */
  owners: Attributes;
  /** container id (64 hex, no runtime:// prefix) -> container name */
  containers: Map<string, string>;
}

interface OwnerReference {
  kind?: string;
  name?: string;
  controller?: boolean;
}

interface ContainerStatus {
  name?: string;
  containerID?: string;
}

/** The fields of a v1 Pod this reads (a structural subset of V1Pod). */
export interface PodObject {
  metadata?: {
    uid?: string;
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
  };
  status?: { containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[]; ephemeralContainerStatuses?: ContainerStatus[] };
}

/**
 * The owner workload, as the collector's k8sattributes processor names it:
 * a ReplicaSet named <deployment>-<pod-template-hash> belongs to that
 * Deployment; a Job named <cronjob>-<scheduled minute> (8+ digits, how the
 * CronJob controller names its Jobs) to that CronJob. Pure.
 */
export function ownerAttributes(owners: OwnerReference[] | undefined, labels: Record<string, string>): Attributes {
  const owner = owners?.find((o) => o.controller) ?? owners?.[0];
  if (!owner?.kind || !owner.name) return {};
  const a: Attributes = {};
  switch (owner.kind) {
    case 'ReplicaSet': {
      a['k8s.replicaset.name'] = owner.name;
      const hash = labels['pod-template-hash'];
      if (hash && owner.name.endsWith(`-${hash}`)) a['k8s.deployment.name'] = owner.name.slice(0, -hash.length - 1);
      break;
    }
    case 'DaemonSet':
      a['k8s.daemonset.name'] = owner.name;
      break;
    case 'StatefulSet':
      a['k8s.statefulset.name'] = owner.name;
      break;
    case 'Job': {
      a['k8s.job.name'] = owner.name;
      const m = /^(.+)-(\d{8,})$/.exec(owner.name);
      if (m) a['k8s.cronjob.name'] = m[1];
      break;
    }
    default:
      break;
  }
  return a;
}

/** "containerd://<64 hex>" -> "<64 hex>" */
export function containerIdOf(runtimeId: string | undefined): string | undefined {
  const m = /^[a-z0-9.-]+:\/\/([0-9a-f]{64})$/.exec(runtimeId ?? '');
  return m?.[1];
}

export function apiPod(obj: PodObject): ApiPod | undefined {
  const md = obj.metadata;
  if (!md?.uid || !md.name || !md.namespace) return undefined;
  const labels = md.labels ?? {};
  const containers = new Map<string, string>();
  const s = obj.status ?? {};
  for (const c of [...(s.initContainerStatuses ?? []), ...(s.containerStatuses ?? []), ...(s.ephemeralContainerStatuses ?? [])]) {
    const id = containerIdOf(c.containerID);
    if (id && c.name) containers.set(id, c.name);
  }
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.annotations ?? {})) if (k.startsWith('resource.opentelemetry.io/')) annotations[k] = v;
  return { uid: md.uid, namespace: md.namespace, name: md.name, labels, annotations, owners: ownerAttributes(md.ownerReferences, labels), containers };
}

/** k8s.pod.label.<key> for the configured label keys the pod has. */
export function labelAttributes(labels: Record<string, string>, keys: readonly string[]): Attributes {
  const a: Attributes = {};
  for (const k of keys) if (labels[k] !== undefined) a[`k8s.pod.label.${k}`] = labels[k];
  return a;
}
