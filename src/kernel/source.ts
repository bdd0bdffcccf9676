import { readFileSync } from 'node:fs';
import { countBatch, decodeBatch, decodeCounts, type CountEntry } from './decode';
import { BindsnoopError } from '../model/errors';
import type { BindEvent } from '../model/event';
import { isNativeError, loadAddon, type BackendInfo, type HandoverInfo, type NativeTracer, type NativeTracerOptions, type NativeTracerStats, type NativeRecordEncoder } from './native';

/**
 * Why a refusal (EPERM) may not be a missing capability: the capabilities are
 * checked before anything loads, but a seccomp filter (a container runtime's
 * default profile) can refuse bpf() or perf_event_open() whatever they are.
 */
export const SECCOMP_HINT =
  'this process runs under a seccomp filter (Seccomp: 2 in /proc/self/status), which refuses bpf() or perf_event_open(): a container runtime\'s default profile that allows them only with CAP_SYS_ADMIN; run with the profile shipped as k8s/seccomp/bindsnoop.json (type Localhost), or unconfined';

/** Whether /proc/self/status says a seccomp filter is on (Seccomp: 2). Pure. */
export function seccompFiltered(status: string): boolean {
  return /^Seccomp:\s*2$/m.test(status);
}

function readStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}

/** One line for stderr and the daemon log: the backend in use and why each better one was not. */
export function describeBackend(info: BackendInfo): string {
  const line = `tracing with the ${info.name} backend (${info.attachedTo})`;
  return info.notes.length ? `${line}; not ${info.notes.join('; not ')}` : line;
}

/** The addon's counters, and the records the decoder refused. */
export interface SourceStats extends NativeTracerStats {
  /** read, but not a record this build's program can have written: counted as lost at the reader */
  recordsRejected: number;
}

/** Records the addon encodes where it reads them, and where they go. */
export interface EncodedDelivery {
  encoder: NativeRecordEncoder;
  onEncoded: (encoded: Buffer) => void;
  /** only the records of cgroups named by encodeCgroupAs are encoded (Kubernetes: JavaScript resolves the pods) */
  cgroupSlots: boolean;
}

/** A loaded, attached tracer whose records arrive decoded, in batches. */
export class BindSource {
  private rejected = 0;

  private constructor(private readonly tracer: NativeTracer, private readonly withArgs: boolean) {}

  /** Loads and attaches, or throws a BindsnoopError with nothing left in the kernel. */
  static open(options: NativeTracerOptions): BindSource {
    const addon = loadAddon();
    try {
      return new BindSource(new addon.Tracer(options), options.readArgs);
    } catch (e) {
      if (isNativeError(e)) {
        // a --cgroupmap/--mntnsmap that is missing or of the wrong shape is the user's to fix, found before loading
        const detail = process.env.BINDSNOOP_LIBBPF_DEBUG && e.details ? `\n${e.details}` : '';
        const message = e.code === 'EPERM' && e.hint && seccompFiltered(readStatus()) ? e.message.replace(`(${e.hint})`, `(${SECCOMP_HINT})`) : e.message;
        throw new BindsnoopError(e.userInput ? 'USAGE' : 'KERNEL', message + detail, e.code);
      }
      throw e;
    }
  }

  /**
   * Delivers the records in decoded batches; with `encoded`, the records its encoder encodes on the reader thread go
   * to its onEncoded as they are (see NativeTracer.start), the others decoded to onEvents.
   */
  start(onEvents: (events: BindEvent[]) => void, encoded?: EncodedDelivery): void {
    this.tracer.start(
      (records, encodedRecords) => {
        if (encodedRecords && encodedRecords.length > 0) encoded?.onEncoded(encodedRecords);
        if (records.length === 0) return;
        if (this.countOnly) {
          const counted = countBatch(records, this.withArgs);
          this.rejected += counted.rejected;
          this.countOnly(counted.records);
          return;
        }
        const batch = decodeBatch(records, this.withArgs);
        this.rejected += batch.rejected;
        onEvents(batch.events);
      },
      encoded?.encoder,
      encoded?.cgroupSlots,
    );
  }

  /**
   * Nothing reads the records (-q without export): before start(), they are counted instead of decoded (the
   * records this build's program can have written to `onCount`, the others rejected as decoding would).
   */
  countInsteadOfDecoding(onCount: (records: number) => void): void {
    this.countOnly = onCount;
  }

  private countOnly?: (records: number) => void;

  /** Encoding by cgroup (EncodedDelivery.cgroupSlots): the records of a cgroup go as of this resource slot. */
  encodeCgroupAs(cgroupId: bigint, slot: number): boolean {
    return this.tracer.encodeCgroupAs(cgroupId, slot);
  }

  /** An encoded batch no longer read: its memory is the reader's again (NativeTracer.recycleEncoded). */
  recycleEncoded(batch: Buffer): boolean {
    return this.tracer.recycleEncoded(batch);
  }

  /** Encoding by cgroup: none is named any more. */
  forgetEncodedCgroups(): void {
    this.tracer.forgetEncodedCgroups();
  }

  /**
   * Detaches, then resolves once every record read has been handed to onEvents. With handover the programs stay
   * attached for the next agent, unless `keepAttached` is false: then the pinned set is removed.
   */
  stop(keepAttached = true): Promise<void> {
    return this.tracer.stop(keepAttached);
  }

  stats(): SourceStats {
    return { ...this.tracer.stats(), recordsRejected: this.rejected };
  }

  counts(): CountEntry[] {
    return decodeCounts(this.tracer.counts());
  }

  attached(): boolean {
    return this.tracer.attached();
  }

  /** The backend in use, and why each better one was not. */
  backend(): BackendInfo {
    return this.tracer.backend();
  }

  /** Handover: the takeover of the pinned set and its gap's books; null without handover. */
  handover(): HandoverInfo | null {
    return this.tracer.handover();
  }

  /** Handover: every record read before the first `records` is exported or counted lost (for the next owner's books). */
  settle(records: number): void {
    this.tracer.settle(BigInt(Math.max(0, Math.floor(records))));
  }

  /** The Kubernetes maps (pinned under pinDir), for the agent's reconciler. */
  get maps(): Pick<NativeTracer, 'mapUpdate' | 'mapDelete' | 'mapEntries'> {
    return this.tracer;
  }
}
