import type { Attributes, PodIdentity } from './attributes';
import type { BindEvent } from './event';

/** A bind on its way to the outputs: the kernel's facts and the pod it came from (none for a host process). */
export interface RoutedBind {
  event: BindEvent;
  pod?: PodIdentity;
}

/**
 * A bind with what was computed from it once (the log attributes, the resource
 * and the wall-clock time), shared by every output that reads them.
 */
export interface NamedBind extends RoutedBind {
  /** the log attributes of docs/CONTRACT.md, section 2 */
  attributes: Attributes;
  /** the agent's resource, or the pod's */
  resource: Attributes;
  /** kernel event time on the wall clock, ns */
  wallNs: bigint;
}

/** What every output offers the router. Called on the JavaScript thread, one batch at a time. */
interface OutputFlow {
  /**
   * True when a write now would drop every bind (its queue is full). When every
   * output says so, the router does not name the binds (shedding load early,
   * under a flood) and calls drop() instead, which counts them as write would.
   */
  saturated?(): boolean;
  drop?(binds: number): void;
}

/** An output of what was named (JSON lines, OTLP). */
export interface NamingOutput extends OutputFlow {
  readonly reads: 'named';
  write(binds: readonly NamedBind[]): void;
}

/** An output of the kernel's facts and the pod only (bcc's table): binds are not named for it alone. */
export interface EventOutput extends OutputFlow {
  readonly reads: 'events';
  write(binds: readonly RoutedBind[]): void;
}

/** Where binds go: the table, JSON lines, OTLP. */
export type Output = NamingOutput | EventOutput;
