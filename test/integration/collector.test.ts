import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { rfc3339Nanos } from '../../src/naming/time';
import { attributeTypes, Collector, collectorVersion, plainAttributes, validateConfig, type CollectedRecord } from '../helpers/collector';
import { waitUntil } from '../helpers/wait';
import { Agent, describePrivileged, OWN_UID, runBinds } from './harness';

/*
 * The agent against the real OpenTelemetry Collector, built here from its own
 * modules (test/peers/collector): what the Collector receives, keeps and writes
 * out again is what the agent printed for the same binds.
 */
const ROOT = path.join(__dirname, '..', '..');
let collector: Collector | undefined;
afterEach(async () => {
  await collector?.stop();
  collector = undefined;
});

describePrivileged('the real OpenTelemetry Collector', () => {
  beforeAll(() => {
    // the peer's release, in the test log
    console.log(`peer: ${collectorVersion()}`);
  }, 1_800_000);

  it('loads the local example configuration the quickstart runs (validate)', () => {
    const v = validateConfig(path.join(ROOT, 'examples', 'otel-collector-local.yaml'));
    expect(v.status, v.output).toBe(0);
  });

  it('loads the cluster example, its components this build has as they are, the others swapped for the file exporter (named)', () => {
    const example = parse(readFileSync(path.join(ROOT, 'k8s', 'examples', 'otel-collector.yaml'), 'utf8')) as {
      processors: Record<string, unknown>;
      exporters: Record<string, unknown>;
      extensions?: Record<string, unknown>;
      service: { extensions?: string[]; pipelines: Record<string, { processors?: string[]; exporters: string[] }> };
    };
    // what this Collector has of the example's: the others are contrib components this build leaves out
    const missingProcessors = Object.keys(example.processors).filter((p) => !['batch', 'memory_limiter'].includes(p));
    const missingExporters = Object.keys(example.exporters).filter((e) => !['debug', 'otlp_http', 'otlphttp', 'file'].includes(e.split('/')[0]));
    const missingExtensions = Object.keys(example.extensions ?? {}).filter((x) => !['bearertokenauth'].includes(x.split('/')[0]));
    expect({ missingProcessors, missingExporters, missingExtensions }).toEqual({ missingProcessors: ['k8sattributes'], missingExporters: expect.arrayContaining(['elasticsearch']), missingExtensions: ['basicauth/es'] });
    for (const p of missingProcessors) delete example.processors[p];
    for (const e of missingExporters) delete example.exporters[e];
    for (const x of missingExtensions) delete example.extensions?.[x];
    example.service.extensions = example.service.extensions?.filter((x) => !missingExtensions.includes(x));
    example.exporters.file = { path: '/dev/null' };
    for (const pipeline of Object.values(example.service.pipelines)) {
      pipeline.processors = pipeline.processors?.filter((p) => !missingProcessors.includes(p));
      pipeline.exporters = [...pipeline.exporters.filter((e) => !missingExporters.includes(e)), 'file'];
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-example-'));
    const file = path.join(dir, 'otel-collector-swapped.yaml');
    writeFileSync(file, stringify(example));
    const v = validateConfig(file);
    rmSync(dir, { recursive: true, force: true });
    expect(v.status, v.output).toBe(0);
  });

  /** A record as `-o json` prints it: its time, then its resource's, its scope's and its own attributes, flat. */
  const asPrinted = (c: CollectedRecord): Record<string, unknown> => ({
    time: rfc3339Nanos(BigInt(c.record.timeUnixNano ?? '0')),
    ...plainAttributes(c.resource.attributes),
    ...plainAttributes(c.scope.attributes),
    ...plainAttributes(c.record.attributes),
  });

  it.each([
    ['http/protobuf', 'none'],
    ['http/protobuf', 'gzip'],
    ['http/json', 'none'],
    ['http/json', 'gzip'],
  ])('over %s, compression %s: each record the Collector writes out is, attribute by attribute, what -o json printed', async (protocol, compression) => {
    collector = await Collector.start();
    const agent = await Agent.start(['-E', '-o', 'json', '-u', String(OWN_UID)], {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_EXPORTER_OTLP_COMPRESSION: compression,
      BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50',
      BINDSNOOP_KERNEL_READ_COMMAND_LINE: 'true',
    });
    try {
      // IPv4 and IPv6, TCP, UDP, MPTCP, UDP-Lite, options, and a failed bind (not an address of the namespace), made
      // as the run's own user (a neighbour's binds are not traced)
      const run = runBinds(['--netns', '--uid', String(OWN_UID), '--comm', 'otelcol-peer', 'tcp,4,127.0.0.1,4801,R', 'udp,6,::1,0,r', 'mptcp,4,127.0.0.1,0', 'udplite,6,::1,0', 'tcp,4,192.0.2.7,80']);
      const printed = await agent.recordsOf(run.pid, 5);
      await waitUntil('the Collector to write them out', () => collector!.records().filter((c) => plainAttributes(c.record.attributes)['process.pid'] === run.pid).length >= 5, 15_000);
      const collected = collector.records().filter((c) => plainAttributes(c.record.attributes)['process.pid'] === run.pid);
      expect(collected).toHaveLength(5);
      // in the order they were made, each the same record
      expect(collected.map(asPrinted)).toEqual(printed);
      for (const c of collected) {
        const attributes = plainAttributes(c.record.attributes);
        const failed = attributes['bindsnoop.return_code'] !== 0;
        expect(c.record).toMatchObject({ eventName: 'bindsnoop.bind', severityNumber: failed ? 13 : 9, severityText: failed ? 'WARN' : 'INFO' });
        expect(c.record.body?.stringValue).toMatch(failed ? /^otelcol-peer\[\d+\] bind TCP 192\.0\.2\.7:80 failed: EADDRNOTAVAIL$/ : /^otelcol-peer\[\d+\] bound \S+ \S+ opts=\S{5} if=0$/);
        expect(BigInt(c.record.observedTimeUnixNano ?? '0')).toBeGreaterThanOrEqual(BigInt(c.record.timeUnixNano ?? '0'));
        expect(c.record.droppedAttributesCount ?? 0).toBe(0);
        expect(c.scope).toMatchObject({ name: 'bindsnoop' });
        expect(c.resourceSchemaUrl).toMatch(/^https:\/\/opentelemetry\.io\/schemas\//);
        // the types on the wire: integers as ints, the command line as an array of strings
        const types = attributeTypes(c.record.attributes);
        expect(types).toMatchObject({ 'process.pid': 'intValue', 'process.command_args': 'arrayValue', 'thread.name': 'stringValue' });
      }
    } finally {
      await agent.stop();
    }
  });
});
