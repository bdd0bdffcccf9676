import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load';
import { daemonSetGoneIn, daemonSetInList, parseDaemonSetRef } from '../../src/kubernetes/owner-watch';

describe('the watch of the agent\'s own DaemonSet', () => {
  it('reads a list: there, being deleted, absent; anything else is not a list', () => {
    expect(daemonSetInList({ items: [{ metadata: { name: 'b' } }] })).toBe('present');
    expect(daemonSetInList({ items: [{ metadata: { name: 'b', deletionTimestamp: '2026-12-07T10:00:00Z' } }] })).toBe('deleting');
    expect(daemonSetInList({ items: [] })).toBe('absent');
    for (const bad of [null, [], 'x', { items: 'no' }, {}]) expect(daemonSetInList(bad)).toBeUndefined();
  });

  it('reads a watch event: DELETED, or an object being deleted, is gone; nothing else is', () => {
    expect(daemonSetGoneIn('{"type":"DELETED","object":{"metadata":{"name":"b"}}}')).toBe(true);
    expect(daemonSetGoneIn('{"type":"MODIFIED","object":{"metadata":{"name":"b","deletionTimestamp":"2026-12-07T10:00:00Z"}}}')).toBe(true);
    for (const line of ['{"type":"MODIFIED","object":{"metadata":{"name":"b"}}}', '{"type":"BOOKMARK","object":{}}', '{"type":"ERROR","object":{"code":410}}', 'not json', '[]', 'null']) {
      expect(daemonSetGoneIn(line), line).toBe(false);
    }
  });

  it('takes NAMESPACE/NAME of DNS-1123 names, and the configuration refuses anything else, naming the key', () => {
    expect(parseDaemonSetRef('bindsnoop/bindsnoop-otel')).toEqual({ namespace: 'bindsnoop', name: 'bindsnoop-otel' });
    for (const bad of ['bindsnoop', '/x', 'x/', 'A/b', 'a/b/c', 'a b/c', `${'a'.repeat(64)}/b`]) expect(parseDaemonSetRef(bad), bad).toBeUndefined();
    expect(() => loadConfig({ env: { BINDSNOOP_KUBERNETES_DAEMON_SET: 'no-slash' }, flags: {} })).toThrow(/kubernetes\.daemonSet \(from BINDSNOOP_KUBERNETES_DAEMON_SET\): must be NAMESPACE\/NAME/);
  });
});
