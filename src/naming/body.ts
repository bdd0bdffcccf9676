import type { BindEvent } from '../model/event';
import { commText, optsString, requestedFamily, shownAddress } from './bind-attributes';
import { AF_INET6 } from './net/address';
import { errnoName } from './net/errno';
import { protocolName } from './net/protocols';

function hostPort(e: BindEvent, port: number): string {
  const address = shownAddress(e);
  // the family the address is shown in: the socket's, or for a failed bind the request's (as shownAddress decodes it)
  const family = e.ret === 0 ? e.family : requestedFamily(e);
  return family === AF_INET6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One readable line: "nginx[1234] bound TCP 0.0.0.0:80 opts=...R. if=0" or "... bind TCP 0.0.0.0:80 failed: EADDRINUSE". */
export function bodyLine(e: BindEvent): string {
  const who = `${commText(e)}[${e.pid}]`;
  const proto = protocolName(e.protocol);
  if (e.ret !== 0) return `${who} bind ${proto} ${hostPort(e, e.reqPort)} failed: ${errnoName(e.ret)}`;
  return `${who} bound ${proto} ${hostPort(e, e.boundPort)} opts=${optsString(e.opts)} if=${e.boundDevIf}`;
}
