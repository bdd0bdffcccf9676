import fc from 'fast-check';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import { decodeLogsResponseJson, decodeLogsResponseProtobuf, MalformedResponse } from '../../src/otlp/response';

/*
 * The transport's reading of an ExportLogsServiceResponse, against the official
 * protos (protobufjs code generated from opentelemetry-proto) and the SDK's own
 * response deserializers, which it replaces on the direct pipeline's path.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const root = require('otlp-proto-reference/build/src/generated/root') as {
  opentelemetry: { proto: { collector: { logs: { v1: { ExportLogsServiceResponse: { encode(o: unknown): { finish(): Uint8Array }; fromObject(o: unknown): unknown } } } } } };
};
const Response = root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse;
const RUNS = { numRuns: process.env.CI === 'true' ? 500 : 200 };

/** An unknown field of each wire type, as a newer receiver might add: varint, fixed64, bytes, fixed32. */
const unknownFields = fc.array(
  fc.constantFrom(Uint8Array.of(0x78, 0x96, 0x01), Uint8Array.of(0x79, 1, 2, 3, 4, 5, 6, 7, 8), Uint8Array.of(0x7a, 2, 0x61, 0x62), Uint8Array.of(0x7d, 1, 2, 3, 4)),
  { maxLength: 3 },
);
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('an ExportLogsServiceResponse as the transport reads it', () => {
  it('reads the partial success the official protos write, whatever the count and message, past unknown fields', () => {
    fc.assert(
      fc.property(fc.option(fc.record({ rejectedLogRecords: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), errorMessage: fc.string({ maxLength: 60 }) }), { nil: undefined }), unknownFields, unknownFields, (partial, before, after) => {
        const wire = Response.encode(Response.fromObject(partial ? { partialSuccess: { rejectedLogRecords: partial.rejectedLogRecords.toString(), errorMessage: partial.errorMessage } } : {})).finish();
        const got = decodeLogsResponseProtobuf(concat(...before, wire, ...after));
        // the SDK's deserializer, for the same bytes
        const sdk = ProtobufLogsSerializer.deserializeResponse(concat(...before, wire, ...after)) as { partialSuccess?: { rejectedLogRecords?: unknown; errorMessage?: string } };
        const sdkRejected = sdk.partialSuccess?.rejectedLogRecords;
        if (!partial || (partial.rejectedLogRecords === 0n && partial.errorMessage === '')) {
          // proto3 writes no default: an empty partial success, or none
          expect(got.partialSuccess?.rejectedLogRecords ?? '0').toBe('0');
        } else {
          expect(got.partialSuccess?.rejectedLogRecords ?? '0').toBe(partial.rejectedLogRecords.toString());
          expect(got.partialSuccess?.errorMessage ?? '').toBe(partial.errorMessage);
          // the SDK reads an int64 as an unsigned number: the same where that holds it exactly (negative counts, which
          // it reads as huge ones, are not understood either way: the transport takes up to 15 digits)
          const r = partial.rejectedLogRecords;
          if (r >= 0n && r < 1n << 53n) expect(String(sdkRejected ?? 0)).toBe(r.toString());
        }
      }),
      RUNS,
    );
  });

  it('reads OTLP/JSON as the SDK does: the count as a number or its decimal text', () => {
    for (const body of ['{"partialSuccess":{"rejectedLogRecords":3,"errorMessage":"x"}}', '{"partialSuccess":{"rejectedLogRecords":"12"}}', '{}', '{"partialSuccess":{}}']) {
      const bytes = new TextEncoder().encode(body);
      const sdk = JsonLogsSerializer.deserializeResponse(bytes) as { partialSuccess?: { rejectedLogRecords?: unknown } };
      const got = decodeLogsResponseJson(bytes);
      expect(got.partialSuccess?.rejectedLogRecords).toBe(sdk.partialSuccess?.rejectedLogRecords === undefined ? undefined : String(sdk.partialSuccess.rejectedLogRecords));
    }
    expect(() => decodeLogsResponseJson(new TextEncoder().encode('null'))).toThrow(MalformedResponse);
    expect(() => decodeLogsResponseJson(new TextEncoder().encode('{"partial'))).toThrow(SyntaxError);
  });

  it('any bytes at all are a response or a MalformedResponse, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const r = decodeLogsResponseProtobuf(bytes);
          expect(typeof r).toBe('object');
        } catch (e) {
          expect(e).toBeInstanceOf(MalformedResponse);
        }
      }),
      { numRuns: RUNS.numRuns * 4 },
    );
    // cut short, a length past the end, a varint that never ends, a wire type that does not exist, a group (which
    // the SDK's reader does not take either)
    for (const bad of [Uint8Array.of(0x0a, 0x05, 0x08), Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), Uint8Array.of(0x08, ...Array(11).fill(0xff)), Uint8Array.of(0x0e), Uint8Array.of(0x7b, 0x08, 0x01, 0x7c)]) {
      expect(() => decodeLogsResponseProtobuf(bad)).toThrow(MalformedResponse);
    }
    expect(() => ProtobufLogsSerializer.deserializeResponse(Uint8Array.of(0x7b, 0x08, 0x01, 0x7c))).toThrow();
  });
});
