import type { Attributes } from '../model/attributes';
import type { RequestEncoding, ResourceGroup, ScopeInput } from './encode';
import type { ExportOutcome } from './exporter';
import { ExportStage, sleep, type ExportStageOptions } from './export-stage';
import { limitAttributes, type AttributeLimits, type BindLogRecord } from './record';
import type { CachedResource } from './resource-cache';
import { SEMCONV_SCHEMA_URL } from '../naming/resource';

/** An encoded request and how many records it carries. */
export interface EncodedRequest {
  body: Uint8Array;
  count: number;
}

/**
 * Sends one request; `done` is called once with what became of its records,
 * `released` once the transport no longer reads its body (retries included:
 * after `done`, or later when `done` came at the export's deadline).
 */
export type SendRequest = (request: EncodedRequest, done: (outcome: ExportOutcome) => void, released: () => void) => void;

export interface DirectPipelineOptions<Encoded> extends ExportStageOptions {
  encoding: RequestEncoding<Encoded>;
  send: SendRequest;
  /** stops the transport, once, after the last request */
  closeTransport: () => Promise<void>;
  /** encoded bytes held at most (waiting and being exported); past it new records are dropped */
  maxQueueBytes: number;
  maxExportBatchSize: number;
  flushIntervalMillis: number;
  scopeName: string;
  scopeVersion: string;
  /** the log record limits, when any can apply (a bind has a few dozen attributes) */
  limits?: AttributeLimits;
}

/** Requests in flight at once at most: enough to keep a receiver busy while the next batch fills. */
export const MAX_CONCURRENT_EXPORTS = 4;

/** A record is a few hundred bytes: within this much of the byte bound counts as full. */
const FULL_WITHIN_BYTES = 4096;

interface QueuedRecord<Encoded> {
  resource: CachedResource<Encoded>;
  /** a LogRecord message; or, `fields`, records as ScopeLogs.log_records fields one after another (the addon's) */
  encoded: Encoded;
  bytes: number;
  /** records it holds (one unless `fields`) */
  records?: number;
  fields?: boolean;
}

/**
 * The direct export pipeline (otlp.pipeline: direct, the default). Each record
 * is encoded once, when it is queued, straight from the bind; a resource's and
 * the scope's messages are encoded once and reused; a request is those bytes
 * put together, in the bytes the SDK pipeline sends for the same records. The
 * queue is bounded in records and in bytes. It owns its flush timer: a batch
 * goes when it is full, or flushIntervalMillis after its first record.
 */
export class DirectPipeline<Encoded> extends ExportStage<QueuedRecord<Encoded>, Encoded> {
  private scope: ScopeInput;
  private scopeEncoded: Encoded;
  protected queuedBytes = 0;
  protected inFlightBytes = 0;
  private inFlightExports = 0;
  private flushTimer?: NodeJS.Timeout;
  /** the timer fired (or shutdown began): send what is queued even if short of a batch */
  private flushDue = false;
  /** request bodies the transport is done with, written again (fresh memory costs a page fault a page) */
  private readonly spareBodies: Buffer[] = [];

  constructor(protected readonly options: DirectPipelineOptions<Encoded>) {
    super(options);
    this.scope = { name: options.scopeName, version: options.scopeVersion, attributes: {}, schemaUrl: SEMCONV_SCHEMA_URL };
    this.scopeEncoded = options.encoding.scope(this.scope);
  }

  protected buildResource(resource: Attributes): Encoded {
    return this.options.encoding.resource(resource, SEMCONV_SCHEMA_URL);
  }

  setScopeAttributes(attributes: Attributes): void {
    this.scope = { ...this.scope, attributes };
    this.scopeEncoded = this.options.encoding.scope(this.scope);
  }

  protected override fullBeyondCount(): boolean {
    return this.queuedBytes + this.inFlightBytes + FULL_WITHIN_BYTES > this.options.maxQueueBytes;
  }

  protected admit(record: BindLogRecord, resource: CachedResource<Encoded>): QueuedRecord<Encoded> | undefined {
    return this.admitEncoded(this.options.encoding.record(this.options.limits ? limitAttributes(record, this.options.limits) : record), resource);
  }

  /** An encoded record, within the byte bound (else released: undefined). */
  protected admitEncoded(encoded: Encoded, resource: CachedResource<Encoded>): QueuedRecord<Encoded> | undefined {
    const bytes = this.options.encoding.size(encoded);
    if (this.queuedBytes + this.inFlightBytes + bytes > this.options.maxQueueBytes) {
      this.options.encoding.release(encoded);
      return undefined;
    }
    this.queuedBytes += bytes;
    return { resource, encoded, bytes };
  }

  protected queued(): void {
    if (this.queuedCount >= this.options.maxExportBatchSize) this.pump();
    else this.armFlushTimer();
  }

