import { parseKeyPairsIntoRecord, SDK_INFO } from '@opentelemetry/core';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Attributes } from '../model/attributes';

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

/** The machine id as the OpenTelemetry host detector reads it (/etc/machine-id, else D-Bus's), or undefined. */
export function readMachineId(files: readonly string[] = ['/etc/machine-id', '/var/lib/dbus/machine-id']): string | undefined {
  for (const file of files) {
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (/^[0-9a-f]{32}$/.test(id)) return id;
    } catch {
      // not there: the next
    }
  }
  return undefined;
}

/** A stable key for a set of resource attributes: one logger (one ResourceLogs) per key. */
export function resourceKey(attrs: Attributes): string {
  return JSON.stringify(Object.keys(attrs).sort().map((k) => [k, attrs[k]]));
}
