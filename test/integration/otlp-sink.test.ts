import { createServer as createNetServer } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait';
import type { ExporterSettings } from '../../src/otlp/exporter';
import { bindLogRecord } from '../../src/otlp/record';
import type { LogSink, OtlpCounts } from '../../src/otlp/export-stage';
import { createLogSink } from '../../src/otlp/pipeline';
import type { AppConfig } from '../../src/config/schema';
import type { Attributes } from '../../src/model/attributes';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { makeEvent, named } from '../unit/events';

/**
 * The export stage against a real OTLP/HTTP server on 127.0.0.1, through the
 * real OpenTelemetry exporter: every outcome and the exact accounting.
 */
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

const BASE: Attributes = { 'service.name': 'bindsnoop', 'service.version': '0.1.0', 'host.name': 'node-1' };

type Pipeline = AppConfig['otlp']['pipeline'];
const PIPELINES: Pipeline[] = ['direct', 'sdk'];

interface QueueOptions {
  maxQueueSize: number;
  maxQueueBytes: number;
  batch: number;
  maxResources: number;
  flushIntervalMillis: number;
  attributeCountLimit: number;
  attributeValueLengthLimit: number;
}

/** The export stage as the agent builds it (otlp.pipeline), with short timers. */
function sink(url: string, overrides: Partial<ExporterSettings> = {}, queue: Partial<QueueOptions> = {}, pipeline: Pipeline = 'direct'): LogSink {
  const settings: ExporterSettings = {
    url: `${url}/v1/logs`,
    protocol: 'http/protobuf',
    headers: {},
    compression: 'none',
    timeoutMillis: 3000,
    userAgent: 'bindsnoop-test',
    ...overrides,
  };
  const otlp: AppConfig['otlp'] = {
    endpoint: url,
    logsEndpoint: '',
    protocol: settings.protocol,
    headers: '',
    compression: settings.compression,
    timeoutMillis: settings.timeoutMillis,
    certificate: '',
    clientCertificate: '',
    clientKey: '',
    pipeline,
    encodeInAddon: true,
    maxQueueSize: queue.maxQueueSize ?? 1000,
    maxQueueBytes: queue.maxQueueBytes ?? 16 << 20,
    maxExportBatchSize: queue.batch ?? 100,
    attributeCountLimit: queue.attributeCountLimit ?? 128,
    attributeValueLengthLimit: queue.attributeValueLengthLimit ?? 0,
    flushIntervalMillis: queue.flushIntervalMillis ?? 20,
    shutdownTimeoutMillis: 10_000,
    maxResources: queue.maxResources ?? 1000,
    resourceIdleMillis: 600_000,
  };
  return createLogSink(settings, otlp, '0.1.0');
}

function records(n: number, pid = 100): ReturnType<typeof bindLogRecord>[] {
  return Array.from({ length: n }, (_, i) => bindLogRecord(named(makeEvent({ pid: pid + i }), 1_700_000_000_000_000_000n + BigInt(i)), 1_700_000_000_500_000_000n));
}

/** Enqueues, flushes within `timeoutMillis`, and checks sent = exported + lost exactly. */
async function sendAll(s: LogSink, n: number, timeoutMillis = 10_000, resource: Attributes = BASE): Promise<OtlpCounts> {
  for (const r of records(n)) s.enqueue(r, resource);
  const counts = await s.shutdown(timeoutMillis);
  expect(counts.pending).toBe(0);
  expect(counts.exported + counts.lostExport + counts.lostExportQueue).toBe(n);
  return counts;
}

// the SDK's batch processor exports one batch at a time: only the direct pipeline has exports side by side
describe('exports side by side (direct pipeline)', () => {
  it('one export\'s deadline does not cut another export in flight: each is booked by its own outcome', async () => {
    receiver = await OtlpReceiver.start();
    // the first trickles its reply (the transport's own read timeout never fires): ended by the export's deadline
    receiver.answer({ kind: 'trickle' }, { kind: 'delay', millis: 1500 });
    const s = sink(receiver.url, { timeoutMillis: 2000 }, { batch: 5 }, 'direct');
    for (const r of records(5)) s.enqueue(r, BASE);
    // the second export goes out while the first waits, and is still waiting for its answer at the first's deadline
    await new Promise((r) => setTimeout(r, 1000));
    for (const r of records(5, 500)) s.enqueue(r, BASE);
    const counts = await s.shutdown(10_000);
    expect(counts).toMatchObject({ exported: 5, lostExport: 5, pending: 0 });
    expect(counts.failures.get('delivery_unknown')).toBe(5);
  });

});

