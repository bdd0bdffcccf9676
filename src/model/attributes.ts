/**
 * Types shared by every stage (this module imports nothing): a record's
 * attributes and the pod a bind was resolved to.
 */
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/** The pod a bind came from, as the columns of -K show it. */
export interface PodIdentity {
  namespace?: string;
  pod?: string;
  podUid: string;
  container?: string;
  containerId: string;
  /** from the API: owner workload and configured labels */
  attributes?: Attributes;
  /** service.name, .namespace, .version, .instance.id of the pod's workload */
  service: Attributes;
}
