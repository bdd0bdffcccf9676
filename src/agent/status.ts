import type { HoldCounts } from '../kubernetes/hold';
import type { PodWatchCounts } from '../kubernetes/pod-watch';
import type { Accounting } from './accounting';

/** What the HTTP endpoints report on; read at request time. */
export interface AgentStatus {
  /** the reader thread is running and has drained recently */
  live(): boolean;
  /** programs attached, configuration loaded, not shutting down */
  ready(): boolean;
  accounting(): Accounting | undefined;
  podsKnown(): number;
  containersKnown(): number;
  /** loggers the exporter holds, one per distinct resource (bounded by otlp.maxResources) */
  resourcesKnown(): number;
  /** records waiting for export or being exported (0 when export is off) */
  exportQueueDepth(): number;
  /** the Kubernetes API watch's books (skipped events and values, failures by reason), when the API is watched */
  podWatch(): PodWatchCounts | undefined;
  /** binds held until the API describes their pod, and what became of the others, when the API is watched */
  podHold(): HoldCounts | undefined;
  /** the addon's encoding of records on the reader thread, when it encodes */
  encoder(): EncoderCounts | undefined;
  /** the kernel backend in use (fentry, kprobe, tracepoint), once attached */
  backend(): { name: string } | undefined;
}


/** What the addon's encoder did (otlp.encodeInAddon). */
export interface EncoderCounts {
  records: number;
  bytes: number;
  seconds: number;
  /** records left to JavaScript's path */
  unencoded: number;
}
