import { describe, expect, it } from 'vitest';
import { failureReason } from '../../src/otlp/exporter';
import { bodyLine } from '../../src/naming/body';
import { baseResourceAttributes } from '../../src/naming/resource';
import { bindLogRecord, limitAttributes } from '../../src/otlp/record';
import { hrTimeFromNs } from '../../src/otlp/sdk-pipeline';
import { resourceKey } from '../../src/otlp/resource-cache';
import { addr4, makeEvent, named } from './events';

describe('the log record of a bind', () => {
  it('has the contract\'s body lines', () => {
    expect(bodyLine(makeEvent({ opts: 0b01000 }))).toBe('nginx[1234] bound TCP 0.0.0.0:80 opts=...R. if=0');
    expect(bodyLine(makeEvent({ ret: -98, boundPort: 0 }))).toBe('nginx[1234] bind TCP 0.0.0.0:80 failed: EADDRINUSE');
    const v6 = makeEvent({ family: 10, reqFamily: 10, protocol: 17, boundAddr: new Uint8Array([...Array(15).fill(0), 1]), boundPort: 53, boundDevIf: 2 });
    expect(bodyLine(v6)).toBe('nginx[1234] bound UDP [::1]:53 opts=..... if=2');
    expect(bodyLine(makeEvent({ ret: -99, reqAddr: addr4(192, 0, 2, 1), reqPort: 443 }))).toBe('nginx[1234] bind TCP 192.0.2.1:443 failed: EADDRNOTAVAIL');
    // a sockaddr of another family (AF_UNIX) on an IPv6 socket: the address is shown as the socket's, bracketed as such
    const unixOnV6 = makeEvent({ family: 10, ret: -97, reqFamily: 1, reqAddr: new Uint8Array(16), reqPort: 0, boundPort: 0 });
    expect(bodyLine(unixOnV6)).toBe('nginx[1234] bind TCP [::]:0 failed: EAFNOSUPPORT');
  });

  it('cuts string values, and each string of an array value, to the value length limit (the SDK\'s rule)', () => {
    const record = bindLogRecord(named(makeEvent({ args: Buffer.from('python3\0-c\0print(1)\0'), argsFlags: 0 })), 1n);
    const limited = limitAttributes(record, { countLimit: 0, valueLengthLimit: 4 });
    expect(limited.attributes['process.command_args']).toEqual(['pyth', '-c', 'prin']);
    expect(limited.attributes['process.executable.path']).toBe('/usr');
    expect(limited.attributes['process.pid']).toBe(1234);
    expect(limitAttributes(record, { countLimit: 0, valueLengthLimit: 0 })).toBe(record);
  });

  it('is INFO when the bind worked and WARN when it failed, with event name and nanosecond times', () => {
    const ok = bindLogRecord(named(makeEvent(), 1_795_624_969_002_583_715n), 1_795_624_969_100_000_000n);
    expect(ok).toMatchObject({ eventName: 'bindsnoop.bind', severityNumber: 9, severityText: 'INFO' });
    expect(ok.timeUnixNano).toBe(1_795_624_969_002_583_715n);
    expect(ok.observedTimeUnixNano).toBe(1_795_624_969_100_000_000n);
    // as the SDK pipeline hands it to the SDK
    expect(hrTimeFromNs(ok.timeUnixNano)).toEqual([1_795_624_969, 2_583_715]);
    const failed = bindLogRecord(named(makeEvent({ ret: -13 })), 0n);
    expect(failed).toMatchObject({ severityNumber: 13, severityText: 'WARN' });
    expect(failed.attributes['error.type']).toBe('EACCES');
    expect(hrTimeFromNs(999_999_999n)).toEqual([0, 999_999_999]);
  });
});

describe('export failure reasons', () => {
  it('name the HTTP status, network errors, timeouts and exhausted retries', () => {
    expect(failureReason({ code: 400, message: 'Bad Request' })).toBe('http_400');
    expect(failureReason(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('network');
    // a certificate that does not verify is tls, not network
    for (const code of ['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      expect(failureReason(Object.assign(new Error(code), { code })), code).toBe('tls');
    }
    expect(failureReason(new Error('Request timed out'))).toBe('timeout');
    expect(failureReason(new Error('Export failed with retryable status'))).toBe('retries_exhausted');
    expect(failureReason(new Error('Concurrent export limit reached'))).toBe('concurrency_limit');
    expect(failureReason(undefined)).toBe('other');
  });
});

describe('the resource', () => {
  it('always carries service, version and host; the node when known; OTEL_SERVICE_NAME wins over the attributes\' service.name', () => {
    const attrs = baseResourceAttributes({
      serviceName: 'audit',
      serviceVersion: '1.2.3',
      hostName: 'h1',
      nodeName: 'node-a',
      kubernetes: false,
      extra: 'service.name=from-attrs,team=net,deployment.environment.name=prod',
      machineId: '0123456789abcdef0123456789abcdef',
      instanceId: '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d',
    });
    expect(attrs).toEqual({
      'service.name': 'audit',
      'service.version': '1.2.3',
      'service.instance.id': '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d',
      'host.name': 'h1',
      'host.id': '0123456789abcdef0123456789abcdef',
      'os.type': 'linux',
      'k8s.node.name': 'node-a',
      // what an OpenTelemetry SDK is required to put on its resource
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': expect.stringMatching(/^\d+\.\d+\.\d+/),
      team: 'net',
      'deployment.environment.name': 'prod',
    });
    // a random instance id when none is configured, a new one each run
    const a = baseResourceAttributes({ serviceName: '', serviceVersion: '1', hostName: 'h', kubernetes: false, extra: '' });
    const b = baseResourceAttributes({ serviceName: '', serviceVersion: '1', hostName: 'h', kubernetes: false, extra: '' });
    expect(a['service.instance.id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(a['service.instance.id']).not.toBe(b['service.instance.id']);
    expect(baseResourceAttributes({ serviceName: 's', serviceVersion: 'v', hostName: 'h', kubernetes: false, extra: '' })).not.toHaveProperty('k8s.node.name');
  });

  it('takes service.name from OTEL_RESOURCE_ATTRIBUTES when OTEL_SERVICE_NAME is not set, else bindsnoop', () => {
    const base = { serviceName: '', serviceVersion: 'v', hostName: 'h', kubernetes: false };
    expect(baseResourceAttributes({ ...base, extra: 'service.name=from-attrs' })['service.name']).toBe('from-attrs');
    expect(baseResourceAttributes({ ...base, extra: '' })['service.name']).toBe('bindsnoop');
  });

  it('names the host as configured, else the node in Kubernetes mode, never the agent container\'s own hostname', () => {
    const base = { serviceName: '', serviceVersion: 'v', hostName: 'bindsnoop-x7k2p', nodeName: 'node-a' };
    expect(baseResourceAttributes({ ...base, kubernetes: true, extra: '' })['host.name']).toBe('node-a');
    expect(baseResourceAttributes({ ...base, kubernetes: true, extra: 'host.name=edge-7' })['host.name']).toBe('edge-7');
    expect(baseResourceAttributes({ ...base, kubernetes: false, extra: '' })['host.name']).toBe('bindsnoop-x7k2p');
  });

  it('keys resources by content, whatever the attribute order', () => {
    expect(resourceKey({ a: 1, b: 'x' })).toBe(resourceKey({ b: 'x', a: 1 }));
    expect(resourceKey({ a: 1 })).not.toBe(resourceKey({ a: 2 }));
  });
});
