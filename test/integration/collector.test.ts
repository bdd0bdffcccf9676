import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { asPrinted, attributeTypes, Collector, collectorVersion, plainAttributes, validateConfig } from '../helpers/collector';
import { waitUntil } from '../helpers/wait';
import { Agent, cgroup2Mount, describePrivileged, endReport, OWN_UID, removeCgroupTree, runBinds, runBindsAsync } from './harness';

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

  it('the unusual ones too, -K: a pod\'s bind with its resource, a raw socket, a fileless process, the host\'s: what the Collector writes out is what -o json printed', async () => {
    // a pod on this node as the kubelet lays it out: its container's cgroup (systemd driver), its log tree
    const tag = `bindsnoop-otelcol-${process.pid}`;
    const top = path.join(cgroup2Mount(), `${tag}.slice`);
    const logs = mkdtempSync(path.join(tmpdir(), 'bindsnoop-otelcol-kubelet-'));
    const uid = '6c1d6b4e-1b7e-4c8e-9a4e-0c2f3b9d7a11';
    const id = 'e'.repeat(64);
    const cgroup = path.join(top, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${uid.replace(/-/g, '_')}.slice`, `cri-containerd-${id}.scope`);
    mkdirSync(cgroup, { recursive: true });
    mkdirSync(path.join(logs, 'pods', `shop_cart-7d9f8c6b5-x2k4q_${uid}`, 'app'), { recursive: true });
    mkdirSync(path.join(logs, 'containers'), { recursive: true });
    writeFileSync(path.join(logs, 'containers', `cart-7d9f8c6b5-x2k4q_shop_app-${id}.log`), '');
    const pinDir = `/sys/fs/bpf/${tag}`;
    collector = await Collector.start();
    const agent = await Agent.start(['-K', '-E', '-o', 'json'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50',
      BINDSNOOP_KUBERNETES_API_ENABLED: 'false',
      BINDSNOOP_KUBERNETES_PIN_DIR: pinDir,
      BINDSNOOP_KUBERNETES_CGROUP_ROOT: top,
      BINDSNOOP_KUBERNETES_POD_LOGS_DIR: path.join(logs, 'pods'),
      BINDSNOOP_KUBERNETES_CONTAINER_LOGS_DIR: path.join(logs, 'containers'),
      NODE_NAME: 'node-a',
    });
    try {
      const runs = [
        runBinds(['--netns', '--cgroup', cgroup, '--comm', 'cart', 'tcp,4,127.0.0.1,8080', 'udp,6,::1,0']),
        runBinds(['--memfd', '--netns', 'raw,4,127.0.0.1,0', 'tcp,6,::,0,F']),
        runBinds(['--netns', 'udplite,4,127.0.0.1,0']),
      ];
      for (const run of runs) {
        const printed = await agent.recordsOf(run.pid, run.results.length);
        await waitUntil('the Collector to write them out', () => collector!.records().filter((c) => plainAttributes(c.record.attributes)['process.pid'] === run.pid).length >= printed.length, 15_000);
        const collected = collector.records().filter((c) => plainAttributes(c.record.attributes)['process.pid'] === run.pid);
        expect(collected.map(asPrinted)).toEqual(printed);
      }
      // the pod's resource, as the Collector keeps it
      const pod = collector.records().find((c) => plainAttributes(c.record.attributes)['process.pid'] === runs[0].pid)!;
      expect(plainAttributes(pod.resource.attributes)).toMatchObject({ 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'cart-7d9f8c6b5-x2k4q', 'k8s.pod.uid': uid, 'k8s.container.name': 'app', 'container.id': id, 'container.runtime.name': 'containerd' });
      // the fileless process's flags, and the raw socket's, as attributes of their own
      const fileless = collector.records().filter((c) => plainAttributes(c.record.attributes)['process.pid'] === runs[1].pid).map((c) => plainAttributes(c.record.attributes));
      expect(fileless[0]).toMatchObject({ 'bindsnoop.process.executable.deleted': true, 'bindsnoop.process.executable.anonymous': true, 'bindsnoop.raw_socket': true });
    } finally {
      await agent.stop();
      removeCgroupTree(top);
      rmSync(logs, { recursive: true, force: true });
      rmSync(pinDir, { recursive: true, force: true });
    }
  });

  /** A self-signed certificate and key for `cn` at 127.0.0.1, made with openssl, in `dir`. */
  const selfSigned = (dir: string, cn: string): { cert: string; key: string } => {
    const [cert, key] = [path.join(dir, `${cn}.crt`), path.join(dir, `${cn}.key`)];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { cert, key };
  };

  /** `bindsnoop -q` exporting to the Collector with `env` while two binds are made; its end report. */
  const exportTwo = async (env: NodeJS.ProcessEnv): Promise<{ pid: number; report: ReturnType<typeof endReport>; lostLine: string }> => {
    const agent = await Agent.start(['-q', '-u', String(OWN_UID)], { OTEL_EXPORTER_OTLP_ENDPOINT: collector!.url, BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50', BINDSNOOP_OTLP_TIMEOUT_MILLIS: '3000', ...env });
    const run = runBinds(['--netns', '--uid', String(OWN_UID), 'tcp,4,127.0.0.1,0', 'udp,4,127.0.0.1,0']);
    await new Promise((r) => setTimeout(r, 500));
    const exit = await agent.stop('SIGINT');
    expect([0, 1]).toContain(exit.code);
    return { pid: run.pid, report: endReport(agent.stderr), lostLine: /lost binds: (.*)/.exec(agent.stderr)?.[1] ?? '' };
  };
  const collectedOf = (pid: number): number => collector!.records().filter((c) => plainAttributes(c.record.attributes)['process.pid'] === pid).length;

  it('over TLS with the Collector\'s certificate, and mTLS with a client certificate: accepted with the right credentials, refused, named and booked with the wrong ones', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-otelcol-tls-'));
    try {
      const server = selfSigned(dir, '127.0.0.1');
      const client = selfSigned(dir, 'agent');
      const other = selfSigned(dir, 'other');
      collector = await Collector.start({ http: { tls: { cert_file: server.cert, key_file: server.key, client_ca_file: client.cert } }, scheme: 'https' });
      const good = await exportTwo({ OTEL_EXPORTER_OTLP_CERTIFICATE: server.cert, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: client.cert, OTEL_EXPORTER_OTLP_CLIENT_KEY: client.key });
      expect(good.report).toMatchObject({ seen: 2, exported: 2, lost: {} });
      await waitUntil('the Collector to write them out', () => collectedOf(good.pid) === 2, 10_000);
      // a server certificate the agent's CA does not vouch for: refused by the agent, named
      const untrusted = await exportTwo({ OTEL_EXPORTER_OTLP_CERTIFICATE: other.cert, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: client.cert, OTEL_EXPORTER_OTLP_CLIENT_KEY: client.key });
      expect(untrusted.report).toMatchObject({ seen: 2, exported: 0 });
      expect(untrusted.lostLine).toBe('export 2 (tls 2)');
      expect(collectedOf(untrusted.pid)).toBe(0);
      // a client certificate the Collector does not trust: refused by the Collector
      const refused = await exportTwo({ OTEL_EXPORTER_OTLP_CERTIFICATE: server.cert, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: other.cert, OTEL_EXPORTER_OTLP_CLIENT_KEY: other.key });
      expect(refused.report).toMatchObject({ seen: 2, exported: 0 });
      // the handshake fails at the server's end: the agent hears a reset or a TLS alert
      expect(refused.lostLine).toMatch(/^export 2 \((tls|network) 2\)$/);
      expect(collectedOf(refused.pid)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('behind the Collector\'s bearer token authentication: accepted with the token, refused as http_401 without it', async () => {
    collector = await Collector.start({ http: { auth: { authenticator: 'bearertokenauth' } }, extensions: { bearertokenauth: { token: 'bindsnoop-test-token' } } });
    const good = await exportTwo({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20bindsnoop-test-token' });
    expect(good.report).toMatchObject({ seen: 2, exported: 2, lost: {} });
    await waitUntil('the Collector to write them out', () => collectedOf(good.pid) === 2, 10_000);
    const wrong = await exportTwo({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20wrong' });
    expect(wrong.report).toMatchObject({ seen: 2, exported: 0 });
    expect(wrong.lostLine).toBe('export 2 (http_401 2)');
    expect(collectedOf(wrong.pid)).toBe(0);
  });

  /** Records written out by these Collectors for binds of `uid`'s processes, by pid: the books' other side. */
  const collectedOfUid = (collectors: Collector[]): number => collectors.reduce((n, c) => n + c.records().filter((r) => plainAttributes(r.record.attributes)['process.real_user.id'] === OWN_UID).length, 0);

  it.each([
    ['stopped (SIGTERM, as a rolling update stops it)', 'SIGTERM' as const],
    ['killed (SIGKILL)', 'SIGKILL' as const],
  ])('a Collector %s and started again on its port in the middle of a 20,000 binds/s flood: every bind is written out or counted, and export goes on without a restart', async (_how, signal) => {
    const first = await Collector.start();
    collector = first;
    const agent = await Agent.start(['-q', '-u', String(OWN_UID)], { OTEL_EXPORTER_OTLP_ENDPOINT: first.url, BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50', BINDSNOOP_OTLP_TIMEOUT_MILLIS: '3000' });
    let second: Collector | undefined;
    const kept = mkdtempSync(path.join(tmpdir(), 'bindsnoop-otelcol-first-'));
    try {
      const flood = runBindsAsync(['--netns', '--uid', String(OWN_UID), '--repeat', '60000', '--rate', '20000', 'tcp,4,127.0.0.1,0']);
      await new Promise((r) => setTimeout(r, 1000));
      // its output kept aside for the books
      await first.stop(signal, kept);
      await new Promise((r) => setTimeout(r, 500));
      second = await Collector.start({ port: first.port });
      collector = second;
      await flood;
      // the books balance once what waits was sent
      await new Promise((r) => setTimeout(r, 3000));
      const exit = await agent.stop('SIGINT');
      expect([0, 1]).toContain(exit.code);
      const report = endReport(agent.stderr);
      expect(report.seen).toBe(60_000);
      const lost = Object.values(report.lost).reduce((a, b) => a + b, 0);
      expect(report.exported + lost).toBe(report.seen);
      await waitUntil('the second Collector to write out what it took', () => collectedOfUid([first, second!]) >= report.exported - (signal === 'SIGKILL' ? 64 : 0), 10_000);
      const collected = collectedOfUid([first, second]);
      if (signal === 'SIGTERM') {
        // what the agent counts as exported is what the two Collectors wrote out, exactly
        expect(collected).toBe(report.exported);
      } else {
        // a Collector killed outright loses what it had acknowledged and not yet written (its file exporter's
        // buffer): never more than the agent counted as exported, and only that buffer's worth less
        expect(collected).toBeLessThanOrEqual(report.exported);
        expect(report.exported - collected).toBeLessThanOrEqual(64);
      }
      // the second Collector got binds: export went on once it was back
      expect(collectedOfUid([second])).toBeGreaterThan(0);
    } finally {
      await agent.stop('SIGKILL').catch(() => undefined);
      rmSync(kept, { recursive: true, force: true });
    }
  }, 60_000);

  it('the Collector\'s memory_limiter refusing everything: nothing written out, every bind counted as lost after the retries, the books exact', async () => {
    // a limit below what the Collector itself uses: every request refused (retryable) once it was checked
    collector = await Collector.start({ processors: { memory_limiter: { check_interval: '100ms', limit_mib: 1, spike_limit_mib: 0 } } });
    await new Promise((r) => setTimeout(r, 500));
    const agent = await Agent.start(['-q', '-u', String(OWN_UID)], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50', BINDSNOOP_OTLP_TIMEOUT_MILLIS: '2000', BINDSNOOP_OTLP_SHUTDOWN_TIMEOUT_MILLIS: '5000' });
    const run = runBinds(['--netns', '--uid', String(OWN_UID), '--repeat', '100', 'tcp,4,127.0.0.1,0']);
    await new Promise((r) => setTimeout(r, 3000));
    await agent.stop('SIGINT');
    const report = endReport(agent.stderr);
    expect(report).toMatchObject({ seen: 100, exported: 0 });
    expect(report.lost).toMatchObject({ export: 100 });
    // refused as the Collector refuses under memory pressure (a retryable status), retried until the deadline
    expect(agent.stderr).toMatch(/lost binds: export 100 \((retries_exhausted|http_503|http_429|timeout) \d+/);
    expect(collectedOf(run.pid)).toBe(0);
    expect(collector.stderr).toMatch(/memory/i);
  });
});
