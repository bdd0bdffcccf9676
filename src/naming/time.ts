/** RFC 3339 in UTC with nanoseconds: 2026-11-25T16:40:00.123456789Z */
export function rfc3339Nanos(epochNs: bigint): string {
  const ms = epochNs / 1_000_000n;
  const nanosInSecond = epochNs % 1_000_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  return `${base}.${nanosInSecond.toString().padStart(9, '0')}Z`;
}
