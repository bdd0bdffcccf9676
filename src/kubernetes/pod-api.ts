import type { Attributes } from '../model/attributes';
import { isRecord, wellFormed } from '../model/text';

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
  /** container id -> its image and imageID, as its status gives them */
  images: Map<string, { image?: string; imageID?: string }>;
}

interface OwnerReference {
  kind?: string;
  name?: string;
  controller?: boolean;
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

type Obj = Record<string, unknown>;


/** A pod read from the API, and how many of its values were of the wrong type or past a bound (skipped). */
export interface ParsedPod {
  pod?: ApiPod;
  rejectedValues: number;
}

/** The labels naming reads whatever is configured: the workload's name, instance and version, and the Deployment's hash. */
export const NAMING_LABELS = ['app.kubernetes.io/instance', 'app.kubernetes.io/name', 'app.kubernetes.io/version', 'pod-template-hash'] as const;
/** A value kept of a pod is at most this long (Kubernetes' own bounds: names 253, label values 63): longer ones are skipped and counted. */
export const MAX_POD_VALUE_CHARS = 1024;
/** A pod's kept strings together are at most this long: what a hostile pod can cost stays small. */
export const MAX_POD_KEPT_CHARS = 16 * 1024;
/** Container statuses read of a pod at most (init, regular and ephemeral together). */
export const MAX_POD_CONTAINERS = 128;

const RESOURCE_ANNOTATION = 'resource.opentelemetry.io/';

/**
 * What the agent keeps of a v1 Pod from the API, the server trusted for
 * nothing: a pod without a uid, name and namespace (strings) is no pod; a
 * label or annotation that is not a string, an owner reference or container
 * status that is not an object, or their fields of the wrong type, are
 * skipped and counted. Only what naming and selection read is kept: the
 * labels in `labelKeys` and NAMING_LABELS, the resource.opentelemetry.io/
 * annotations, the owner, the containers' ids, names and images; each value
 * and the pod's whole are bounded (MAX_POD_VALUE_CHARS, MAX_POD_KEPT_CHARS,
 * MAX_POD_CONTAINERS), what is past them skipped and counted. Maps have no
 * prototype: a key such as "constructor" is only ever a pod's own. Pure.
 */
export function apiPod(obj: unknown, labelKeys: ReadonlySet<string> = new Set()): ParsedPod {
  let rejectedValues = 0;
  let budget = MAX_POD_KEPT_CHARS;
  const md = isRecord(obj) ? obj.metadata : undefined;
  if (!isRecord(md)) return { rejectedValues };
  if (typeof md.uid !== 'string' || typeof md.name !== 'string' || typeof md.namespace !== 'string' || !md.uid || !md.name || !md.namespace) return { rejectedValues };
  if (md.uid.length + md.name.length + md.namespace.length > MAX_POD_VALUE_CHARS) return { rejectedValues: 1 };
  budget -= md.uid.length + md.name.length + md.namespace.length;
  // every string kept is well-formed: a strict OTLP/JSON receiver refuses a whole request for one lone surrogate
  const [uid, name, namespace] = [wellFormed(md.uid), wellFormed(md.name), wellFormed(md.namespace)];
  /** a string within the bounds, or undefined (counted) */
  const bounded = (v: string): string | undefined => {
    if (v.length > MAX_POD_VALUE_CHARS || v.length > budget) {
      rejectedValues++;
      return undefined;
    }
    budget -= v.length;
    return wellFormed(v);
  };
  /** the kept string values of a map; the others counted */
  const strings = (v: unknown, keep: (k: string) => boolean): Record<string, string> => {
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    if (v === undefined || v === null) return out;
    if (!isRecord(v)) {
      rejectedValues++;
      return out;
    }
    for (const k of Object.keys(v)) {
      if (!keep(k)) continue;
      const x = v[k];
      if (typeof x !== 'string') {
        rejectedValues++;
        continue;
      }
      const key = bounded(k);
      const value = key === undefined ? undefined : bounded(x);
      if (key !== undefined && value !== undefined) out[key] = value;
    }
    return out;
  };
  /** the object entries of a list; the others counted */
  const objects = (v: unknown, max = Infinity): Obj[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      rejectedValues++;
      return [];
    }
    const out = v.slice(0, max).filter(isRecord);
    rejectedValues += v.length - out.length;
    return out;
  };
  const text = (o: Obj, key: string): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return bounded(v);
    rejectedValues++;
    return undefined;
  };
  const labels = strings(md.labels, (k) => labelKeys.has(k) || (NAMING_LABELS as readonly string[]).includes(k));
  const annotations = strings(md.annotations, (k) => k.startsWith(RESOURCE_ANNOTATION));
  const references = objects(md.ownerReferences);
  const owner = references.find((o) => o.controller === true) ?? references[0];
  const owners: OwnerReference[] = owner ? [{ kind: text(owner, 'kind'), name: text(owner, 'name'), controller: true }] : [];
  const containers = new Map<string, string>();
  const images = new Map<string, { image?: string; imageID?: string }>();
  const status = isRecord(obj) && isRecord(obj.status) ? obj.status : {};
  let room = MAX_POD_CONTAINERS;
  for (const list of ['initContainerStatuses', 'containerStatuses', 'ephemeralContainerStatuses']) {
    const statuses = objects(status[list], room);
    room -= statuses.length;
    for (const c of statuses) {
      const id = containerIdOf(typeof c.containerID === 'string' ? c.containerID : undefined);
      const cname = id ? text(c, 'name') : undefined;
      if (id && cname) {
        containers.set(id, cname);
        images.set(id, { image: text(c, 'image'), imageID: text(c, 'imageID') });
      }
    }
  }
  return { pod: { uid, namespace, name, labels, annotations, owners: ownerAttributes(owners, labels), containers, images }, rejectedValues };
}

/** k8s.pod.label.<key> for the configured label keys the pod has. */
export function labelAttributes(labels: Record<string, string>, keys: readonly string[]): Attributes {
  const a: Attributes = {};
  for (const k of keys) if (Object.hasOwn(labels, k)) a[`k8s.pod.label.${k}`] = labels[k];
  return a;
}
