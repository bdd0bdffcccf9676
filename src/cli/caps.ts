/**
 * Effective capabilities, from the CapEff line of /proc/self/status. Pure
 * parsing, so the check can name exactly what is missing before anything is
 * loaded.
 */
const NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export function capabilityNames(capEffHex: string): string[] {
  const bits = BigInt(`0x${capEffHex.trim() || '0'}`);
  return NAMES.filter((_, i) => (bits >> BigInt(i)) & 1n);
}

export function effectiveCapabilities(status: string): string[] {
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return line ? capabilityNames(line[1]) : [];
}

/**
 * What is missing to load and attach: CAP_BPF and CAP_PERFMON (Linux 5.8+:
 * bpf() program load and map creation check CAP_BPF; perf_event_open of a
 * tracepoint and bpf_probe_read_kernel check CAP_PERFMON), or CAP_SYS_ADMIN,
 * which covers both.
 */
export function missingCapabilities(effective: readonly string[]): string[] {
  if (effective.includes('CAP_SYS_ADMIN')) return [];
  return ['CAP_BPF', 'CAP_PERFMON'].filter((c) => !effective.includes(c));
}