describe.each(PIPELINES)('OTLP export outcomes, each record accounted for (%s pipeline)', (pipeline) => {
  it('200: everything exported, in protobuf, to /v1/logs', async () => {
    receiver = await OtlpReceiver.start();
    const counts = await sendAll(sink(receiver.url, {}, {}, pipeline), 250);
    expect(counts).toMatchObject({ exported: 250, lostExport: 0, lostExportQueue: 0 });
    expect(receiver.records()).toHaveLength(250);
    expect(receiver.requests.every((r) => r.path === '/v1/logs' && r.contentType === 'application/x-protobuf')).toBe(true);
    // batches of at most 100
    expect(Math.max(...receiver.requests.map((r) => r.resourceLogs.flatMap((x) => x.records).length))).toBeLessThanOrEqual(100);
  });

  it('429 with Retry-After: retried after the delay asked for, then exported', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answer({ kind: 'status', status: 429, retryAfterSeconds: 1 });
    const counts = await sendAll(sink(receiver.url, { timeoutMillis: 5000 }, {}, pipeline), 10);
    expect(counts.exported).toBe(10);
    expect(receiver.requests.map((r) => r.answer.kind)).toEqual(['status', 'ok']);
    expect(receiver.requests[1].at - receiver.requests[0].at).toBeGreaterThanOrEqual(950);
  });

  it('503 until the deadline: lost, counted as retries exhausted', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'status', status: 503 });
    const counts = await sendAll(sink(receiver.url, { timeoutMillis: 1500 }, {}, pipeline), 7);
    expect(counts).toMatchObject({ exported: 0, lostExport: 7 });
    expect(counts.failures.get('retries_exhausted')).toBe(7);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('400 is permanent: one request, no retry, lost as http_400', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'status', status: 400 });
    const counts = await sendAll(sink(receiver.url, {}, {}, pipeline), 5);
    expect(counts).toMatchObject({ exported: 0, lostExport: 5 });
    expect(counts.failures.get('http_400')).toBe(5);
    expect(receiver.requests).toHaveLength(1);
  });

  it('partial success: the rejected records are counted as lost, the rest exported', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answer({ kind: 'partial', rejected: 3 });
    const counts = await sendAll(sink(receiver.url, {}, {}, pipeline), 20);
    expect(counts).toMatchObject({ exported: 17, lostExport: 3 });
    expect(counts.failures.get('rejected')).toBe(3);
  });

  it('partial success over http/json too', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answer({ kind: 'partial', rejected: 2 });
    const counts = await sendAll(sink(receiver.url, { protocol: 'http/json' }, {}, pipeline), 5);
    expect(counts).toMatchObject({ exported: 3, lostExport: 2 });
    expect(receiver.requests[0].contentType).toBe('application/json');
  });

  it.each(['"abc"', '"-50"', '"2.5"', '-50', '"99999999999999999999"', '{}'])(
    'a partial success it cannot understand (rejectedLogRecords %s) is counted under its own reason, and export goes on',
    async (rejected) => {
      receiver = await OtlpReceiver.start();
      receiver.answer({ kind: 'raw', contentType: 'application/json', body: `{"partialSuccess":{"rejectedLogRecords":${rejected}}}` });
      const s = sink(receiver.url, { protocol: 'http/json' }, { batch: 5 }, pipeline);
      const counts = await sendAll(s, 15);
      // the first batch of 5 is not understood; the next two are exported: the books stay whole numbers and exact
      expect(counts).toMatchObject({ exported: 10, lostExport: 5, pending: 0 });
      expect(counts.failures.get('malformed_response')).toBe(5);
      expect(receiver.requests).toHaveLength(3);
    },
  );

  it.each(['http/protobuf', 'http/json'] as const)('an empty 200 reply is a whole success (%s)', async (protocol) => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'raw', contentType: protocol === 'http/json' ? 'application/json' : 'application/x-protobuf', body: '' });
    const counts = await sendAll(sink(receiver.url, { protocol }, {}, pipeline), 5);
    expect(counts).toMatchObject({ exported: 5, lostExport: 0 });
  });

  it('a receiver that trickles its reply (a byte a second) is timed out over the whole exchange, counted as delivery unknown, and its connection closed', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'trickle' });
    const counts = await sendAll(sink(receiver.url, { timeoutMillis: 1000 }, {}, pipeline), 4);
    // counted at the export's deadline (the trickle never ends: the shutdown deadline would say shutdown); the
    // request went out whole, so the records' fate is unknown, not a known loss
    expect(counts).toMatchObject({ exported: 0, lostExport: 4 });
    expect(counts.failures.get('delivery_unknown')).toBe(4);
    await waitUntil('the connection to close', () => receiver!.openConnections() === 0, 3000);
  });

  it('a receiver that takes the request and never answers: counted as delivery unknown at the deadline', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'hang' });
    const counts = await sendAll(sink(receiver.url, { timeoutMillis: 500 }, {}, pipeline), 4);
    expect(counts).toMatchObject({ exported: 0, lostExport: 4 });
    expect(counts.failures.get('delivery_unknown')).toBe(4);
    expect(counts.failures.get('timeout')).toBeUndefined();
  });

  it('a TLS receiver that never finishes the handshake: nothing was sent, so a known timeout', async () => {
    // a TCP server that accepts and never speaks TLS
    const silent = createNetServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const counts = await sendAll(sink(`https://127.0.0.1:${port}/v1/logs`, { timeoutMillis: 500 }, {}, pipeline), 4);
      expect(counts).toMatchObject({ exported: 0, lostExport: 4 });
      expect(counts.failures.get('timeout')).toBe(4);
    } finally {
      silent.close();
    }
  });

  it.each<[string, Buffer]>([
    ['protobuf', gzipSync(Buffer.alloc(0))],
    ['JSON', gzipSync('{}')],
  ])('a 200 whose %s reply is gzip, though nobody asked for it, is read: the records are exported', async (kind, body) => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'raw', contentType: kind === 'JSON' ? 'application/json' : 'application/x-protobuf', body });
    const counts = await sendAll(sink(receiver.url, kind === 'JSON' ? { protocol: 'http/json' } : {}, {}, pipeline), 4);
    expect(counts).toMatchObject({ exported: 4, lostExport: 0 });
  });

  it('connections refused, then the receiver comes back: retried and exported', async () => {
    receiver = await OtlpReceiver.start();
    await receiver.refuse();
    const s = sink(receiver.url, { timeoutMillis: 8000 }, {}, pipeline);
    for (const r of records(6)) s.enqueue(r, BASE);
    await new Promise((r) => setTimeout(r, 300));
    await receiver.recover();
    const counts = await s.shutdown(10_000);
    expect(counts).toMatchObject({ exported: 6, lostExport: 0, pending: 0 });
    expect(receiver.records()).toHaveLength(6);
  });

  it('connections refused for good: lost as network errors', async () => {
    receiver = await OtlpReceiver.start();
    await receiver.refuse();
    const counts = await sendAll(sink(receiver.url, { timeoutMillis: 800 }, {}, pipeline), 3);
    expect(counts).toMatchObject({ exported: 0, lostExport: 3 });
    expect(counts.failures.get('network')).toBe(3);
  });

  it('a full queue drops the newest records and counts them', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'hang' });
    const s = sink(receiver.url, { timeoutMillis: 300 }, { maxQueueSize: 10, batch: 5 }, pipeline);
    const accepted = records(25).map((r) => s.enqueue(r, BASE));
    expect(accepted.filter(Boolean)).toHaveLength(10);
    expect(accepted.slice(10).some(Boolean)).toBe(false); // drop-newest
    const counts = await s.shutdown(5000);
    expect(counts.lostExportQueue).toBe(15);
    expect(counts.exported + counts.lostExport + counts.lostExportQueue).toBe(25);
  });

  it('a shutdown deadline that passes counts what was left as lost', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'hang' });
    const s = sink(receiver.url, { timeoutMillis: 60_000 }, { maxQueueSize: 1000, batch: 10 }, pipeline);
    for (const r of records(50)) s.enqueue(r, BASE);
    const started = Date.now();
    const counts = await s.shutdown(300);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(counts.pending).toBe(0);
    expect(counts.exported).toBe(0);
    expect(counts.lostExport + counts.lostExportQueue).toBe(50);
    expect(counts.failures.get('shutdown')).toBe(counts.lostExport);
  });

  it('gzip and headers from the configuration reach the receiver', async () => {
    receiver = await OtlpReceiver.start();
    await sendAll(sink(receiver.url, { compression: 'gzip', headers: { authorization: 'Bearer s3cret', 'x-tenant': 'a' } }, {}, pipeline), 3);
    expect(receiver.requests[0].contentEncoding).toBe('gzip');
    expect(receiver.requests[0].headers.authorization).toBe('Bearer s3cret');
    expect(receiver.requests[0].headers['x-tenant']).toBe('a');
    expect(receiver.records()).toHaveLength(3);
  });
});

