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

/** Entries of an encoded batch (NativeTracer.start): (u32 resource slot, u32 length, LogRecord), little-endian. */
export function eachEncoded(batch: Buffer, onRecord: (slot: number, record: Buffer) => void): number {
  let n = 0;
  for (let p = 0; p + 8 <= batch.length; ) {
    const slot = batch.readUInt32LE(p);
    const length = batch.readUInt32LE(p + 4);
    const end = p + 8 + length;
    if (end > batch.length) break;
    onRecord(slot, batch.subarray(p + 8, end));
    p = end;
    n++;
  }
  return n;
}
