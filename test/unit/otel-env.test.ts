import { describe, expect, it } from 'vitest';
import { loadConfig, logsUrl } from '../../src/config/load';
import type { AppConfig } from '../../src/config/schema';
import { readOtelEnvironment } from '../../src/config/otel-env';

/**
 * The OpenTelemetry SDK environment variables that apply to a logs exporter and
 * SDK, each with a valid, an upper-case, an unknown and an empty value, and what
 * the agent does (sdk-environment-variables.md; common.md's rules).
 */
function load(env: Record<string, string>): { config: AppConfig; warnings: string[] } {
  const warnings: string[] = [];
  const config = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', ...env }, flags: {}, warn: (l) => warnings.push(l) });
  return { config, warnings };
}

const defaults = loadConfig({ env: {}, flags: {} });
type Case = [variable: string, value: string, key: (c: AppConfig) => unknown, expected: unknown, warned: boolean];

describe('the OpenTelemetry SDK environment, variable by variable', () => {
  it.each<Case>([
    ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'http://c:4318/logs', (c) => c.otlp.logsEndpoint, 'http://c:4318/logs', false],
    ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'c:4318', (c) => c.otlp.logsEndpoint, '', true],
    ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', '', (c) => c.otlp.logsEndpoint, '', false],
    // enums: case-insensitive; unknown warned and ignored (the default applies); empty is unset
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json', (c) => c.otlp.protocol, 'http/json', false],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'HTTP/JSON', (c) => c.otlp.protocol, 'http/json', false],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc', (c) => c.otlp.protocol, defaults.otlp.protocol, true],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', '', (c) => c.otlp.protocol, defaults.otlp.protocol, false],
    ['OTEL_EXPORTER_OTLP_LOGS_PROTOCOL', 'Http/Protobuf', (c) => c.otlp.protocol, 'http/protobuf', false],
    ['OTEL_EXPORTER_OTLP_COMPRESSION', 'gzip', (c) => c.otlp.compression, 'gzip', false],
    ['OTEL_EXPORTER_OTLP_COMPRESSION', 'GZIP', (c) => c.otlp.compression, 'gzip', false],
    ['OTEL_EXPORTER_OTLP_COMPRESSION', 'deflate', (c) => c.otlp.compression, defaults.otlp.compression, true],
    ['OTEL_EXPORTER_OTLP_LOGS_COMPRESSION', 'NONE', (c) => c.otlp.compression, 'none', false],
    // durations in ms: 0 = no limit; negative or unparseable warned and ignored
    ['OTEL_EXPORTER_OTLP_TIMEOUT', '2500', (c) => c.otlp.timeoutMillis, 2500, false],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', '0', (c) => c.otlp.timeoutMillis, 600_000, false],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', '-5', (c) => c.otlp.timeoutMillis, defaults.otlp.timeoutMillis, true],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', 'ten', (c) => c.otlp.timeoutMillis, defaults.otlp.timeoutMillis, true],
    ['OTEL_EXPORTER_OTLP_LOGS_TIMEOUT', '700', (c) => c.otlp.timeoutMillis, 700, false],
    ['OTEL_BLRP_EXPORT_TIMEOUT', '900', (c) => c.otlp.timeoutMillis, 900, false],
    ['OTEL_BLRP_SCHEDULE_DELAY', '250', (c) => c.otlp.flushIntervalMillis, 250, false],
    ['OTEL_BLRP_SCHEDULE_DELAY', '-1', (c) => c.otlp.flushIntervalMillis, defaults.otlp.flushIntervalMillis, true],
    ['OTEL_BLRP_MAX_QUEUE_SIZE', '4096', (c) => c.otlp.maxQueueSize, 4096, false],
    ['OTEL_BLRP_MAX_QUEUE_SIZE', 'lots', (c) => c.otlp.maxQueueSize, defaults.otlp.maxQueueSize, true],
    ['OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', '512', (c) => c.otlp.maxExportBatchSize, 512, false],
    ['OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', '', (c) => c.otlp.maxExportBatchSize, defaults.otlp.maxExportBatchSize, false],
    ['OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT', '16', (c) => c.otlp.attributeCountLimit, 16, false],
    ['OTEL_ATTRIBUTE_COUNT_LIMIT', '0', (c) => c.otlp.attributeCountLimit, 0, false],
    ['OTEL_ATTRIBUTE_COUNT_LIMIT', 'many', (c) => c.otlp.attributeCountLimit, defaults.otlp.attributeCountLimit, true],
    ['OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT', '64', (c) => c.otlp.attributeValueLengthLimit, 64, false],
    ['OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', '-3', (c) => c.otlp.attributeValueLengthLimit, defaults.otlp.attributeValueLengthLimit, true],
    ['OTEL_SERVICE_NAME', 'audit', (c) => c.service.name, 'audit', false],
    ['OTEL_SERVICE_NAME', '', (c) => c.service.name, defaults.service.name, false],
    ['OTEL_RESOURCE_ATTRIBUTES', 'team=net,env=prod%20eu', (c) => c.service.resourceAttributes, 'team=net,env=prod%20eu', false],
    // a decoding error discards the whole value, with an error reported
    ['OTEL_RESOURCE_ATTRIBUTES', 'good=1,bad=%ZZ,k', (c) => c.service.resourceAttributes, '', true],
    // console alone: JSON lines on stdout, and (said) no OTLP export
    ['OTEL_LOGS_EXPORTER', 'console', (c) => c.output.format, 'json', true],
    ['OTEL_LOGS_EXPORTER', 'OTLP', (c) => c.output.format, defaults.output.format, false],
    ['OTEL_LOGS_EXPORTER', '', (c) => c.output.format, defaults.output.format, false],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'api-key=k1', (c) => c.otlp.headers, 'api-key=k1', false],
    ['OTEL_EXPORTER_OTLP_LOGS_HEADERS', '', (c) => c.otlp.headers, defaults.otlp.headers, false],
    ['OTEL_EXPORTER_OTLP_CERTIFICATE', '/etc/ssl/ca.pem', (c) => c.otlp.certificate, '/etc/ssl/ca.pem', false],
    ['OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY', '', (c) => c.otlp.clientKey, defaults.otlp.clientKey, false],
    ['OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE', '/etc/ssl/c.pem', (c) => c.otlp.clientCertificate, '/etc/ssl/c.pem', false],
    ['OTEL_LOGS_EXPORTER', 'zipkin', (c) => c.output.format, defaults.output.format, true],
  ])('%s=%j', (name, value, key, expected, warned) => {
    const { config, warnings } = load({ [name]: value });
    expect(key(config)).toEqual(expected);
    if (warned) expect(warnings.some((w) => w.startsWith(name) || w.includes(name))).toBe(true);
    else expect(warnings.filter((w) => w.includes(name))).toEqual([]);
  });

  it('OTEL_SDK_DISABLED=true (any case) turns export off, saying so; false or empty leaves it on; another value is warned and taken as false', () => {
    for (const value of ['true', 'TRUE', 'True']) {
      const { config, warnings } = load({ OTEL_SDK_DISABLED: value });
      expect(logsUrl(config)).toBeUndefined();
      expect(warnings).toContain('OTEL_SDK_DISABLED turns OTLP export off');
    }
    for (const value of ['false', '']) expect(logsUrl(load({ OTEL_SDK_DISABLED: value }).config)).toBe('http://127.0.0.1:4318/v1/logs');
    const maybe = load({ OTEL_SDK_DISABLED: 'yes' });
    expect(logsUrl(maybe.config)).toBe('http://127.0.0.1:4318/v1/logs');
    expect(maybe.warnings).toContain("OTEL_SDK_DISABLED: 'yes' is not true or false; taken as false");
  });

  it('OTEL_LOGS_EXPORTER=none (any case), or console alone, turns OTLP export off; otlp,console keeps both', () => {
    expect(logsUrl(load({ OTEL_LOGS_EXPORTER: 'none' }).config)).toBeUndefined();
    expect(logsUrl(load({ OTEL_LOGS_EXPORTER: 'NONE' }).config)).toBeUndefined();
    expect(logsUrl(load({ OTEL_LOGS_EXPORTER: 'console' }).config)).toBeUndefined();
    const both = load({ OTEL_LOGS_EXPORTER: 'otlp,console' }).config;
    expect(logsUrl(both)).toBe('http://127.0.0.1:4318/v1/logs');
    expect(both.output.format).toBe('json');
  });

  it('a signal-specific variable wins over the generic one, and a BINDSNOOP_ variable over both', () => {
    expect(load({ OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_COMPRESSION: 'none' }).config.otlp.compression).toBe('gzip');
    // an unusable signal-specific value falls back to the generic one
    expect(load({ OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'br', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }).config.otlp.compression).toBe('gzip');
    expect(load({ OTEL_BLRP_MAX_QUEUE_SIZE: '100', BINDSNOOP_OTLP_MAX_QUEUE_SIZE: '200' }).config.otlp.maxQueueSize).toBe(200);
    // BINDSNOOP_ stays strict
    expect(() => loadConfig({ env: { BINDSNOOP_OTLP_COMPRESSION: 'GZIP' }, flags: {} })).toThrow(/otlp.compression/);
  });

  it.each<[string, string, (c: AppConfig) => number, number]>([
    ['OTEL_BLRP_MAX_QUEUE_SIZE', '100000000000000000000', (c) => c.otlp.maxQueueSize, 65_536],
    ['OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', '100001', (c) => c.otlp.maxExportBatchSize, 2048],
    ['OTEL_BLRP_SCHEDULE_DELAY', '99999999999', (c) => c.otlp.flushIntervalMillis, 1000],
    ['OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT', '99999999999999', (c) => c.otlp.attributeValueLengthLimit, 0],
  ])('%s=%s, out of the key\'s range, is warned about and ignored (the start goes on with the default)', (name, value, key, fallback) => {
    const { config, warnings } = load({ [name]: value });
    expect(key(config)).toBe(fallback);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^${name}: '${value}' must be .*, a whole number from \\d+ to \\d+; ignored \\(the default applies\\)$`))]);
  });

  it('an endpoint with an IPv6 zone is warned about by name and ignored; a proxy variable is said to be unused', () => {
    const { config, warnings } = load({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://[fe80::1%25lo]:4318/v1/logs', HTTPS_PROXY: 'http://proxy:3128' });
    expect(config.otlp.logsEndpoint).toBe('');
    expect(warnings).toContain("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://[fe80::1%25lo]:4318/v1/logs' has an IPv6 zone (%25...), which URLs here cannot carry: give a global or unique-local address, or a host name; ignored");
    expect(warnings).toContain('HTTPS_PROXY is set: bindsnoop does not export through a proxy; it connects to the OTLP endpoint directly');
  });

  it('any other OTEL_ variable is named in one warning and ignored', () => {
    const { warnings } = load({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_PROPAGATORS: 'tracecontext' });
    expect([...warnings].sort()).toEqual(['OTEL_PROPAGATORS is not supported by bindsnoop; ignored', 'OTEL_TRACES_EXPORTER is not supported by bindsnoop; ignored']);
  });

  it('builds the logs URL exactly as the exporter specification does', () => {
    const url = (endpoint: string): string | undefined => logsUrl(loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }, flags: {} }));
    expect(url('http://collector:4318')).toBe('http://collector:4318/v1/logs');
    expect(url('http://collector:4318/')).toBe('http://collector:4318/v1/logs');
    expect(url('http://collector:4318/mycollector')).toBe('http://collector:4318/mycollector/v1/logs');
    expect(url('http://collector:4318/mycollector/')).toBe('http://collector:4318/mycollector/v1/logs');
    // a query stays a query, after the path; a path ending in // is not changed
    expect(url('http://collector:4318/p?a=1')).toBe('http://collector:4318/p/v1/logs?a=1');
    expect(url('http://collector:4318/p//')).toBe('http://collector:4318/p//v1/logs');
    // the signal's own endpoint is used as given
    expect(logsUrl(loadConfig({ env: { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://c:4318/custom?x=1' }, flags: {} }))).toBe('http://c:4318/custom?x=1');
  });

  it('reads nothing from an environment without OTEL_ variables', () => {
    expect(readOtelEnvironment({ PATH: '/bin' })).toEqual({ values: new Map(), console: false, warnings: [] });
  });
});
