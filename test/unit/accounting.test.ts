import { describe, expect, it } from 'vitest';
import { account, describeLosses, totalLost } from '../../src/agent/accounting';
import type { HandoverInfo } from '../../src/kernel/native';
import type { SourceStats } from '../../src/kernel/source';

const native = (over: Partial<SourceStats>): SourceStats => ({
  kernelRingFull: 0, kernelInflightFull: 0, kernelCountFull: 0, kernelInflightOrphaned: 0, kernelUnowned: 0, handoverDuplicates: 0, handoverRecovered: 0, recordsRead: 0,
  recordsMalformed: 0, readerQueueFull: 0, batchesQueued: 0, drainPasses: 0, readerAlive: true, readerErrno: 0, encodedRecords: 0, encodedBytes: 0, encodeNanos: 0, unencodedRecords: 0,
  recordsRejected: 0, ...over,
});

const takeover = (over: Partial<HandoverInfo>): HandoverInfo => ({
  generation: 2, found: true, previousGeneration: 1, previousOwnerPid: 7, previousVersion: '0.6.0', previousProgramTags: ['0123456789abcdef'], heartbeatAgeMillis: 900, ringFull: 0, inflightFull: 0,
  inflightOrphaned: 0, unowned: 0, duplicates: 0, unsettled: 0, setAside: 0, linksRetired: 2, removed: false, ...over,
});

describe('accounting', () => {
  it('books a handover\'s gap: its losses by reason are seen and lost, the recovered binds are read like any other', () => {
    // the pinned ring kept 40 binds while no reader ran (read now: 40 of the 50 read), 6 did not fit it, the
    // previous reader took 3 it never exported, 2 were skipped while the set was unowned (1 of them after the takeover)
    const otlp = { exported: 45, lostExportQueue: 0, lostExport: 0, failures: new Map<string, number>(), pending: 5 };
    const stats = native({ recordsRead: 50, handoverRecovered: 40, handoverDuplicates: 4, kernelUnowned: 1 });
    const a = account(stats, otlp, 50, 0, 0, takeover({ ringFull: 6, unsettled: 3, unowned: 1, duplicates: 1 }));
    expect(a.seen).toBe(50 + 6 + 3 + 2);
    expect(a.lost.handover).toBe(11);
    expect(a.exported + totalLost(a.lost) + a.pending).toBe(a.seen);
    expect(a.handover).toEqual({ generation: 2, recovered: 40, duplicatesDropped: 5, losses: new Map([['ring_full', 6], ['unowned', 2], ['agent_ended', 3]]) });
    expect(describeLosses(a.lost, a.exportFailures, a.handover?.losses)).toBe('handover 11 (ring_full 6, unowned 2, delivery unknown: agent_ended 3)');
  });

  it('has no handover books without a takeover', () => {
    const a = account(native({ recordsRead: 3 }), undefined, 3);
    expect(a.handover).toBeUndefined();
    expect(a.lost.handover).toBe(0);
  });

  it('balances: seen = exported + lost + pending, with binds outside the selection not seen', () => {
    // 100 read and 1 malformed record, 4 lost in the kernel (ring full, no inflight room, a missed kretprobe),
    // 5 dropped by the reader, 90 reached JS (2 of them outside the selection), 5 still on their way
    const otlp = { exported: 80, lostExportQueue: 4, lostExport: 3, failures: new Map([['network', 3]]), pending: 1 };
    const stats = native({ recordsRead: 100, recordsMalformed: 1, kernelRingFull: 2, kernelInflightFull: 1, kernelInflightOrphaned: 1, readerQueueFull: 5 });
    const a = account(stats, otlp, 90, 2);
    expect(a.seen).toBe(103);
    expect(a.lost).toEqual({ kernel: 4, reader: 6, export_queue: 4, export: 3, handover: 0 });
    expect(a.pending).toBe(5 + 1);
    expect(a.exported + totalLost(a.lost) + a.pending).toBe(a.seen);
    expect(describeLosses(a.lost, a.exportFailures)).toBe('kernel 4, reader 6, export_queue 4, export 3 (network 3)');
  });

  it('says which export failures are of unknown delivery, apart from known losses', () => {
    const failures = new Map([['network', 3], ['delivery_unknown', 5], ['incomplete_response', 1]]);
    expect(describeLosses({ kernel: 0, reader: 0, export_queue: 0, export: 9, handover: 0 }, failures)).toBe('export 9 (network 3, delivery unknown: delivery_unknown 5, incomplete_response 1)');
  });

  it('counts records the decoder refused as lost at the reader, not as pending', () => {
    const otlp = { exported: 95, lostExportQueue: 0, lostExport: 0, failures: new Map<string, number>(), pending: 0 };
    const a = account(native({ recordsRead: 100, recordsRejected: 5 }), otlp, 95);
    expect(a).toMatchObject({ seen: 100, exported: 95, pending: 0 });
    expect(a.lost.reader).toBe(5);
    expect(a.exported + totalLost(a.lost) + a.pending).toBe(a.seen);
  });
});
