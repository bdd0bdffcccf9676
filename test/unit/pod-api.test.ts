import { describe, expect, it } from 'vitest';
import { apiPod, MAX_POD_CONTAINERS, MAX_POD_KEPT_CHARS, MAX_POD_VALUE_CHARS, containerIdOf, labelAttributes, ownerAttributes } from '../../src/kubernetes/pod-api';

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
    expect([...p.pod!.containers]).toEqual([['b'.repeat(64), 'init'], [id, 'app']]);
    expect(p.rejectedValues).toBe(0);
    expect(apiPod({ metadata: { name: 'no-uid' } }).pod).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['{}', {}],
    ['a string', 'pod'],
    ['an array', [1, 2]],
    ['metadata null', { metadata: null }],
    ['metadata a number', { metadata: 7 }],
    ['a uid that is a number', { metadata: { uid: 1, name: 'p', namespace: 'n' } }],
    ['an empty name', { metadata: { uid: 'u', name: '', namespace: 'n' } }],
    ['a namespace that is an object', { metadata: { uid: 'u', name: 'p', namespace: { a: 1 } } }],
  ])('an object that is no pod (%s) gives none, and never throws', (_what, obj) => {
    expect(apiPod(obj)).toEqual({ pod: undefined, rejectedValues: 0 });
  });

  it('skips and counts values of the wrong type: labels, annotations, owners, container statuses', () => {
    const id = 'c'.repeat(64);
    const { pod, rejectedValues } = apiPod({
      metadata: {
        uid: 'u',
        name: 'p',
        namespace: 'n',
        labels: { app: 'cart', 'app.kubernetes.io/name': 7, tier: { deep: true }, empty: null },
        annotations: { 'resource.opentelemetry.io/service.name': ['x'], 'resource.opentelemetry.io/team': 'pay', other: 5 },
        ownerReferences: [null, { kind: 'ReplicaSet', name: 42, controller: true }, 'rs'],
      },
      status: { containerStatuses: [null, { name: 'app', containerID: `containerd://${id}` }, { name: 3, containerID: `containerd://${id}` }], initContainerStatuses: 'none' },
    }, new Set(['app', 'tier', 'empty']));
    expect(pod?.labels).toEqual({ app: 'cart' });
    expect(pod?.annotations).toEqual({ 'resource.opentelemetry.io/team': 'pay' });
    expect(pod?.owners).toEqual({});
    expect([...pod!.containers]).toEqual([[id, 'app']]);
    // 3 labels, 1 annotation of ours (the other annotation is not read), 2 owners and a name, 1 null status, 1 name, 1 list
    expect(rejectedValues).toBe(3 + 1 + 3 + 1 + 1 + 1);
  });
  it('attaches only the configured labels', () => {
    expect(labelAttributes({ app: 'cart', tier: 'web', secret: 'x' }, ['app', 'tier', 'absent'])).toEqual({ 'k8s.pod.label.app': 'cart', 'k8s.pod.label.tier': 'web' });
  });
  it('looks labels up as the pod\'s own: constructor, toString and __proto__ are no label of a pod without them', () => {
    const { pod } = apiPod({ metadata: { uid: 'u', name: 'p', namespace: 'n', labels: { app: 'cart' } } }, new Set(['constructor', 'toString', 'app']));
    expect(labelAttributes(pod!.labels, ['constructor', 'toString', '__proto__', 'app'])).toEqual({ 'k8s.pod.label.app': 'cart' });
    // a plain object too (a pod made elsewhere)
    expect(labelAttributes({ app: 'cart' }, ['constructor', 'hasOwnProperty'])).toEqual({});
    // and a pod that has such a label keeps it as its own
    const own = apiPod({ metadata: { uid: 'u', name: 'p', namespace: 'n', labels: JSON.parse('{"__proto__": "x", "constructor": "y"}') } }, new Set(['__proto__', 'constructor']));
    expect(labelAttributes(own.pod!.labels, ['__proto__', 'constructor'])).toEqual({ 'k8s.pod.label.__proto__': 'x', 'k8s.pod.label.constructor': 'y' });
  });

  it('bounds what it keeps of a pod: values, the whole, container statuses', () => {
    const id = (i: number): string => i.toString(16).padStart(64, '0');
    const statuses = Array.from({ length: 500 }, (_, i) => ({ name: `c${i}`, containerID: `containerd://${id(i)}`, image: 'i'.repeat(100) }));
    const { pod, rejectedValues } = apiPod({ metadata: { uid: 'u', name: 'p', namespace: 'n', labels: { app: 'v'.repeat(MAX_POD_VALUE_CHARS + 1) } }, status: { containerStatuses: statuses } }, new Set(['app']));
    expect(pod!.labels).toEqual({});
    expect(pod!.containers.size).toBeLessThanOrEqual(MAX_POD_CONTAINERS);
    let kept = 0;
    for (const [cid, name] of pod!.containers) kept += cid.length + name.length + (pod!.images.get(cid)?.image?.length ?? 0);
    expect(kept).toBeLessThanOrEqual(MAX_POD_KEPT_CHARS + 64 * MAX_POD_CONTAINERS);
    expect(rejectedValues).toBeGreaterThan(1);
  });
});
