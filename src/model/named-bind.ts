import type { Attributes, PodIdentity } from './attributes';
import type { BindEvent } from './event';

/**
 * One bind on its way to the outputs: the kernel's facts, the pod it came from,
 * and what was computed from them once (the log attributes, the resource and
 * the wall-clock time), shared by every output.
 */
export interface NamedBind {
  event: BindEvent;
  pod?: PodIdentity;
  /** the log attributes of docs/CONTRACT.md, section 2 */
  attributes: Attributes;
  /** the agent's resource, or the pod's */
  resource: Attributes;
  /** kernel event time on the wall clock, ns */
  wallNs: bigint;
}

/** Where named binds go: the table, JSON lines, OTLP. Called on the JavaScript thread, one batch at a time. */
export interface Output {
  write(binds: readonly NamedBind[]): void;
  /**
   * True when a write now would drop every bind (its queue is full). When every
   * output says so, the router does not name the binds (shedding load early,
   * under a flood) and calls drop() instead, which counts them as write would.
   */
  saturated?(): boolean;
  drop?(binds: number): void;
}
