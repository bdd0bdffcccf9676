import type { HandoverInfo } from '../kernel/native';

/** The takeover's facts for the daemon's log. Pure. */
export function handoverFields(info: HandoverInfo): Record<string, number | string | boolean> {
  const { generation, found, previousGeneration, previousOwnerPid, previousVersion, previousProgramTags, heartbeatAgeMillis, ringFull, inflightFull, inflightOrphaned, unowned, unsettled, setAside } = info;
  return found
    ? { generation, previousGeneration, previousOwnerPid, previousVersion, previousProgramTags: [...previousProgramTags].sort().join(','), heartbeatAgeMillis, ringFull, inflightFull, inflightOrphaned, unowned, unsettled, setAside }
    : { generation };
}

/** One line for the daemon's log: a new pinned set, or what the takeover of one found. Pure. */
export function describeTakeover(info: HandoverInfo): string {
  if (!info.found) return 'pinned a new set of programs (handover): they stay attached when this agent stops, for the next one';
  if (!info.previousGeneration) return 'took over a pinned set this release cannot share: its programs retire once these are attached, the binds of its ring are counted, not read';
  const losses = [
    ['lost to a full ring', info.ringFull],
    ['lost with no room in flight', info.inflightFull + info.inflightOrphaned],
    ['skipped while unowned', info.unowned],
    ['taken by the previous reader and not exported before it ended (delivery unknown)', info.unsettled],
  ]
    .filter(([, n]) => (n as number) > 0)
    .map(([what, n]) => `${n} ${what}`);
  const gone = info.previousOwnerPid ? `from pid ${info.previousOwnerPid} (bindsnoop ${info.previousVersion || 'unknown'}), whose reader had been gone ${info.heartbeatAgeMillis} ms` : '';
  return `took over the pinned set ${gone}: the binds its ring kept are read now${losses.length ? `; ${losses.join(', ')}` : '; nothing was lost meanwhile'}`;
}
