import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exampleConfigYaml } from '../../src/config/example';
import { loadConfig, logsUrl, schemaLeaves } from '../../src/config/load';
import { envName } from '../../src/config/schema';
import { BindsnoopError } from '../../src/errors';

const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-config-'));
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

describe('configuration', () => {
  it('has documented defaults: export off, protobuf, service bindsnoop', () => {
    const c = loadConfig({ env: {}, flags: {} });
    expect(c.otlp).toMatchObject({ endpoint: '', protocol: 'http/protobuf', compression: 'none', timeoutMillis: 10000 });
    expect(c.service.name).toBe('bindsnoop');
    expect(c.filter).toEqual({ pid: 0, uid: -1, ports: [], errors: false, cgroupMap: '', mntnsMap: '', kernelBinds: true });
    expect(c.kernel).toEqual({ backend: 'auto' });
    expect(logsUrl(c)).toBeUndefined();
  });

  it('names every key a.bCd in the environment as BINDSNOOP_A_B_CD', () => {
    expect(envName('otlp.timeoutMillis')).toBe('BINDSNOOP_OTLP_TIMEOUT_MILLIS');
    expect(envName('filter.cgroupMap')).toBe('BINDSNOOP_FILTER_CGROUP_MAP');
    expect(envName('reader.ringBufferBytes')).toBe('BINDSNOOP_READER_RING_BUFFER_BYTES');
    // every key can be set that way
    for (const leaf of schemaLeaves()) {
      const value = leaf.kind === 'number' ? '7' : leaf.kind === 'boolean' ? 'true' : leaf.kind === 'ports' ? '80,443' : undefined;
      if (!value) continue;
      const env = { [envName(leaf.path)]: value };
      try {
        loadConfig({ env, flags: {} });
      } catch (e) {
        // a value out of range for that key is still recognised as the key
        expect((e as Error).message).toContain(leaf.path);
      }
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
      "otlp.endpoint (from OTEL_EXPORTER_OTLP_ENDPOINT): 'localhost:4318' is not an http:// or https:// URL",
    ]) {
      expect(e.message).toContain(text);
    }
  });

  it('never shows a secret in an error', () => {
    const f = file('secret.yaml', 'otlp:\n  headers: [1, 2]\n');
    const e = configError({ file: f, env: {}, flags: {} });
    expect(e.message).toContain('otlp.headers');
    const e2 = configError({ env: { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer topsecret', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, flags: {} });
    expect(e2.message).not.toContain('topsecret');
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
});
