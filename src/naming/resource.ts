import { parseKeyPairsIntoRecord, SDK_INFO } from '@opentelemetry/core';
import { randomUUID } from 'node:crypto';
import type { Attributes, PodIdentity } from '../model/attributes';

/** The semantic-conventions version the attributes follow: the resource's and the scope's schemaUrl. */
export const SEMCONV_SCHEMA_URL = 'https://opentelemetry.io/schemas/1.37.0';

export interface BaseResourceInput {
  /** OTEL_SERVICE_NAME / service.name; empty = not configured */
  serviceName: string;
  serviceVersion: string;
  /** this machine's hostname (os.hostname()): outside Kubernetes the host's own */
  hostName: string;
  /** NODE_NAME from the downward API, when known */
  nodeName?: string;
  /** in Kubernetes mode the agent's container has a hostname of its own (the pod's): never use it */
  kubernetes: boolean;
  /** OTEL_RESOURCE_ATTRIBUTES-style k1=v1,k2=v2 */
  extra: string;
  /** the machine's id (/etc/machine-id), when readable: host.id */
  machineId?: string;
  /** this run's service.instance.id (a random UUID unless configured) */
  instanceId?: string;
}

/**
 * The attributes of the agent's own resource (docs/CONTRACT.md, section 2), as the SDK
 * environment specification orders them: service.name from OTEL_SERVICE_NAME,
 * else from OTEL_RESOURCE_ATTRIBUTES, else "bindsnoop"; host.name as
 * configured, else the node's name in Kubernetes mode, else the hostname.
 */
export function baseResourceAttributes(input: BaseResourceInput): Attributes {
  const extra = input.extra ? parseKeyPairsIntoRecord(input.extra) : {};
  // the SDK's own (telemetry.sdk.name, .language, .version: required of an SDK), then what was configured over them
  const attrs: Attributes = {
    'telemetry.sdk.name': SDK_INFO['telemetry.sdk.name'],
    'telemetry.sdk.language': SDK_INFO['telemetry.sdk.language'],
    'telemetry.sdk.version': SDK_INFO['telemetry.sdk.version'],
    'os.type': 'linux',
    ...extra,
  };
  attrs['service.name'] = input.serviceName || extra['service.name'] || 'bindsnoop';
  attrs['service.version'] = input.serviceVersion;
  attrs['service.instance.id'] = extra['service.instance.id'] || input.instanceId || randomUUID();
  attrs['host.name'] = extra['host.name'] || (input.kubernetes && input.nodeName ? input.nodeName : input.hostName);
  if (!extra['host.id'] && input.machineId) attrs['host.id'] = input.machineId;
  if (input.nodeName) attrs['k8s.node.name'] = input.nodeName;
  return attrs;
}

/** The pod resource attributes of docs/CONTRACT.md, section 2 (only those known). */
export function podResourceAttributes(p: PodIdentity): Attributes {
  const a: Attributes = {};
  if (p.namespace) a['k8s.namespace.name'] = p.namespace;
  if (p.pod) a['k8s.pod.name'] = p.pod;
  a['k8s.pod.uid'] = p.podUid;
  if (p.container) a['k8s.container.name'] = p.container;
  a['container.id'] = p.containerId;
  return { ...a, ...p.attributes };
}

/**
 * The resource of each bind: the agent's for a host process, else its pod's,
 * with its workload's service.* (the conventions' way) or the agent's. One
 * object per pod identity (the resolver reuses identities), so the exporter
 * finds what it holds for it at once.
 */
export class BindResources {
  /** the agent's resource without its service.*: what a pod's resource shares with it (host, node, cluster) */
  private readonly shared: Attributes;
  private readonly byPod = new WeakMap<PodIdentity, Attributes>();

  constructor(
    private readonly base: Attributes,
    private readonly podService: 'workload' | 'agent',
  ) {
    this.shared = Object.fromEntries(Object.entries(base).filter(([k]) => !k.startsWith('service.')));
  }

  of(pod: PodIdentity | undefined): Attributes {
    if (!pod) return this.base;
    let resource = this.byPod.get(pod);
    if (!resource) {
      resource = this.podService === 'agent' ? { ...this.base, ...podResourceAttributes(pod) } : { ...this.shared, ...podResourceAttributes(pod), ...pod.service };
      this.byPod.set(pod, resource);
    }
    return resource;
  }
}