describe.each(PIPELINES)('one ResourceLogs per resource (%s pipeline)', (pipeline) => {
  it('groups records of different pods into their own ResourceLogs in one request', async () => {
    receiver = await OtlpReceiver.start();
    const s = sink(receiver.url, {}, { batch: 100 }, pipeline);
    const pod = (name: string): Attributes => ({ ...BASE, 'k8s.namespace.name': 'shop', 'k8s.pod.name': name, 'k8s.pod.uid': `uid-${name}` });
    const plan: [Attributes, number][] = [
      [pod('cart-1'), 3],
      [BASE, 2],
      [pod('web-7'), 4],
      [pod('cart-1'), 1],
    ];
    let pid = 1000;
    for (const [resource, n] of plan) for (const r of records(n, (pid += 10))) s.enqueue(r, resource);
    expect(s.resourceCount()).toBe(3);
    const counts = await s.shutdown(5000);
    expect(counts.exported).toBe(10);
    expect(receiver.requests).toHaveLength(1);
    const groups = receiver.requests[0].resourceLogs.map((rl) => [rl.resource['k8s.pod.name'] ?? 'host', rl.records.length]);
    expect(groups.sort()).toEqual([
      ['cart-1', 4],
      ['host', 2],
      ['web-7', 4],
    ]);
  });

  it('keeps at most maxResources loggers, dropping the least recently used, and still groups every record by its resource', async () => {
    receiver = await OtlpReceiver.start();
    const s = sink(receiver.url, {}, { batch: 1000, maxResources: 2 }, pipeline);
    const pod = (name: string): Attributes => ({ ...BASE, 'k8s.pod.name': name, 'k8s.pod.uid': `uid-${name}` });
    let pid = 2000;
    for (const name of ['a', 'b', 'a', 'c', 'd', 'a']) for (const r of records(2, (pid += 10))) s.enqueue(r, pod(name));
    expect(s.resourceCount()).toBe(2);
    const counts = await s.shutdown(5000);
    expect(counts.exported).toBe(12);
    const byPod = new Map<string, number>();
    for (const rl of receiver.requests.flatMap((r) => r.resourceLogs)) byPod.set(String(rl.resource['k8s.pod.name']), (byPod.get(String(rl.resource['k8s.pod.name'])) ?? 0) + rl.records.length);
    expect(Object.fromEntries(byPod)).toEqual({ a: 6, b: 2, c: 2, d: 2 });
    for (const rl of receiver.requests[0].resourceLogs) {
      expect(rl.resource).toMatchObject(BASE);
    }
  });

});

