import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { exampleConfigYaml } from '../../src/config/example';
import { loadConfig, logsUrl, schemaLeaves } from '../../src/config/load';
import { envName } from '../../src/config/schema';
import { BindsnoopError } from '../../src/model/errors';
import { exporterSettings } from '../../src/otlp/settings';

const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function configError(sources: Parameters<typeof loadConfig>[0]): BindsnoopError {
  try {
    loadConfig(sources);
  } catch (e) {
    if (e instanceof BindsnoopError) return e;
    throw e;
  }
  throw new Error('configuration was accepted');
}

/** A valid value, not the default, for every key: what a file sets is what is loaded. */
const VALID: Record<string, unknown> = {
  'filter.pid': 4242, 'filter.uid': 1000, 'filter.ports': [80, 443], 'filter.errors': true, 'filter.cgroupMap': '/sys/fs/bpf/cg',
  'filter.mntnsMap': '/sys/fs/bpf/mnt', 'filter.kernelBinds': false, 'filter.executables': ['/usr/bin/', '/opt/'], 'filter.excludeExecutables': ['/usr/bin/sleep'], 'kernel.backend': 'kprobe', 'kernel.readCommandLine': true, 'output.format': 'json',
  'otlp.endpoint': 'http://collector:4318', 'otlp.logsEndpoint': 'https://logs:4318/v1/logs', 'otlp.protocol': 'http/json',
  'otlp.headers': 'x-tenant=a', 'otlp.compression': 'gzip', 'otlp.timeoutMillis': 1234, 'otlp.certificate': '/etc/ca.pem',
  'otlp.clientCertificate': '/etc/c.pem', 'otlp.clientKey': '/etc/k.pem', 'otlp.pipeline': 'sdk', 'otlp.encodeInAddon': false, 'otlp.maxQueueSize': 99, 'otlp.maxQueueBytes': 1048576, 'otlp.maxExportBatchSize': 33,
  'otlp.flushIntervalMillis': 77, 'otlp.shutdownTimeoutMillis': 5555, 'otlp.maxResources': 128, 'otlp.resourceIdleMillis': 2000, 'service.name': 'edge', 'service.resourceAttributes': 'a=b',
  'reader.ringBufferBytes': 1 << 22, 'reader.wakeupBytes': 8192, 'reader.drainIntervalMillis': 20, 'reader.maxPendingBatches': 64, 'reader.maxPendingBytes': 1048576,
  'log.lossWarningIntervalMillis': 1000, 'handover.enabled': true, 'handover.pinDir': '/sys/fs/bpf/ho', 'handover.unownedAfterMillis': 60000, 'server.port': 9191, 'server.host': '::1', 'kubernetes.enabled': true,
  'kubernetes.nodeName': 'node-7', 'kubernetes.podLogsDir': '/pods', 'kubernetes.containerLogsDir': '/containers',
  'kubernetes.deletedPodGraceMillis': 1000, 'kubernetes.pinDir': '/sys/fs/bpf/x', 'kubernetes.daemonSet': 'bindsnoop/bindsnoop', 'kubernetes.cgroupRoot': '/sys/fs/cgroup',
  'kubernetes.namespaces': 'a,b', 'kubernetes.excludeNamespaces': 'c', 'kubernetes.labelSelector': 'app=web',
  'kubernetes.mapSyncIntervalMillis': 250, 'kubernetes.labels': 'app', 'kubernetes.podServiceName': 'agent', 'kubernetes.api.enabled': 'false',
  'kubernetes.api.kubeconfig': '/kube/config', 'kubernetes.api.restartDelayMillis': 100, 'kubernetes.api.watchIdleMillis': 60000, 'kubernetes.api.listTimeoutMillis': 5000, 'otlp.attributeCountLimit': 64, 'otlp.attributeValueLengthLimit': 256, 'kubernetes.api.holdMillis': 1000, 'kubernetes.api.holdMaxRecords': 100, 'kubernetes.api.maxListBytes': 1048576, 'kubernetes.api.maxPods': 200, 'kubernetes.podRescanIntervalMillis': 100,
};

