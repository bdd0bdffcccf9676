import type { Attributes } from '../model/attributes';

/** What naming a pod's service needs; undefined where unknown (no API watch). */
export interface ServiceFacts {
  namespace?: string;
  pod?: string;
  container?: string;
  /** k8s.deployment.name, k8s.replicaset.name, ... */
  owners?: Attributes;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const ANNOTATION = 'resource.opentelemetry.io/';
/** the owner workloads, in the order the conventions take their names */
const OWNERS = ['k8s.deployment.name', 'k8s.replicaset.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.cronjob.name', 'k8s.job.name'];

/**
 * service.name, service.namespace, service.version and service.instance.id of a
 * pod's container, as the semantic conventions' Kubernetes guidance
 * (non-normative/k8s-attributes.md) derives them: the pod's
 * resource.opentelemetry.io/ annotations first; then for the name the
 * app.kubernetes.io/name label, the owner workload's name, the pod's, the
 * container's; the namespace from the Kubernetes namespace; the version from the
 * app.kubernetes.io/version label; the instance as namespace.pod.container. Pure.
 */
export function workloadService(f: ServiceFacts): Attributes {
  const note = (key: string): string | undefined => f.annotations?.[ANNOTATION + key] || undefined;
  const owner = OWNERS.map((k) => f.owners?.[k]).find((v): v is string => typeof v === 'string' && v !== '');
  const name = note('service.name') ?? (f.labels?.['app.kubernetes.io/name'] || undefined) ?? owner ?? f.pod ?? f.container;
  const a: Attributes = {};
  if (name) a['service.name'] = name;
  const namespace = note('service.namespace') ?? f.namespace;
  if (namespace) a['service.namespace'] = namespace;
  const version = note('service.version') ?? (f.labels?.['app.kubernetes.io/version'] || undefined);
  if (version) a['service.version'] = version;
  const instance = note('service.instance.id') ?? (f.namespace && f.pod && f.container ? `${f.namespace}.${f.pod}.${f.container}` : undefined);
  if (instance) a['service.instance.id'] = instance;
  return a;
}