  private armFlushTimer(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flushDue = true;
      this.pump();
    }, this.options.flushIntervalMillis);
  }

  /** Sends batches while there are full ones (or a flush is due) and room in flight. */
  protected pump(): void {
    while (this.inFlightExports < MAX_CONCURRENT_EXPORTS && this.queuedCount > 0 && (this.flushDue || this.queuedCount >= this.options.maxExportBatchSize)) {
      this.sendBatch();
    }
    if (this.queuedCount === 0) this.flushDue = false;
    if (this.queuedCount > 0 && !this.flushDue && !this.finalized) this.armFlushTimer();
  }

  private sendBatch(): void {
    const count = Math.min(this.queuedCount, this.options.maxExportBatchSize);
    // group by resource, in order of first appearance (as the SDK's serializer does)
    const groups = new Map<CachedResource<Encoded>, ResourceGroup<Encoded>>();
    let bytes = 0;
    const taken: QueuedRecord<Encoded>[] = [];
    for (let records = 0; records < count; ) {
      const q = this.takeQueuedUpTo(count - records);
      taken.push(q);
      records += q.records ?? 1;
      bytes += q.bytes;
      let group = groups.get(q.resource);
      if (!group) groups.set(q.resource, (group = { resource: q.resource.value, records: [] }));
      if (q.fields) (group.fields ??= []).push(q.encoded);
      else group.records.push(q.encoded);
    }
    const { body, backing } = this.options.encoding.request([...groups.values()], this.scopeEncoded, SEMCONV_SCHEMA_URL, this.spareBodies.pop());
    // copied into the body: what held them can be written again
    for (const group of groups.values()) for (const encoded of group.records) this.options.encoding.release(encoded);
    for (const item of taken) this.released(item);
    this.queuedBytes -= bytes;
    this.inFlight += count;
    this.inFlightBytes += bytes;
    this.inFlightExports++;
    this.options.send(
      { body, count },
      (outcome) => {
        this.inFlightExports--;
        this.inFlightBytes -= bytes;
        this.settle(count, outcome);
      },
      () => {
        if (this.spareBodies.length < MAX_CONCURRENT_EXPORTS) this.spareBodies.push(backing);
      },
    );
  }

  /** A queue entry was copied into a request (and is no longer read). */
  protected released(item: QueuedRecord<Encoded>): void {
    void item;
  }

  protected override beginShutdown(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  protected async drainStep(deadlineMs: number): Promise<void> {
    this.flushDue = true;
    this.pump();
    await sleep(Math.min(10, deadlineMs - Date.now()));
  }

  protected close(): Promise<void> {
    this.queuedBytes = 0;
    return this.options.closeTransport();
  }
}

/** The end of the first `records` of ScopeLogs.log_records fields from `start` (each a tag, a varint length, the record). */
function fieldsEnd(fields: Buffer, start: number, records: number): number {
  let p = start;
  for (let i = 0; i < records; i++) {
    p++; // the tag (field 2, length-delimited)
    let length = 0;
    for (let scale = 1; ; scale *= 128) {
      const b = fields[p++];
      length += (b & 0x7f) * scale;
      if (b < 0x80) break;
    }
    p += length;
  }
  return p;
}

/** Of the first `records` fields, those whose bytes come to at most `bytes`: how many, and where they end. */
function fieldsWithin(fields: Buffer, records: number, bytes: number): { records: number; end: number } {
  let n = 0;
  let end = 0;
  for (; n < records; n++) {
    const next = fieldsEnd(fields, end, 1);
    if (next > bytes) break;
    end = next;
  }
  return { records: n, end };
}

/**
 * The direct pipeline with protobuf encoding, which also takes records the
 * addon encoded on its reader thread: runs of LogRecord fields, queued as one
 * entry each (split where a batch or a bound ends) and copied into requests
 * as they are.
 */
export class ProtobufDirectPipeline extends DirectPipeline<Buffer> {
  /** the addon's batches some run of which is queued: how many entries hold them, and what to call once none does */
  private readonly batches = new Map<ArrayBufferLike, { entries: number; batch?: Buffer; recycle?: (batch: Buffer) => void }>();

  enqueueEncoded(fields: Buffer, records: number, resource: Attributes): number {
    let queued = Math.min(records, this.roomInQueue);
    // all of them, most often: no need to walk the fields
    let end = queued === records ? fields.length : fieldsEnd(fields, 0, queued);
    const bytesRoom = this.options.maxQueueBytes - this.queuedBytes - this.inFlightBytes;
    if (end > bytesRoom) ({ records: queued, end } = fieldsWithin(fields, queued, bytesRoom));
    if (queued < records) this.dropFull(records - queued);
    if (queued === 0) return 0;
    this.queuedBytes += end;
    this.holds(fields, 1);
    this.push({ resource: this.resources.get(resource), encoded: fields.subarray(0, end), bytes: end, records: queued, fields: true });
    return queued;
  }

  encodedBatchOffered(batch: Buffer, recycle: (batch: Buffer) => void): void {
    const held = this.batches.get(batch.buffer);
    if (!held) {
      recycle(batch);
      return;
    }
    held.batch = batch;
    held.recycle = recycle;
  }

  /** `entries` more (or, negative, fewer) queue entries hold a view of this batch; at none, it is recycled. */
  private holds(view: Buffer, entries: number): void {
    const held = this.batches.get(view.buffer);
    if (!held) {
      this.batches.set(view.buffer, { entries });
      return;
    }
    held.entries += entries;
    if (held.entries > 0) return;
    this.batches.delete(view.buffer);
    if (held.batch) held.recycle?.(held.batch);
  }

  protected override released(item: QueuedRecord<Buffer>): void {
    if (item.fields) this.holds(item.encoded, -1);
  }

  protected override split(item: QueuedRecord<Buffer>, records: number): [QueuedRecord<Buffer>, QueuedRecord<Buffer>] {
    const at = fieldsEnd(item.encoded, 0, records);
    this.holds(item.encoded, 1);
    return [
      { resource: item.resource, encoded: item.encoded.subarray(0, at), bytes: at, records, fields: true },
      { resource: item.resource, encoded: item.encoded.subarray(at), bytes: item.bytes - at, records: (item.records ?? 1) - records, fields: true },
    ];
  }
}
