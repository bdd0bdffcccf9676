import type { SourceStats } from '../kernel/source';
import { DELIVERY_UNKNOWN_REASONS } from '../otlp/exporter';
import type { OtlpCounts } from '../otlp/export-stage';

export type LossStage = 'kernel' | 'reader' | 'export_queue' | 'export';
export const LOSS_STAGES: readonly LossStage[] = ['kernel', 'reader', 'export_queue', 'export'];

/**
 * Where every bind went. With export on: seen = exported + sum(lost) + pending,
 * and pending is 0 once a shutdown has flushed (or given up and counted).
 */
export interface Accounting {
  /** binds that passed the kernel filters: read from the ring, or lost in the kernel */
  seen: number;
  exported: number;
  lost: Record<LossStage, number>;
  /** read but not yet exported (queues, in-flight exports, batches on their way to JS) */
  pending: number;
  /** export-stage losses by reason */
  exportFailures: Map<string, number>;
}

/**
 * `outsideSelection`: binds of containers the Kubernetes selection leaves out
 * that passed the kernel before the agent knew (dropped in user space, and,
 * like those the kernel drops, not counted as seen). `heldForApi`: binds the
 * Kubernetes stage holds until the API describes their pod (pending).
 */
export function account(native: SourceStats, otlp: OtlpCounts | undefined, deliveredToJs: number, outsideSelection = 0, heldForApi = 0): Accounting {
  const kernel = native.kernelRingFull + native.kernelInflightFull + native.kernelInflightOrphaned;
  // a ring record of another size than this build's, or one the decoder refuses, is read but not delivered: lost at the reader
  const reader = native.readerQueueFull + native.recordsMalformed + native.recordsRejected;
  const seen = native.recordsRead + native.recordsMalformed + kernel - outsideSelection;
  const lost = {
    kernel,
    reader,
    export_queue: otlp?.lostExportQueue ?? 0,
    export: otlp?.lostExport ?? 0,
  };
  const onTheirWay = native.recordsRead - native.readerQueueFull - native.recordsRejected - deliveredToJs;
  return {
    seen,
    exported: otlp?.exported ?? 0,
    lost,
    pending: onTheirWay + heldForApi + (otlp?.pending ?? 0),
    exportFailures: otlp?.failures ?? new Map(),
  };
}

export function totalLost(lost: Record<LossStage, number>): number {
  return LOSS_STAGES.reduce((sum, stage) => sum + lost[stage], 0);
}

/** "kernel 3, export 40 (network 40)" for the stages that lost anything. */
export function describeLosses(lost: Record<LossStage, number>, failures: Map<string, number>): string {
  const parts: string[] = [];
  for (const stage of LOSS_STAGES) {
    if (!lost[stage]) continue;
    let part = `${stage} ${lost[stage]}`;
    if (stage === 'export' && failures.size) {
      const reasons = (unknown: boolean): string[] => [...failures].filter(([reason]) => DELIVERY_UNKNOWN_REASONS.has(reason) === unknown).map(([reason, n]) => `${reason} ${n}`);
      const known = reasons(false);
      const unknown = reasons(true);
      // records whose fate is unknown may have reached the receiver: said apart from those known to be lost
      part += ` (${[...known, ...(unknown.length ? [`delivery unknown: ${unknown.join(', ')}`] : [])].join(', ')})`;
    }
    parts.push(part);
  }
  return parts.join(', ');
}
