import { describe, expect, it } from 'vitest';
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
