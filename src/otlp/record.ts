import { SeverityNumber } from '@opentelemetry/api-logs';
import type { AppConfig } from '../config/schema';
import type { Attributes } from '../model/attributes';
import type { NamedBind } from '../model/named-bind';
import { bodyLine } from '../naming/body';

export const EVENT_NAME = 'bindsnoop.bind';

export interface BindLogRecord {
  eventName: string;
  /** the bind's time on the wall clock, ns since the epoch (time_unix_nano) */
  timeUnixNano: bigint;
  /** when the agent read it, ns since the epoch (observed_time_unix_nano) */
  observedTimeUnixNano: bigint;
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

/** A bind's record has at most this many attributes: a count limit at or above it never applies. */
const MOST_ATTRIBUTES_OF_A_BIND = 64;

/** The log record limits, or undefined when they cannot apply (the hot path then skips them). */
export function attributeLimits(otlp: Pick<AppConfig['otlp'], 'attributeCountLimit' | 'attributeValueLengthLimit'>): AttributeLimits | undefined {
  const countApplies = otlp.attributeCountLimit > 0 && otlp.attributeCountLimit < MOST_ATTRIBUTES_OF_A_BIND;
  if (!countApplies && otlp.attributeValueLengthLimit === 0) return undefined;
  return { countLimit: countApplies ? otlp.attributeCountLimit : 0, valueLengthLimit: otlp.attributeValueLengthLimit };
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

/** The log record for one bind (docs/CONTRACT.md, section 2), from what the router computed once. */
export function bindLogRecord(bind: NamedBind, observedNs: bigint): BindLogRecord {
  const e = bind.event;
  const failed = e.ret !== 0;
  return {
    eventName: EVENT_NAME,
    timeUnixNano: bind.wallNs,
    observedTimeUnixNano: observedNs,
    severityNumber: failed ? SeverityNumber.WARN : SeverityNumber.INFO,
    severityText: failed ? 'WARN' : 'INFO',
    body: bodyLine(e),
    attributes: bind.attributes,
  };
}
