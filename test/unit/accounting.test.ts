import { describe, expect, it } from 'vitest';
import { account, describeLosses, totalLost } from '../../src/agent/accounting';
import type { SourceStats } from '../../src/kernel/source';

const native = (over: Partial<SourceStats>): SourceStats => ({
  kernelRingFull: 0, kernelInflightFull: 0, kernelCountFull: 0, kernelInflightOrphaned: 0, recordsRead: 0,
  recordsMalformed: 0, readerQueueFull: 0, batchesQueued: 0, drainPasses: 0, readerAlive: true, readerErrno: 0, recordsRejected: 0, ...over,
});

describe('accounting', () => {
  it('balances: seen = exported + lost + pending, with binds outside the selection not seen', () => {
    // 100 read and 1 malformed record, 4 lost in the kernel (ring full, no inflight room, a missed kretprobe),
    // 5 dropped by the reader, 90 reached JS (2 of them outside the selection), 5 still on their way
    const otlp = { exported: 80, lostExportQueue: 4, lostExport: 3, failures: new Map([['network', 3]]), pending: 1 };
    const stats = native({ recordsRead: 100, recordsMalformed: 1, kernelRingFull: 2, kernelInflightFull: 1, kernelInflightOrphaned: 1, readerQueueFull: 5 });
    const a = account(stats, otlp, 90, 2);
    expect(a.seen).toBe(103);
    expect(a.lost).toEqual({ kernel: 4, reader: 6, export_queue: 4, export: 3 });
    expect(a.pending).toBe(5 + 1);
    expect(a.exported + totalLost(a.lost) + a.pending).toBe(a.seen);
    expect(describeLosses(a.lost, a.exportFailures)).toBe('kernel 4, reader 6, export_queue 4, export 3 (network 3)');
  });

  it('says which export failures are of unknown delivery, apart from known losses', () => {
    const failures = new Map([['network', 3], ['delivery_unknown', 5], ['incomplete_response', 1]]);
    expect(describeLosses({ kernel: 0, reader: 0, export_queue: 0, export: 9 }, failures)).toBe('export 9 (network 3, delivery unknown: delivery_unknown 5, incomplete_response 1)');
  });

  it('counts records the decoder refused as lost at the reader, not as pending', () => {
    const otlp = { exported: 95, lostExportQueue: 0, lostExport: 0, failures: new Map<string, number>(), pending: 0 };
    const a = account(native({ recordsRead: 100, recordsRejected: 5 }), otlp, 95);
    expect(a).toMatchObject({ seen: 100, exported: 95, pending: 0 });
    expect(a.lost.reader).toBe(5);
    expect(a.exported + totalLost(a.lost) + a.pending).toBe(a.seen);
  });
});
