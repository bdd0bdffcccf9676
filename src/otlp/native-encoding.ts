import type { AppConfig } from '../config/schema';
import { loadAddon, type NativeRecordEncoder } from '../kernel/native';
import { BIND_ATTRIBUTE_KEYS } from '../naming/bind-attribute-keys';
import { errnoNameTable } from '../naming/net/errno';
import { protocolNameTable } from '../naming/net/protocols';
import { attributeLimits, EVENT_NAME } from './record';

/**
 * The addon's record encoder, made from what JavaScript declares once (the
 * attributes' keys, the errno and protocol names, the event's name, the
 * record limits): the reader thread then writes each record's LogRecord as
 * src/otlp/encode.ts writes it through src/naming/bind-attributes.ts.
 */
export function recordEncoder(otlp: Pick<AppConfig['otlp'], 'attributeCountLimit' | 'attributeValueLengthLimit'>): NativeRecordEncoder {
  const limits = attributeLimits(otlp);
  return new (loadAddon().RecordEncoder)({
    keys: BIND_ATTRIBUTE_KEYS,
    errnoNames: errnoNameTable(),
    protocolNames: protocolNameTable(),
    eventName: EVENT_NAME,
    countLimit: limits?.countLimit ?? 0,
    valueLengthLimit: limits?.valueLengthLimit ?? 0,
  });
}

/**
 * The runs of an encoded batch (NativeTracer.start): each (u32 resource slot, u32 records, u32 bytes), then its
 * records as ScopeLogs.log_records fields, little-endian; how many records they hold.
 */
export function eachRun(batch: Buffer, onRun: (slot: number, fields: Buffer, records: number) => void): number {
  let n = 0;
  for (let p = 0; p + 12 <= batch.length; ) {
    const slot = batch.readUInt32LE(p);
    const records = batch.readUInt32LE(p + 4);
    const end = p + 12 + batch.readUInt32LE(p + 8);
    if (end > batch.length) break;
    onRun(slot, batch.subarray(p + 12, end), records);
    p = end;
    n += records;
  }
  return n;
}
