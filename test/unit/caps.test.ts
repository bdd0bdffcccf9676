import { describe, expect, it } from 'vitest';
import { capabilityNames, effectiveCapabilities, missingCapabilities } from '../../src/cli/caps';

describe('capabilities', () => {
  it('reads CapEff from /proc/self/status', () => {
    const status = 'Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t000000c000000000\nCapEff:\t000000c000000000\n';
    expect(effectiveCapabilities(status)).toEqual(['CAP_PERFMON', 'CAP_BPF']);
    expect(capabilityNames('0000000000200000')).toEqual(['CAP_SYS_ADMIN']);
    expect(capabilityNames('0')).toEqual([]);
    expect(capabilityNames('000001ffffffffff')).toHaveLength(41);
  });
  it('needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN', () => {
    expect(missingCapabilities(['CAP_BPF', 'CAP_PERFMON'])).toEqual([]);
    expect(missingCapabilities(['CAP_SYS_ADMIN'])).toEqual([]);
    expect(missingCapabilities(['CAP_BPF'])).toEqual(['CAP_PERFMON']);
    expect(missingCapabilities([])).toEqual(['CAP_BPF', 'CAP_PERFMON']);
  });
});
