import { sprintf } from 'sprintf-js';
import type { CountEntry } from '../kernel/decode';
import { AF_INET, formatAddress } from '../naming/net/address';

export const COUNT_FORMATS = {
  header: '\n%-32s %20s     %-10s',
  key: '%-32s %20s',
  row: '%s     %-10d',
} as const;

/** Most binds first, IPv4 before IPv6 on a tie (as bcc lists them). */
function mostFirst(entries: readonly CountEntry[]): CountEntry[] {
  return [...entries].sort((a, b) => {
    if (a.binds !== b.binds) return a.binds > b.binds ? -1 : 1;
    if (a.family !== b.family) return a.family === AF_INET ? -1 : 1;
    return 0;
  });
}

/**
 * bcc's --count table: a blank line, the header, then one row per address and
 * port, most binds first (IPv4 before IPv6 on a tie, as bcc lists them).
 */
export function formatCountTable(entries: readonly CountEntry[]): string {
  const lines = [sprintf(COUNT_FORMATS.header, 'LADDR', 'LPORT', 'BINDS')];
  for (const e of mostFirst(entries)) {
    const key = sprintf(COUNT_FORMATS.key, formatAddress(e.family, e.addr), String(e.port));
    lines.push(sprintf(COUNT_FORMATS.row, key, Number(e.binds)));
  }
  return lines.join('\n') + '\n';
}

/**
 * --count -o json: one JSON object per address and port, in the table's order,
 * with the attribute names of the bind records (`network.local.address`,
 * `network.local.port`, `network.type`) and `bindsnoop.binds`.
 */
export function formatCountJson(entries: readonly CountEntry[]): string {
  return mostFirst(entries)
    .map((e) =>
      JSON.stringify({
        'network.local.address': formatAddress(e.family, e.addr),
        'network.local.port': e.port,
        'network.type': e.family === AF_INET ? 'ipv4' : 'ipv6',
        'bindsnoop.binds': Number(e.binds),
      }) + '\n',
    )
    .join('');
}
