import { parseKeyPairsIntoRecord } from '@opentelemetry/core';
import type { Attributes } from '../model/attributes';

export interface BaseResourceInput {
  serviceName: string;
  serviceVersion: string;
  hostName: string;
  /** NODE_NAME from the downward API, when known */
  nodeName?: string;
  /** OTEL_RESOURCE_ATTRIBUTES-style k1=v1,k2=v2 */
  extra: string;
}

/**
 * The attributes every record's resource carries (contract section 2). Extra
 * attributes never override service.name: OTEL_SERVICE_NAME / service.name does.
 */
export function baseResourceAttributes(input: BaseResourceInput): Attributes {
  const extra = input.extra ? parseKeyPairsIntoRecord(input.extra) : {};
  const attrs: Attributes = { ...extra };
  attrs['service.name'] = input.serviceName;
  attrs['service.version'] = input.serviceVersion;
  attrs['host.name'] = input.hostName;
  if (input.nodeName) attrs['k8s.node.name'] = input.nodeName;
  return attrs;
}

/** A stable key for a set of resource attributes: one logger (one ResourceLogs) per key. */
export function resourceKey(attrs: Attributes): string {
  return JSON.stringify(Object.keys(attrs).sort().map((k) => [k, attrs[k]]));
}
