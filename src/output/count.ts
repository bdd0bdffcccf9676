import { sprintf } from 'sprintf-js';
import type { CountEntry } from '../kernel/decode';
import { AF_INET } from '../naming/net/address';
import { formatAddress } from '../naming/net/address';

export const COUNT_FORMATS = {
  header: '\n%-32s %20s     %-10s',
  key: '%-32s %20s',
  row: '%s     %-10d',
} as const;

/**
 * bcc's --count table: a blank line, the header, then one row per address and
 * port, most binds first (IPv4 before IPv6 on a tie, as bcc lists them).
 */
export function formatCountTable(entries: readonly CountEntry[]): string {
  const sorted = [...entries].sort((a, b) => {
    if (a.binds !== b.binds) return a.binds > b.binds ? -1 : 1;
    if (a.family !== b.family) return a.family === AF_INET ? -1 : 1;
    return 0;
  });
  const lines = [sprintf(COUNT_FORMATS.header, 'LADDR', 'LPORT', 'BINDS')];
  for (const e of sorted) {
    const key = sprintf(COUNT_FORMATS.key, formatAddress(e.family, e.addr), String(e.port));
    lines.push(sprintf(COUNT_FORMATS.row, key, Number(e.binds)));
  }
  return lines.join('\n') + '\n';
}
