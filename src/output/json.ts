import { rfc3339Nanos } from '../naming/time';
import type { Attributes } from '../model/attributes';
import { wellFormedJson } from '../model/text';

/**
 * One JSON object per bind: the attribute names of docs/CONTRACT.md, section 2, flat, plus
 * the resource attributes known for it and `time` (RFC 3339, nanoseconds).
 */
export function formatJsonLine(wallNs: bigint, attributes: Attributes, resource: Attributes = {}, scope: Attributes = {}): string {
  return wellFormedJson(JSON.stringify({ time: rfc3339Nanos(wallNs), ...resource, ...scope, ...attributes }));
}
