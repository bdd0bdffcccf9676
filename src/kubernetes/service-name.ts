import type { Attributes } from '../model/attributes';
import { imageVersion } from './container-image';

/** What naming a pod's service needs; undefined where unknown (no API watch). */
export interface ServiceFacts {
  namespace?: string;
  pod?: string;
  container?: string;
  /** k8s.deployment.name, k8s.replicaset.name, ... */
  owners?: Attributes;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** the container's image as its status gives it ("registry/repo:tag", "repo@sha256:...") and its imageID */
  image?: string;
  imageID?: string;
}

const ANNOTATION = 'resource.opentelemetry.io/';
/** the owner workloads, in the order the conventions take their names */
const OWNERS = ['k8s.deployment.name', 'k8s.replicaset.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.cronjob.name', 'k8s.job.name'];

/**
 * The resource attributes of a pod's container that the semantic conventions'
 * Kubernetes guidance (non-normative/k8s-attributes.md) derives: every
 * resource.opentelemetry.io/<key> annotation as <key>; then service.name from
 * the app.kubernetes.io/instance label, the app.kubernetes.io/name label, the
 * owner workload's name, the pod's, the container's; service.namespace from the
 * Kubernetes namespace; service.version from the app.kubernetes.io/version
 * label, else the container image's tag, else its digest; service.instance.id
 * as namespace.pod.container. Pure.
 */
export function workloadService(f: ServiceFacts): Attributes {
  const a: Attributes = {};
  for (const [k, v] of Object.entries(f.annotations ?? {})) {
    const key = k.slice(ANNOTATION.length);
    if (k.startsWith(ANNOTATION) && key && v) a[key] = v;
  }
  const label = (key: string): string | undefined => f.labels?.[key] || undefined;
  const owner = OWNERS.map((k) => f.owners?.[k]).find((v): v is string => typeof v === 'string' && v !== '');
  const name = a['service.name'] ?? label('app.kubernetes.io/instance') ?? label('app.kubernetes.io/name') ?? owner ?? f.pod ?? f.container;
  if (name) a['service.name'] = name;
  const namespace = a['service.namespace'] ?? f.namespace;
  if (namespace) a['service.namespace'] = namespace;
  const version = a['service.version'] ?? label('app.kubernetes.io/version') ?? imageVersion(f);
  if (version) a['service.version'] = version;
  const instance = a['service.instance.id'] ?? (f.namespace && f.pod && f.container ? `${f.namespace}.${f.pod}.${f.container}` : undefined);
  if (instance) a['service.instance.id'] = instance;
  return a;
}
