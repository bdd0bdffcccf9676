/**
 * Types shared by every stage (this module imports nothing): a record's
 * attributes and the pod a bind was resolved to.
 */
/** arrays: the semantic conventions' string[] attributes (container.image.tags) */
export type AttributeValue = string | number | boolean | string[];
export type Attributes = Record<string, AttributeValue>;

/** The pod a bind came from, as the columns of -K show it. */
export interface PodIdentity {
  namespace?: string;
  pod?: string;
  podUid: string;
  container?: string;
  containerId: string;
  /** owner workload, configured labels and container image (from the API), container.runtime.name (from the cgroup) */
  attributes?: Attributes;
  /** service.name, .namespace, .version, .instance.id of the pod's workload */
  service: Attributes;
}