describe.each(PIPELINES)('the log record limits (%s pipeline)', (pipeline) => {
  it.each(['http/protobuf', 'http/json'] as const)('cut string values and leave out attributes past the count, counting them (%s)', async (protocol) => {
    receiver = await OtlpReceiver.start();
    const s = sink(receiver.url, { protocol }, { attributeCountLimit: 5, attributeValueLengthLimit: 3 }, pipeline);
    const [r] = records(1);
    const n = Object.keys(r.attributes).length;
    s.enqueue(r, BASE);
    await s.shutdown(10_000);
    const [got] = receiver.records();
    expect(Object.keys(got.attributes)).toEqual(Object.keys(r.attributes).slice(0, 5));
    expect(got.droppedAttributesCount).toBe(n - 5);
    for (const v of Object.values(got.attributes)) if (typeof v === 'string') expect(v.length).toBeLessThanOrEqual(3);
    expect(got.attributes['thread.name']).toBe(String(r.attributes['thread.name']).slice(0, 3));
  });

  it('by default keep every attribute of a bind, whole, and count none dropped', async () => {
    receiver = await OtlpReceiver.start();
    const s = sink(receiver.url, {}, {}, pipeline);
    const [r] = records(1);
    s.enqueue(r, BASE);
    await s.shutdown(10_000);
    const [got] = receiver.records();
    expect(got.attributes).toEqual(r.attributes);
    expect(got.droppedAttributesCount).toBe(0);
  });
});

describe('the sdk pipeline', () => {
  it('shutting one resource\'s logger provider down does not stop the shared exporter', async () => {
    receiver = await OtlpReceiver.start();
    const s = sink(receiver.url, {}, {}, 'sdk');
    s.enqueue(records(1)[0], { ...BASE, 'k8s.pod.name': 'a' });
    // reach into the first provider as an SDK user could, and shut it down
    const held = (s as unknown as { resources: { entries: Map<string, { value: { provider: { shutdown(): Promise<void> } } }> } }).resources.entries;
    await [...held.values()][0].value.provider.shutdown();
    s.enqueue(records(1, 500)[0], { ...BASE, 'k8s.pod.name': 'b' });
    const counts = await s.shutdown(5000);
    expect(counts.exported).toBe(2);
  });
});

