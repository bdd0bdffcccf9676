import type { HandoverInfo } from '../kernel/native';
import type { SourceStats } from '../kernel/source';
import { DELIVERY_UNKNOWN_REASONS } from '../otlp/exporter';
import type { OtlpCounts } from '../otlp/export-stage';

export type LossStage = 'kernel' | 'reader' | 'export_queue' | 'export' | 'handover';
export const LOSS_STAGES: readonly LossStage[] = ['kernel', 'reader', 'export_queue', 'export', 'handover'];

/**
 * Why binds of a handover's gap were lost (stage handover), booked by the agent that took the pinned set over:
 * counted in the kernel while no reader ran (or after the previous reader last booked them), skipped by a set
 * whose reader was gone too long, taken by a reader that ended before it exported or counted them (whose fate
 * is not known: it may have sent some), or queued in a ring this build could not read.
 */
export const HANDOVER_LOSS_REASONS = ['ring_full', 'inflight_full', 'inflight_orphaned', 'unowned', 'agent_ended', 'ring_replaced'] as const;
export type HandoverLossReason = (typeof HANDOVER_LOSS_REASONS)[number];
/** handover losses whose delivery is unknown rather than known lost */
export const HANDOVER_DELIVERY_UNKNOWN: ReadonlySet<string> = new Set<HandoverLossReason>(['agent_ended']);

/** A handover's books, when the agent took a pinned set over. */
export interface HandoverBooks {
  generation: number;
  losses: Map<HandoverLossReason, number>;
  /** binds of the gap read from the pinned ring (queued while no reader ran) */
  recovered: number;
  /** binds both sets saw during the overlap, reported once */
  duplicatesDropped: number;
}

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
  /** with handover: the gap's books */
  handover?: HandoverBooks;
}

/** The gap's losses by reason (this tracer's own unowned skips too: a heartbeat that stalled). Pure. */
export function handoverBooks(info: HandoverInfo, native: SourceStats): HandoverBooks {
  const losses = new Map<HandoverLossReason, number>();
  const add = (reason: HandoverLossReason, n: number): void => {
    if (n > 0) losses.set(reason, (losses.get(reason) ?? 0) + n);
  };
  add('ring_full', info.ringFull);
  add('inflight_full', info.inflightFull);
  add('inflight_orphaned', info.inflightOrphaned);
  add('unowned', info.unowned + native.kernelUnowned);
  add('agent_ended', info.unsettled);
  add('ring_replaced', info.setAside);
  return { generation: info.generation, losses, recovered: native.handoverRecovered, duplicatesDropped: info.duplicates + native.handoverDuplicates };
}

/**
 * `outsideSelection`: binds of containers the Kubernetes selection leaves out
 * that passed the kernel before the agent knew (dropped in user space, and,
 * like those the kernel drops, not counted as seen). `heldForApi`: binds the
 * Kubernetes stage holds until the API describes their pod (pending).
 */
export function account(native: SourceStats, otlp: OtlpCounts | undefined, deliveredToJs: number, outsideSelection = 0, heldForApi = 0, handover?: HandoverInfo | null): Accounting {
  const kernel = native.kernelRingFull + native.kernelInflightFull + native.kernelInflightOrphaned;
  const books = handover ? handoverBooks(handover, native) : undefined;
  const handoverLost = books ? [...books.losses.values()].reduce((sum, n) => sum + n, 0) : 0;
  // a ring record of another size than this build's, or one the decoder refuses, is read but not delivered: lost at the reader
  const reader = native.readerQueueFull + native.recordsMalformed + native.recordsRejected;
  const seen = native.recordsRead + native.recordsMalformed + kernel + handoverLost - outsideSelection;
  const lost = {
    kernel,
    reader,
    export_queue: otlp?.lostExportQueue ?? 0,
    export: otlp?.lostExport ?? 0,
    handover: handoverLost,
  };
  const onTheirWay = native.recordsRead - native.readerQueueFull - native.recordsRejected - deliveredToJs;
  return {
    seen,
    exported: otlp?.exported ?? 0,
    lost,
    pending: onTheirWay + heldForApi + (otlp?.pending ?? 0),
    exportFailures: otlp?.failures ?? new Map(),
    ...(books ? { handover: books } : {}),
  };
}

export function totalLost(lost: Record<LossStage, number>): number {
  return LOSS_STAGES.reduce((sum, stage) => sum + lost[stage], 0);
}

/** " (a 1, b 2, delivery unknown: c 3)": losses by reason, those that may have reached the receiver said apart. */
function byReason(counts: Map<string, number>, unknown: ReadonlySet<string>): string {
  const of = (fateUnknown: boolean): string[] => [...counts].filter(([reason]) => unknown.has(reason) === fateUnknown).map(([reason, n]) => `${reason} ${n}`);
  const unknownParts = of(true);
  return ` (${[...of(false), ...(unknownParts.length ? [`delivery unknown: ${unknownParts.join(', ')}`] : [])].join(', ')})`;
}

/** "kernel 3, export 40 (network 40)" for the stages that lost anything. */
export function describeLosses(lost: Record<LossStage, number>, failures: Map<string, number>, handoverLosses?: Map<HandoverLossReason, number>): string {
  const parts: string[] = [];
  for (const stage of LOSS_STAGES) {
    if (!lost[stage]) continue;
    let part = `${stage} ${lost[stage]}`;
    if (stage === 'export' && failures.size) part += byReason(failures, DELIVERY_UNKNOWN_REASONS);
    if (stage === 'handover' && handoverLosses?.size) part += byReason(handoverLosses, HANDOVER_DELIVERY_UNKNOWN);
    parts.push(part);
  }
  return parts.join(', ');
}
