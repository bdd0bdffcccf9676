import { describe, expect, it } from 'vitest';
import { apiPod, containerIdOf, labelAttributes, ownerAttributes } from '../../src/kubernetes/pod-api';

describe('pod owners as k8sattributes names them', () => {
  const rs = (name: string) => [{ kind: 'ReplicaSet', name, controller: true }];
  it('Deployment through its ReplicaSet and pod-template-hash', () => {
    expect(ownerAttributes(rs('api-7c9d8f'), { 'pod-template-hash': '7c9d8f' })).toEqual({ 'k8s.replicaset.name': 'api-7c9d8f', 'k8s.deployment.name': 'api' });
    expect(ownerAttributes(rs('bare-rs'), {})).toEqual({ 'k8s.replicaset.name': 'bare-rs' });
  });
  it('DaemonSet, StatefulSet, Job and the CronJob of a scheduled Job', () => {
    expect(ownerAttributes([{ kind: 'DaemonSet', name: 'node-exporter' }], {})).toEqual({ 'k8s.daemonset.name': 'node-exporter' });
    expect(ownerAttributes([{ kind: 'StatefulSet', name: 'db' }], {})).toEqual({ 'k8s.statefulset.name': 'db' });
    expect(ownerAttributes([{ kind: 'Job', name: 'migrate' }], {})).toEqual({ 'k8s.job.name': 'migrate' });
    expect(ownerAttributes([{ kind: 'Job', name: 'backup-29384720' }], {})).toEqual({ 'k8s.job.name': 'backup-29384720', 'k8s.cronjob.name': 'backup' });
  });
  it('the controller among several owners; none for a bare pod', () => {
    expect(ownerAttributes([{ kind: 'Node', name: 'n1' }, { kind: 'DaemonSet', name: 'ds', controller: true }], {})).toEqual({ 'k8s.daemonset.name': 'ds' });
    expect(ownerAttributes(undefined, {})).toEqual({});
  });
});

describe('pod objects', () => {
  it('keeps container ids without the runtime prefix, init containers included', () => {
    const id = 'a'.repeat(64);
    expect(containerIdOf(`containerd://${id}`)).toBe(id);
    expect(containerIdOf(`cri-o://${id}`)).toBe(id);
    expect(containerIdOf('')).toBeUndefined();
    const p = apiPod({
      metadata: { uid: 'u', name: 'p', namespace: 'n' },
      status: { initContainerStatuses: [{ name: 'init', containerID: `docker://${'b'.repeat(64)}` }], containerStatuses: [{ name: 'app', containerID: `containerd://${id}` }, { name: 'waiting' }] },
    });
    expect([...p!.containers]).toEqual([['b'.repeat(64), 'init'], [id, 'app']]);
    expect(apiPod({ metadata: { name: 'no-uid' } })).toBeUndefined();
  });
  it('attaches only the configured labels', () => {
    expect(labelAttributes({ app: 'cart', tier: 'web', secret: 'x' }, ['app', 'tier', 'absent'])).toEqual({ 'k8s.pod.label.app': 'cart', 'k8s.pod.label.tier': 'web' });
  });
});