/** The nested mapping a file writes for one key path. */
function nest(key: string, value: unknown): Record<string, unknown> {
  return key.split('.').reduceRight<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
}

const getPath = (config: unknown, key: string): unknown => key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);

describe('configuration', () => {
  it('has documented defaults: export off, protobuf, service bindsnoop', () => {
    const c = loadConfig({ env: {}, flags: {} });
    expect(c.otlp).toMatchObject({ endpoint: '', protocol: 'http/protobuf', compression: 'none', timeoutMillis: 10000 });
    expect(c.service.name).toBe(''); // not configured: the resource falls back to bindsnoop
    expect(c.filter).toEqual({ pid: 0, uid: -1, ports: [], errors: false, cgroupMap: '', mntnsMap: '', kernelBinds: true, executables: [], excludeExecutables: [] });
    expect(c.kernel).toEqual({ backend: 'auto', readCommandLine: false });
    expect(logsUrl(c)).toBeUndefined();
  });

  it('names every key a.bCd in the environment as BINDSNOOP_A_B_CD', () => {
    expect(envName('otlp.timeoutMillis')).toBe('BINDSNOOP_OTLP_TIMEOUT_MILLIS');
    expect(envName('filter.cgroupMap')).toBe('BINDSNOOP_FILTER_CGROUP_MAP');
    expect(envName('reader.ringBufferBytes')).toBe('BINDSNOOP_READER_RING_BUFFER_BYTES');
    // every key can be set that way, and is loaded as given
    for (const leaf of schemaLeaves()) {
      const valid = VALID[leaf.path];
      const text = Array.isArray(valid) ? valid.join(',') : String(valid);
      const c = loadConfig({ env: { [envName(leaf.path)]: text }, flags: {} });
      expect(getPath(c, leaf.path), leaf.path).toEqual(valid);
    }
  });

  it('layers defaults < file < environment < flags', () => {
    const f = file('layers.yaml', 'otlp:\n  endpoint: http://file:4318\n  timeoutMillis: 1111\n  maxExportBatchSize: 64\nfilter:\n  ports: [80]\n');
    const c = loadConfig({
      file: f,
      env: { BINDSNOOP_OTLP_TIMEOUT_MILLIS: '2222', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' },
      flags: { 'filter.ports': [443, 8443] },
    });
    expect(c.otlp.maxExportBatchSize).toBe(64); // file
    expect(c.otlp.timeoutMillis).toBe(2222); // env over file
    expect(c.otlp.endpoint).toBe('http://env:4318'); // OTEL_ env over file
    expect(c.filter.ports).toEqual([443, 8443]); // flag over file
    expect(logsUrl(c)).toBe('http://env:4318/v1/logs');
  });

  it('reads JSON files too, and BINDSNOOP_CONFIG when -c is not given', () => {
    const f = file('c.json', JSON.stringify({ otlp: { protocol: 'http/json' } }));
    expect(loadConfig({ env: { BINDSNOOP_CONFIG: f }, flags: {} }).otlp.protocol).toBe('http/json');
  });

  it('prefers the logs-specific OTEL_ variables, and BINDSNOOP_ over both', () => {
    const env = {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
      OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '6000',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://x:1/custom',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://y:2',
      OTEL_SERVICE_NAME: 'audit',
    };
    const c = loadConfig({ env, flags: {} });
    expect(c.otlp.protocol).toBe('http/json');
    expect(c.otlp.timeoutMillis).toBe(6000);
    expect(logsUrl(c)).toBe('http://x:1/custom');
    expect(c.service.name).toBe('audit');
    expect(loadConfig({ env: { ...env, BINDSNOOP_OTLP_TIMEOUT_MILLIS: '7000' }, flags: {} }).otlp.timeoutMillis).toBe(7000);
  });

  it('names every bad key at once, with where it came from, as a CONFIG error (exit 2)', () => {
    const f = file('bad.yaml', 'otlp:\n  protocol: grpc\n  bogus: 1\nfilter:\n  ports: [70000]\nunknownSection: {}\n');
    const e = configError({ file: f, env: { BINDSNOOP_OTLP_TIMEOUT_MILLIS: 'soon', BINDSNOOP_NOPE: 'x', OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' }, flags: {} });
    expect(e.code).toBe('CONFIG');
    expect(e.exitStatus).toBe(2);
    for (const text of [
      `otlp.bogus (in ${f}): not a configuration key`,
      `unknownSection (in ${f}): not a configuration key`,
      `otlp.protocol (from ${f}): must be one of the possible values`,
      `filter.ports (from ${f}): must be a list of at most 64 port numbers`,
      "otlp.timeoutMillis (from BINDSNOOP_OTLP_TIMEOUT_MILLIS): 'soon' is not a whole number",
      'BINDSNOOP_NOPE: not a configuration variable',
    ]) {
      expect(e.message).toContain(text);
    }
  });

  it('never shows a secret in an error', () => {
    const f = file('secret.yaml', 'otlp:\n  headers: [1, 2]\n');
    const e = configError({ file: f, env: {}, flags: {} });
    expect(e.message).toContain('otlp.headers');
    const e2 = configError({ env: { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer topsecret', BINDSNOOP_OTLP_PROTOCOL: 'grpc' }, flags: {} });
    expect(e2.message).not.toContain('topsecret');
    // nor in a warning about an OTEL_ variable
    const warnings: string[] = [];
    loadConfig({ env: { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer topsecret', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, flags: {}, warn: (l) => warnings.push(l) });
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.join('\n')).not.toContain('topsecret');
  });

  it.each<[string, string, RegExp]>([
    ['a raw CR/LF', 'authorization=Bearer topsecret\r\nX-Injected: 1', /header authorization: its value holds a line break or another control character/],
    ['an escaped CR/LF', 'authorization=Bearer%20topsecret%0D%0AX-Injected:%201', /header authorization: its value holds a line break/],
    ['an escape that is not UTF-8', 'authorization=topsecret%FF', /header authorization: its value has a bad percent escape or is not UTF-8/],
    ['a bad escape', 'authorization=topsecret%ZZ', /bad percent escape/],
    ['a name that is no HTTP header name', 'bad name=topsecret', /entry 1: its name is not a valid HTTP header name/],
    ['an entry without =', 'api-key=topsecret,other', /entry 2 has no '='/],
  ])('refuses OTLP headers with %s at start (exit 2), naming the setting and never the value', (_what, headers, why) => {
    for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_LOGS_HEADERS', 'BINDSNOOP_OTLP_HEADERS']) {
      const e = configError({ env: { [name]: headers, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, flags: {} });
      expect(e.code).toBe('CONFIG');
      expect(e.message).toContain(`otlp.headers (from ${name}): `);
      expect(e.message).toMatch(why);
      expect(e.message).not.toContain('topsecret');
    }
  });

  it.each(['__proto__', 'toString()', '-lead', 'a'.repeat(64), 'Bad.Prefix/name', 'app,__proto__'])('refuses kubernetes.labels %j: a key no pod can have (exit 2)', (labels) => {
    const e = configError({ env: { BINDSNOOP_KUBERNETES_LABELS: labels }, flags: {} });
    expect(e.code).toBe('CONFIG');
    expect(e.message).toMatch(/kubernetes\.labels \(from BINDSNOOP_KUBERNETES_LABELS\): '.*' is not a Kubernetes label key/);
  });

  it('takes label keys as Kubernetes writes them, a prefix included', () => {
    const config = loadConfig({ env: { BINDSNOOP_KUBERNETES_LABELS: 'app, app.kubernetes.io/name,team_a,constructor' }, flags: {} });
    expect(config.kubernetes.labels).toBe('app, app.kubernetes.io/name,team_a,constructor');
  });

  it('takes well-formed headers, percent-decoded, skipping empty entries', () => {
    const config = loadConfig({ env: { OTEL_EXPORTER_OTLP_HEADERS: 'api-key=a%20b%3D, x-tenant = t1 ,,', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, flags: {} });
    expect(exporterSettings(config, '0')?.headers).toEqual({ 'api-key': 'a b=', 'x-tenant': 't1' });
  });

  it('says what is wrong with an unreadable or malformed file', () => {
    expect(configError({ file: path.join(dir, 'missing.yaml'), env: {}, flags: {} }).message).toMatch(/cannot read config file .*missing\.yaml \(ENOENT\)/);
    expect(configError({ file: file('broken.yaml', 'otlp: [\n'), env: {}, flags: {} }).message).toMatch(/is not valid JSON or YAML/);
    expect(configError({ file: file('list.yaml', '- 1\n'), env: {}, flags: {} }).message).toMatch(/top level must be a mapping/);
  });

  it('ships an example file with every key, as generated from the schema, that loads as is', () => {
    const shipped = path.resolve(__dirname, '..', '..', 'config', 'bindsnoop.example.yaml');
    expect(readFileSync(shipped, 'utf8')).toBe(exampleConfigYaml());
    expect(loadConfig({ file: shipped, env: {}, flags: {} })).toEqual(loadConfig({ env: {}, flags: {} }));
    for (const leaf of schemaLeaves()) expect(readFileSync(shipped, 'utf8')).toContain(envName(leaf.path));
  });

  it('loads every key of the schema from a file, as written', () => {
    expect(Object.keys(VALID).sort()).toEqual(schemaLeaves().map((l) => l.path).sort());
    const doc: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(VALID)) {
      const parts = key.split('.');
      let node = doc;
      for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
      node[parts[parts.length - 1]] = value;
    }
    const c = loadConfig({ file: file('every-key.yaml', toYaml(doc)), env: {}, flags: {} });
    for (const [key, value] of Object.entries(VALID)) expect(getPath(c, key), key).toEqual(value);
  });

  it('refuses a value of the wrong type for every key, naming the key and the file (exit 2)', () => {
    for (const leaf of schemaLeaves()) {
      const wrong = { number: 'abc', boolean: 'maybe', ports: '80,443', paths: '/usr/bin/', string: 42 }[leaf.kind];
      const f = file('wrong-type.yaml', toYaml(nest(leaf.path, wrong)));
      const e = configError({ file: f, env: {}, flags: {} });
      expect(e.exitStatus, leaf.path).toBe(2);
      expect(e.message, leaf.path).toContain(`${leaf.path} (in ${f}): must be `);
    }
  });

  it.each([
    ['server: 9090\n', 'server (in FILE): must be a section (a mapping of keys such as server.port, server.host), not a number (9090)'],
    ['otlp: "http://collector:4318"\n', 'otlp (in FILE): must be a section'],
    ['kubernetes: true\n', 'kubernetes (in FILE): must be a section'],
    ['reader: 4096\n', 'reader (in FILE): must be a section'],
    ['otlp: [1, 2]\n', 'otlp (in FILE): must be a section (a mapping of keys such as otlp.endpoint, otlp.logsEndpoint), not a list'],
    ['kubernetes:\n  api: auto\n', 'kubernetes.api (in FILE): must be a section'],
    ['filter:\n  pid: !!binary aGVsbG8=\n', 'filter.pid (in FILE): must be a number, not binary data'],
    ['filter:\n  ports: "80,443"\n', 'filter.ports (in FILE): must be a list of port numbers, not a string ("80,443")'],
    ['server:\n  host: not-an-ip\n', 'server.host (from FILE): must be an IP address such as 0.0.0.0, 127.0.0.1 or ::'],
    ['otlp:\n  headers: 42\n', 'otlp.headers (in FILE): must be a string, not a number'],
  ])('refuses a misshapen file: %j', (text, message) => {
    const f = file('misshapen.yaml', text);
    const e = configError({ file: f, env: {}, flags: {} });
    expect(e.exitStatus).toBe(2);
    expect(e.message).toContain(message.replace('FILE', f));
    expect(e.message).not.toContain('42)'); // a secret's value is never shown, even a wrong one
  });

  it('refuses a device or an oversized file instead of reading it forever', () => {
    expect(configError({ file: '/dev/zero', env: {}, flags: {} }).message).toBe('config file /dev/zero is not a regular file: give the path of a JSON or YAML file');
    const text = `# ${'x'.repeat(1 << 20)}\n`;
    const big = file('big.yaml', text);
    expect(configError({ file: big, env: {}, flags: {} }).message).toBe(`config file ${big} is ${text.length} bytes: a configuration is at most 1048576 bytes`);
  });

  it('checks at start that the PEM files hold what they should', () => {
    const notPem = file('not.pem', 'hello\n');
    const config = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318', OTEL_EXPORTER_OTLP_CERTIFICATE: notPem }, flags: {} });
    expect(() => exporterSettings(config, '0')).toThrow(`otlp.certificate: ${notPem} holds no PEM certificate`);
    const key = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318', OTEL_EXPORTER_OTLP_CLIENT_KEY: notPem }, flags: {} });
    expect(() => exporterSettings(key, '0')).toThrow(`otlp.clientKey: ${notPem} holds no PEM private key`);
  });

  it('refuses a certificate or key on a device, a FIFO or past 1 MiB at once, instead of reading it forever or hanging', () => {
    const fifo = path.join(dir, 'cert-fifo');
    execFileSync('mkfifo', [fifo]);
    const big = file('big.pem', '-----BEGIN CERTIFICATE-----\n' + 'A'.repeat(1 << 20));
    const cases: [string, string, string][] = [
      ['OTEL_EXPORTER_OTLP_CERTIFICATE', '/dev/zero', 'otlp.certificate: /dev/zero is not a regular file: give the path of a PEM file'],
      ['OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE', fifo, `otlp.clientCertificate: ${fifo} is not a regular file: give the path of a PEM file`],
      ['OTEL_EXPORTER_OTLP_CLIENT_KEY', big, `otlp.clientKey: ${big} is larger than 1048576 bytes: give the path of a PEM file`],
      ['OTEL_EXPORTER_OTLP_CERTIFICATE', path.join(dir, 'absent.pem'), `otlp.certificate: cannot read ${path.join(dir, 'absent.pem')} (ENOENT)`],
    ];
    for (const [name, value, message] of cases) {
      const config = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318', [name]: value }, flags: {} });
      // (before: /dev/zero was read until memory ran out, the FIFO blocked the start for ever)
      expect(() => exporterSettings(config, '0')).toThrow(message);
    }
  });

  it('never shows the credentials of an endpoint URL, in an error or a warning', () => {
    const e = configError({ env: { BINDSNOOP_OTLP_ENDPOINT: 'ftp://alice:URLSECRET@collector:4318' }, flags: {} });
    expect(e.message).toContain("otlp.endpoint (from BINDSNOOP_OTLP_ENDPOINT): 'ftp://***@collector:4318' is not an http:// or https:// URL");
    expect(e.message).not.toContain('URLSECRET');
    expect(e.message).not.toContain('alice');
    // an OTEL_ endpoint that is no http(s) URL is warned about and ignored (the SDK specification's rule): export stays off
    const warnings: string[] = [];
    const config = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://alice:URLSECRET@collector:4318' }, flags: {}, warn: (l) => warnings.push(l) });
    expect(logsUrl(config)).toBeUndefined();
    expect(warnings).toEqual(["OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://***@collector:4318' is not an http:// or https:// URL; ignored"]);
  });

  it('refuses kubernetes.api.enabled true with neither a kubeconfig nor a cluster', () => {
    const e = configError({ env: { BINDSNOOP_KUBERNETES_API_ENABLED: 'true' }, flags: {} });
    expect(e.message).toContain('kubernetes.api.enabled (from BINDSNOOP_KUBERNETES_API_ENABLED): true, but there is no kubeconfig');
    expect(loadConfig({ env: { BINDSNOOP_KUBERNETES_API_ENABLED: 'true', KUBERNETES_SERVICE_HOST: '10.0.0.1' }, flags: {} }).kubernetes.api.enabled).toBe('true');
  });
});
