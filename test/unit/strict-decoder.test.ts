import { describe, expect, it } from 'vitest';
import { strictJsonProblems, strictProtobufProblems } from '../helpers/otlp-receiver';
import { jsonEncoding, protobufEncoding } from '../../src/otlp/encode';
import { bindLogRecord } from '../../src/otlp/record';
import { makeEvent, named } from './events';

/** The test receiver's strict decoders, which every exporting test's requests pass: they refuse what they should. */
describe('the strict decoders of the test receiver', () => {
  const record = bindLogRecord(named(makeEvent({ pid: 7 })), 1_000_000_000n);
  const scope = { name: 'bindsnoop', version: '1', attributes: {}, schemaUrl: '' };

  it('take what the agent encodes, in protobuf and in JSON', () => {
    const url = 'https://opentelemetry.io/schemas/1.37.0';
    const p = protobufEncoding();
    expect(strictProtobufProblems(p.request([{ resource: p.resource({ 'service.name': 'x' }, url), records: [p.record(record)] }], p.scope(scope), url).body)).toEqual([]);
    const j = jsonEncoding();
    const json = j.request([{ resource: j.resource({ 'service.name': 'x' }, url), records: [j.record(record)] }], j.scope(scope), url).body;
    expect(strictJsonProblems(JSON.parse(json.toString('utf8')))).toEqual([]);
  });

  it('refuse an unknown field and a string that is not UTF-8 (protobuf), an unknown field and a lone surrogate (JSON)', () => {
    // ExportLogsServiceRequest { field 9: varint 1 }
    expect(strictProtobufProblems(Uint8Array.from([0x48, 0x01]))).toEqual(['.9: no field 9 in request']);
    // resource_logs { schema_url: "\xff" }
    expect(strictProtobufProblems(Uint8Array.from([0x0a, 0x03, 0x1a, 0x01, 0xff]))).toEqual(['.resource_logs.schema_url: not UTF-8']);
    expect(strictJsonProblems({ resourceLogs: [{ resource: { attributes: [], schemaUrl: 'x' } }] })).toEqual(['.resourceLogs[0].resource.schemaUrl: no such field in resource']);
    expect(strictJsonProblems({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'a\ud800' } }] }] }] })).toEqual(['.resourceLogs[0].scopeLogs[0].logRecords[0].body.stringValue: not well-formed UTF-16']);
  });
});
