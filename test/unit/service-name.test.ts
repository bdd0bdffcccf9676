import { describe, expect, it } from 'vitest';
import { containerImageAttributes, imageVersion } from '../../src/kubernetes/container-image';
import { workloadService } from '../../src/kubernetes/service-name';

describe("a pod's service, as the semantic conventions' Kubernetes guidance derives it", () => {
  const pod = { namespace: 'shop', pod: 'cart-7d9f-x2k', container: 'app' };

  it('takes the resource.opentelemetry.io/ annotations first', () => {
    expect(
      workloadService({
        ...pod,
        owners: { 'k8s.deployment.name': 'cart' },
        labels: { 'app.kubernetes.io/name': 'cart-label', 'app.kubernetes.io/version': '2.0' },
        annotations: {
          'resource.opentelemetry.io/service.name': 'checkout',
          'resource.opentelemetry.io/service.namespace': 'store',
          'resource.opentelemetry.io/service.version': '3.1',
          'resource.opentelemetry.io/service.instance.id': 'c-1',
        },
      }),
    ).toEqual({ 'service.name': 'checkout', 'service.namespace': 'store', 'service.version': '3.1', 'service.instance.id': 'c-1' });
  });

  it('makes every resource.opentelemetry.io/<key> annotation the resource attribute <key>', () => {
    expect(
      workloadService({
        ...pod,
        annotations: { 'resource.opentelemetry.io/deployment.environment.name': 'prod', 'resource.opentelemetry.io/team': 'payments', 'resource.opentelemetry.io/': 'no key' },
      }),
    ).toEqual({
      'deployment.environment.name': 'prod',
      team: 'payments',
      'service.name': 'cart-7d9f-x2k',
      'service.namespace': 'shop',
      'service.instance.id': 'shop.cart-7d9f-x2k.app',
    });
  });

  // each step of the guidance's order, with a pod that has only that step's source
  it.each<[string, Parameters<typeof workloadService>[0], string]>([
    ['the annotation', { ...pod, annotations: { 'resource.opentelemetry.io/service.name': 'a' } }, 'a'],
    ['the app.kubernetes.io/instance label', { ...pod, labels: { 'app.kubernetes.io/instance': 'cart-prod' } }, 'cart-prod'],
    ['the app.kubernetes.io/name label', { ...pod, labels: { 'app.kubernetes.io/name': 'cart' } }, 'cart'],
    ['the owner workload', { ...pod, owners: { 'k8s.statefulset.name': 'db' } }, 'db'],
    ['the pod', pod, 'cart-7d9f-x2k'],
    ['the container', { container: 'app' }, 'app'],
  ])('service.name from %s alone', (_step, facts, name) => {
    expect(workloadService(facts)['service.name']).toBe(name);
  });

  it('takes app.kubernetes.io/instance before app.kubernetes.io/name', () => {
    expect(workloadService({ ...pod, labels: { 'app.kubernetes.io/name': 'cart', 'app.kubernetes.io/instance': 'cart-eu' } })['service.name']).toBe('cart-eu');
  });

  it.each<[string, Parameters<typeof workloadService>[0], string | undefined]>([
    ['the annotation', { ...pod, annotations: { 'resource.opentelemetry.io/service.version': '9' }, image: 'cart:1.0' }, '9'],
    ['the app.kubernetes.io/version label', { ...pod, labels: { 'app.kubernetes.io/version': '2.1' }, image: 'cart:1.0' }, '2.1'],
    ['the image tag', { ...pod, image: 'registry.example:5000/shop/cart:1.4.2' }, '1.4.2'],
    ['the image tag beside a digest', { ...pod, image: `shop/cart:1.4.2@sha256:${'a'.repeat(64)}` }, '1.4.2'],
    ['the image digest', { ...pod, image: `shop/cart@sha256:${'b'.repeat(64)}` }, `sha256:${'b'.repeat(64)}`],
    ['the imageID digest', { ...pod, image: 'registry.example:5000/shop/cart', imageID: `docker.io/shop/cart@sha256:${'c'.repeat(64)}` }, `sha256:${'c'.repeat(64)}`],
    ['nothing', pod, undefined],
  ])('service.version from %s', (_step, facts, version) => {
    expect(workloadService(facts)['service.version']).toBe(version);
  });

  it('reads an image reference\'s tag, not a registry port', () => {
    expect(imageVersion({ image: 'localhost:5000/cart' })).toBeUndefined();
    expect(imageVersion({ image: 'localhost:5000/cart:v2' })).toBe('v2');
  });

  const digest = (c: string) => `sha256:${c.repeat(64)}`;
  it.each([
    ['containerd: a tag, the repo digest in imageID', { image: 'docker.io/library/nginx:1.27', imageID: `docker.io/library/nginx@${digest('a')}` }, 'containerd',
      { 'container.image.name': 'docker.io/library/nginx', 'container.image.tags': ['1.27'], 'container.image.repo_digests': [`docker.io/library/nginx@${digest('a')}`], 'container.runtime.name': 'containerd' }],
    ['a registry with a port, tag and digest in the reference', { image: `registry.example:5000/shop/cart:1.4.2@${digest('b')}`, imageID: `registry.example:5000/shop/cart@${digest('b')}` }, 'cri-o',
      { 'container.image.name': 'registry.example:5000/shop/cart', 'container.image.tags': ['1.4.2'], 'container.image.repo_digests': [`registry.example:5000/shop/cart@${digest('b')}`], 'container.runtime.name': 'cri-o' }],
    ['Docker: docker-pullable:// in imageID', { image: 'nginx:latest', imageID: `docker-pullable://nginx@${digest('c')}` }, 'docker',
      { 'container.image.name': 'nginx', 'container.image.tags': ['latest'], 'container.image.repo_digests': [`nginx@${digest('c')}`], 'container.runtime.name': 'docker' }],
    ['an image ID that names no repository, a cgroup that names no runtime', { image: 'localhost:5000/cart', imageID: digest('d') }, 'unknown',
      { 'container.image.name': 'localhost:5000/cart' }],
    ['pulled by digest only', { image: `shop/cart@${digest('e')}` }, undefined,
      { 'container.image.name': 'shop/cart', 'container.image.repo_digests': [`shop/cart@${digest('e')}`] }],
    ['nothing (no API)', {}, 'containerd', { 'container.runtime.name': 'containerd' }],
  ] as const)('container.image.* and container.runtime: %s', (_case, facts, runtime, want) => {
    expect(containerImageAttributes(facts, runtime)).toEqual(want);
  });

  it('then the app.kubernetes.io/name label, the owner workload, the pod, the container', () => {
    const owners = { 'k8s.replicaset.name': 'cart-7d9f', 'k8s.deployment.name': 'cart' };
    expect(workloadService({ ...pod, owners, labels: { 'app.kubernetes.io/name': 'cart-ui' } })['service.name']).toBe('cart-ui');
    expect(workloadService({ ...pod, owners, labels: {} })['service.name']).toBe('cart'); // the Deployment before its ReplicaSet
    expect(workloadService({ ...pod, owners: { 'k8s.job.name': 'etl-28999', 'k8s.cronjob.name': 'etl' } })['service.name']).toBe('etl');
    expect(workloadService({ ...pod, owners: { 'k8s.statefulset.name': 'db' } })['service.name']).toBe('db');
    expect(workloadService(pod)['service.name']).toBe('cart-7d9f-x2k');
    expect(workloadService({ container: 'app' })).toEqual({ 'service.name': 'app' });
  });

  it('namespaces the service by the Kubernetes namespace and names the instance namespace.pod.container', () => {
    expect(workloadService({ ...pod, labels: { 'app.kubernetes.io/version': '1.4.2' } })).toEqual({
      'service.name': 'cart-7d9f-x2k',
      'service.namespace': 'shop',
      'service.version': '1.4.2',
      'service.instance.id': 'shop.cart-7d9f-x2k.app',
    });
  });
});
