import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { OtlpReceiver, type ReceivedRecord } from '../helpers/otlp-receiver';
import { Agent, describePrivileged, endReport, HELPER, OWN_UID, runBinds } from './harness';

const PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Real binds -> the bindsnoop CLI -> OTLP/HTTP -> a local receiver, configured
 * the way OpenTelemetry users configure exporters.
 */
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

const FAST = { BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50' };

async function recordsOf(r: OtlpReceiver, pid: number, n: number, timeoutMs = 10_000): Promise<ReceivedRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mine = r.records().filter((x) => x.attributes['process.pid'] === pid);
    if (mine.length >= n) return mine;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} records of pid ${pid}; have ${mine.length}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describePrivileged('OTLP export end to end', () => {
  it('delivers every bind, failures included, as records matching the contract (protobuf by default)', async () => {
    receiver = await OtlpReceiver.start();
    // the command line too (opt-in): a string array on the wire
    const agent = await Agent.start(['-q', '-E'], { ...FAST, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, NODE_NAME: 'node-a', BINDSNOOP_KERNEL_READ_COMMAND_LINE: 'true' });
    const before = Date.now();
    const helperArgs = ['--netns', '--comm', 'otel-probe', 'tcp,4,127.0.0.1,4800,R', 'tcp,4,127.0.0.1,4800', 'udp,6,::1,0,r'];
    const run = runBinds(helperArgs);
    const after = Date.now();
    const recs = await recordsOf(receiver, run.pid, 3);
    expect(receiver.requests[0].contentType).toBe('application/x-protobuf');
    expect(receiver.requests[0].path).toBe('/v1/logs');

    const [ok, failed, v6] = recs;
    for (const r of recs) {
      expect(r.eventName).toBe('bindsnoop.bind');
      // one version everywhere: the package's is the scope's and service.version
      expect(r.scope).toMatchObject({ name: 'bindsnoop', version: PACKAGE_VERSION });
      expect(r.resource).toMatchObject({ 'service.name': 'bindsnoop', 'service.version': PACKAGE_VERSION, 'host.name': hostname(), 'k8s.node.name': 'node-a' });
      expect(r.resource).not.toHaveProperty('k8s.pod.name'); // a host process
      // the bind's own time, within a second of when it happened, to the nanosecond
      const ms = Number(r.timeUnixNano / 1_000_000n);
      expect(ms).toBeGreaterThanOrEqual(before - 1000);
      expect(ms).toBeLessThanOrEqual(after + 1000);
      expect(r.timeUnixNano % 1_000_000n).not.toBe(0n);
      expect(r.observedTimeUnixNano).toBeGreaterThanOrEqual(r.timeUnixNano);
    }
    expect(ok.severityNumber).toBe(9);
    expect(ok.severityText).toBe('INFO');
    expect(ok.body).toBe(`otel-probe[${run.pid}] bound TCP 127.0.0.1:4800 opts=...R. if=0`);
    // who started it: this test process's main thread, just before (its start is the helper's own clock reading)
    const started = Date.parse(ok.attributes['process.creation.time'] as string);
    expect(started).toBeGreaterThanOrEqual(before - 1000);
    expect(started).toBeLessThanOrEqual(Number(ok.timeUnixNano / 1_000_000n));
    expect(ok.attributes).toEqual({
      'process.pid': run.pid,
      'thread.id': run.pid,
      'thread.name': 'otel-probe',
      'process.real_user.id': 0,
      'process.parent_pid': process.pid,
      'bindsnoop.parent.comm': readFileSync(`/proc/self/task/${process.pid}/comm`, 'utf8').trim(),
      'process.creation.time': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/),
      'process.executable.path': HELPER,
      'process.executable.name': 'bind_helper',
      'process.command_args': [HELPER, ...helperArgs],
      'bindsnoop.process.command_args.truncated': false,
      'network.transport': 'tcp',
      'network.type': 'ipv4',
      'network.local.address': '127.0.0.1',
      'network.local.port': 4800,
      'bindsnoop.return_code': 0,
      'bindsnoop.requested.address': '127.0.0.1',
      'bindsnoop.requested.port': 4800,
      'bindsnoop.opts': '...R.',
      'bindsnoop.opt.freebind': false,
      'bindsnoop.opt.transparent': false,
      'bindsnoop.opt.bind_address_no_port': false,
      'bindsnoop.opt.reuseaddr': true,
      'bindsnoop.opt.reuseport': false,
      'bindsnoop.bound_dev_if': 0,
      'bindsnoop.kernel_socket': false,
      'bindsnoop.kernel_thread': false,
      'bindsnoop.raw_socket': false,
      'bindsnoop.cgroup.id': expect.any(Number),
      'bindsnoop.mntns.id': run.mntns,
      'bindsnoop.netns.id': run.netns,
    });
    expect(ok.attributeTypes).toMatchObject({
      'process.pid': 'int',
      'thread.id': 'int',
      'thread.name': 'string',
      'process.real_user.id': 'int',
      'process.parent_pid': 'int',
      'process.creation.time': 'string',
      'process.executable.path': 'string',
      'process.command_args': 'array',
      'network.local.port': 'int',
      'network.local.address': 'string',
      'bindsnoop.return_code': 'int',
      'bindsnoop.opt.reuseaddr': 'bool',
      'bindsnoop.cgroup.id': 'int',
      'bindsnoop.netns.id': 'int',
    });
    expect(failed.severityNumber).toBe(13);
    expect(failed.severityText).toBe('WARN');
    expect(failed.body).toBe(`otel-probe[${run.pid}] bind TCP 127.0.0.1:4800 failed: EADDRINUSE`);
    expect(failed.attributes).toMatchObject({ 'error.type': 'EADDRINUSE', 'bindsnoop.return_code': -98, 'bindsnoop.requested.port': 4800 });
    expect(failed.attributes).not.toHaveProperty('network.local.port');
    expect(failed.attributes).not.toHaveProperty('network.local.address');
    expect(v6.attributes).toMatchObject({ 'network.type': 'ipv6', 'network.transport': 'udp', 'bindsnoop.opts': '....r' });
    expect(v6.body).toMatch(new RegExp(`^otel-probe\\[${run.pid}\\] bound UDP \\[::1\\]:\\d+ opts=\\.\\.\\.\\.r if=0$`));
    // -q: nothing on stdout
    expect(agent.stdout).toBe('');
    expect((await agent.stop('SIGTERM')).code).toBe(0);
  });

  it('the agent\'s configuration is the only source of headers: BINDSNOOP_OTLP_HEADERS replaces the OTEL_ ones', async () => {
    receiver = await OtlpReceiver.start();
    const agent = await Agent.start(['-q'], {
      ...FAST,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-from-otel=1,x-both=otel',
      BINDSNOOP_OTLP_HEADERS: 'x-from-bindsnoop=1,x-both=bindsnoop',
    });
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    await recordsOf(receiver, run.pid, 1);
    const { headers } = receiver.requests[0];
    expect(headers['x-from-bindsnoop']).toBe('1');
    expect(headers['x-both']).toBe('bindsnoop');
    // before: the SDK's transport read OTEL_EXPORTER_OTLP_HEADERS itself and merged it in
    expect(headers['x-from-otel']).toBeUndefined();
    await agent.stop();
  });

  it('speaks http/json with gzip and headers when configured, service name and resource attributes from OTEL_*', async () => {
    receiver = await OtlpReceiver.start();
    const agent = await Agent.start(['-q'], {
      ...FAST,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${receiver.url}/custom/logs`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret,x-scope=team-a',
      OTEL_SERVICE_NAME: 'bind-audit',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,cloud.region=eu-1',
    });
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    const [r] = await recordsOf(receiver, run.pid, 1);
    const req = receiver.requests[0];
    expect(req.path).toBe('/custom/logs');
    expect(req.contentType).toBe('application/json');
    expect(req.contentEncoding).toBe('gzip');
    expect(req.headers.authorization).toBe('Bearer s3cret');
    expect(req.headers['x-scope']).toBe('team-a');
    expect(r.resource).toMatchObject({ 'service.name': 'bind-audit', 'deployment.environment.name': 'prod', 'cloud.region': 'eu-1' });
    expect(r.attributeTypes['process.pid']).toBe('int');
    expect(r.eventName).toBe('bindsnoop.bind');
    // OTLP/JSON: every 64-bit integer as a decimal string, as a strict decoder requires
    expect(receiver.requests.flatMap((q) => q.int64AsNumbers)).toEqual([]);
    expect(r.attributes['bindsnoop.mntns.id']).toBeGreaterThan(0);
    // the semantic-conventions version followed, on the resource and the scope
    expect(req.resourceLogs[0].schemaUrl).toBe('https://opentelemetry.io/schemas/1.37.0');
    expect(req.resourceLogs[0].scopeSchemaUrls).toEqual(['https://opentelemetry.io/schemas/1.37.0']);
    await agent.stop();
    // the secret never appears in what the agent prints
    expect(agent.stderr).not.toContain('s3cret');
  });

  it('a second SIGINT while flushing stops at once, saying how many binds were not sent (status 1)', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'hang' });
    const agent = await Agent.start(['-q'], { ...FAST, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, BINDSNOOP_OTLP_SHUTDOWN_TIMEOUT_MILLIS: '60000' });
    runBinds(['--netns', 'tcp,4,127.0.0.1,0', 'tcp,4,127.0.0.1,0']);
    await agent.waitFor(() => receiver!.requests.length > 0, 'an export in flight');
    agent.proc.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.proc.exitCode).toBeNull(); // flushing, for up to a minute
    const exit = await agent.stop('SIGINT');
    expect(exit.code).toBe(1);
    expect(agent.stderr).toMatch(/bindsnoop: SIGINT again: not waiting for the flush; \d+ binds not sent\n/);
  });

  it('SIGTERM right after a burst loses nothing when the receiver is up', async () => {
    receiver = await OtlpReceiver.start();
    // only this test's binds (the run's own user): a neighbour's bind in flight at the stop would be a kernel loss
    const agent = await Agent.start(['-q', '-u', String(OWN_UID)], { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    const run = runBinds(['--netns', '--uid', String(OWN_UID), '--repeat', '3000', 'tcp,4,127.0.0.1,0']);
    const exit = await agent.stop('SIGTERM');
    expect(exit.code).toBe(0);
    expect(receiver.records().filter((x) => x.attributes['process.pid'] === run.pid)).toHaveLength(3000);
    const report = endReport(agent.stderr);
    expect(report.lost).toEqual({});
    expect(report.exported).toBe(report.seen);
    expect(report.seen).toBeGreaterThanOrEqual(3000);
  });

  it('with the receiver down it keeps running, counts what it drops, and the books balance', async () => {
    receiver = await OtlpReceiver.start();
    await receiver.refuse();
    const agent = await Agent.start(['-q', '-E'], {
      ...FAST,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_TIMEOUT: '300',
      BINDSNOOP_OTLP_SHUTDOWN_TIMEOUT_MILLIS: '2000',
      BINDSNOOP_LOG_LOSS_WARNING_INTERVAL_MILLIS: '200',
    });
    runBinds(['--netns', 'tcp,4,127.0.0.1,0', 'tcp,4,127.0.0.1,0', 'udp,4,127.0.0.1,0']);
    // the loss is reported while it keeps running (rate-limited warning)
    await agent.waitFor(() => /lost \d+ binds since the last report/.test(agent.stderr), 'a loss warning', 10_000);
    expect(agent.proc.exitCode).toBeNull();
    const exit = await agent.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const report = endReport(agent.stderr);
    expect(report.exported).toBe(0);
    expect(report.lost.export).toBeGreaterThanOrEqual(3);
    expect(agent.stderr).toMatch(/export \d+ \(network \d+\)/);
    const lostTotal = Object.values(report.lost).reduce((a, b) => a + b, 0);
    expect(report.exported + lostTotal).toBe(report.seen);
  });
});
