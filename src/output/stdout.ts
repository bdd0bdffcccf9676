import type { Attributes } from '../model/attributes';
import type { EventOutput, NamingOutput } from '../model/named-bind';
import { formatJsonLine } from './json';
import { terminalBytes, TableFormatter, type TableOptions } from './table';

/** bcc's table, one row per bind, as the exact bytes bcc would print. */
export function tableOutput(options: TableOptions, write: (chunk: Buffer, binds: number) => void): EventOutput & { header(): string } {
  const table = new TableFormatter(options);
  return {
    reads: 'events',
    header: () => table.header(),
    write(binds) {
      let out = '';
      for (const b of binds) out += table.row(b.event, b.pod) + '\n';
      write(terminalBytes(out), binds.length);
    },
  };
}

/** One JSON object per bind: the log attributes, the resource and the scope's attributes, flat. */
export function jsonOutput(scope: () => Attributes, write: (chunk: string, binds: number) => void): NamingOutput {
  return {
    reads: 'named',
    write(binds) {
      const scopeAttributes = scope();
      let out = '';
      for (const b of binds) out += formatJsonLine(b.wallNs, b.attributes, b.resource, scopeAttributes) + '\n';
      write(out, binds.length);
    },
  };
}
