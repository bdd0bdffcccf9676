import type { HrTime } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import type { BindEvent } from '../model/event';
import { AF_INET6 } from '../naming/net/address';
import { errnoName } from '../naming/net/errno';
import { protocolName } from '../naming/net/protocols';
import type { Attributes } from '../model/attributes';
import type { NamedBind } from '../model/named-bind';
import { commText, optsString, requestedFamily, shownAddress } from '../naming/bind-attributes';

export const EVENT_NAME = 'bindsnoop.bind';

export interface BindLogRecord {
  eventName: string;
  timestamp: HrTime;
  observedTimestamp: HrTime;
  severityNumber: SeverityNumber;
  severityText: string;
  body: string;
  attributes: Attributes;
  /** attributes left out by the attribute count limit (0 when none) */
  droppedAttributesCount?: number;
}

/** The SDK's log record limits (OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT, ..._VALUE_LENGTH_LIMIT); 0 = no limit. */
export interface AttributeLimits {
  countLimit: number;
  valueLengthLimit: number;
}

/**
 * The record with its attributes as the SDK's limits make them: string values,
 * and each string of an array, cut to valueLengthLimit characters, the
 * attributes past countLimit left out (the first ones kept, as the SDK keeps
 * them) and counted in droppedAttributesCount. The same record when no limit
 * applies. Pure.
 */
export function limitAttributes(record: BindLogRecord, limits: AttributeLimits): BindLogRecord {
  const keys = Object.keys(record.attributes);
  const limit = limits.valueLengthLimit;
  const tooLong = (v: unknown): boolean => (typeof v === 'string' ? v.length > limit : Array.isArray(v) && v.some((x) => x.length > limit));
  const cut = limit > 0 && keys.some((k) => tooLong(record.attributes[k]));
  const over = limits.countLimit > 0 && keys.length > limits.countLimit;
  if (!cut && !over) return record;
  const attributes: Attributes = {};
  const kept = over ? keys.slice(0, limits.countLimit) : keys;
  for (const k of kept) {
    const v = record.attributes[k];
    attributes[k] = !cut || !tooLong(v) ? v : typeof v === 'string' ? v.slice(0, limit) : (v as string[]).map((x) => x.slice(0, limit));
  }
  return { ...record, attributes, droppedAttributesCount: keys.length - kept.length };
}

export function hrTimeFromNs(ns: bigint): HrTime {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

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

/** The log record for one bind (docs/CONTRACT.md, section 2), from what the router computed once. */
export function bindLogRecord(bind: NamedBind, observedNs: bigint): BindLogRecord {
  const e = bind.event;
  const failed = e.ret !== 0;
  return {
    eventName: EVENT_NAME,
    timestamp: hrTimeFromNs(bind.wallNs),
    observedTimestamp: hrTimeFromNs(observedNs),
    severityNumber: failed ? SeverityNumber.WARN : SeverityNumber.INFO,
    severityText: failed ? 'WARN' : 'INFO',
    body: bodyLine(e),
    attributes: bind.attributes,
  };
}