describe('the direct pipeline', () => {
  /** Records of three resources, interleaved, with failed binds, non-ASCII names and large numbers. */
  function mixedPlan(): [ReturnType<typeof bindLogRecord>, Attributes][] {
    const pod = (name: string): Attributes => ({ ...BASE, 'k8s.namespace.name': 'shop', 'k8s.pod.name': name, 'service.name': `svc-${name}`, 'k8s.pod.start_ms': 1.5 });
    const resources = [BASE, pod('cärt-1'), pod('web-7')];
    return Array.from({ length: 60 }, (_, i) => {
      const event = makeEvent({
        pid: 100 + i,
        ret: i % 7 === 0 ? -98 : 0,
        comm: Buffer.from(i % 5 === 0 ? 'wörker\u{1F600}' : 'redis'),
        cgroupId: 2n ** 60n + BigInt(i),
        boundPort: (i * 997) % 65536,
      });
      return [bindLogRecord(named(event, 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567n), 1_800_000_000_999_999_999n), resources[(i * 5) % 3]];
    });
  }

  async function bodiesOf(pipeline: Pipeline, protocol: ExporterSettings['protocol']): Promise<Buffer[]> {
    const r = await OtlpReceiver.start();
    try {
      const s = sink(r.url, { protocol }, { batch: 25, flushIntervalMillis: 60_000 }, pipeline);
      s.setScopeAttributes({ 'bindsnoop.backend': 'tracepoint' });
      for (const [record, resource] of mixedPlan()) s.enqueue(record, resource);
      const counts = await s.shutdown(5000);
      expect(counts.exported).toBe(60);
      return r.requests.map((q) => q.body);
    } finally {
      await r.stop();
    }
  }

  it.each(['http/protobuf', 'http/json'] as const)('sends the bytes the SDK pipeline sends for the same records (%s)', async (protocol) => {
    const [direct, sdk] = [await bodiesOf('direct', protocol), await bodiesOf('sdk', protocol)];
    expect(direct).toHaveLength(3); // batches of 25, 25, 10
    expect(direct.map((b) => b.toString('hex'))).toEqual(sdk.map((b) => b.toString('hex')));
  });

  it('decodes with the official protos to the records it was given', async () => {
    receiver = await OtlpReceiver.start();
    const s = sink(receiver.url, {}, { batch: 100 });
    s.setScopeAttributes({ 'bindsnoop.backend': 'fentry' });
    const plan = mixedPlan();
    for (const [record, resource] of plan) s.enqueue(record, resource);
    expect((await s.shutdown(5000)).exported).toBe(60);
    const got = receiver.records();
    expect(got).toHaveLength(60);
    const byPid = new Map(got.map((g) => [Number(g.attributes['process.pid']), g]));
    for (const [record] of plan) {
      const g = byPid.get(Number(record.attributes['process.pid']));
      expect(g?.body).toBe(record.body);
      expect(g?.attributes['thread.name']).toBe(record.attributes['thread.name']);
      expect(String(g?.attributes['bindsnoop.cgroup.id'])).toBe(String(record.attributes['bindsnoop.cgroup.id']));
    }
  });

  it('bounds what it holds in bytes: past otlp.maxQueueBytes new records are dropped and counted', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'hang' });
    const s = sink(receiver.url, { timeoutMillis: 300 }, { maxQueueSize: 100_000, maxQueueBytes: 65_536, batch: 50 });
    const accepted = records(1000).map((r) => s.enqueue(r, BASE)).filter(Boolean).length;
    // each record is several hundred bytes: 64 KiB holds a little over a hundred of them
    expect(accepted).toBeGreaterThan(50);
    expect(accepted).toBeLessThan(200);
    const counts = await s.shutdown(5000);
    expect(counts.lostExportQueue).toBeGreaterThanOrEqual(1000 - accepted);
    expect(counts.exported + counts.lostExport + counts.lostExportQueue).toBe(1000);
  });

  it('sends a batch short of full once flushIntervalMillis has passed', async () => {
    receiver = await OtlpReceiver.start();
    const s = sink(receiver.url, {}, { batch: 100, flushIntervalMillis: 200 });
    for (const r of records(3)) s.enqueue(r, BASE);
    await waitUntil('the short batch to arrive', () => receiver!.records().length === 3, 5000);
    expect(receiver.requests).toHaveLength(1);
    expect((await s.shutdown(1000)).exported).toBe(3);
  });
});
