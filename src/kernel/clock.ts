/**
 * Kernel event times are CLOCK_BOOTTIME nanoseconds; users want wall-clock
 * time. offset = realtime - boottime, sampled back to back by the addon and
 * refreshed periodically so NTP steps and suspend are picked up.
 */
export function wallClockNs(tsBootNs: bigint, offsetNs: bigint): bigint {
  return tsBootNs + offsetNs;
}

export interface ClockPair {
  realtimeNs: bigint;
  boottimeNs: bigint;
}

export class BootClock {
  private offsetNs: bigint;
  private sampledAtMs: number;

  constructor(
    private readonly sample: () => ClockPair,
    private readonly refreshIntervalMillis = 1000,
  ) {
    const p = sample();
    this.offsetNs = p.realtimeNs - p.boottimeNs;
    this.sampledAtMs = Date.now();
  }

  /** Wall-clock ns of a kernel boot-time ns. */
  toWallNs(tsBootNs: bigint): bigint {
    const now = Date.now();
    if (now - this.sampledAtMs >= this.refreshIntervalMillis) {
      const p = this.sample();
      this.offsetNs = p.realtimeNs - p.boottimeNs;
      this.sampledAtMs = now;
    }
    return wallClockNs(tsBootNs, this.offsetNs);
  }

  nowWallNs(): bigint {
    return this.sample().realtimeNs;
  }
}
