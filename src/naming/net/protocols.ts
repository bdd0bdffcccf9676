/**
 * IPPROTO names as bcc prints them: Python's socket.IPPROTO_* without the
 * prefix, "UNKNOWN" otherwise. (Python's table maps 0 to IPPROTO_IP.)
 */
const NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'IP'],
  [1, 'ICMP'],
  [2, 'IGMP'],
  [4, 'IPIP'],
  [6, 'TCP'],
  [8, 'EGP'],
  [12, 'PUP'],
  [17, 'UDP'],
  [22, 'IDP'],
  [29, 'TP'],
  [41, 'IPV6'],
  [43, 'ROUTING'],
  [44, 'FRAGMENT'],
  [46, 'RSVP'],
  [47, 'GRE'],
  [50, 'ESP'],
  [51, 'AH'],
  [58, 'ICMPV6'],
  [59, 'NONE'],
  [60, 'DSTOPTS'],
  [103, 'PIM'],
  [132, 'SCTP'],
  [136, 'UDPLITE'],
  [255, 'RAW'],
  [262, 'MPTCP'],
]);

export function protocolName(protocol: number): string {
  return NAMES.get(protocol) ?? 'UNKNOWN';
}

/** OpenTelemetry's network.transport: lowercase name, or the number when unnamed. */
export function transportName(protocol: number): string {
  const name = NAMES.get(protocol);
  return name ? name.toLowerCase() : String(protocol);
}

/** Every IPPROTO name by its number, for the addon's encoder. */
export function protocolNameTable(): [number, string][] {
  return [...NAMES];
}
