import { expect } from 'vitest';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

/**
 * What every way of deploying the agent (the kustomize base in k8s/, the Helm
 * chart with any values) must hold: valid objects and least privilege.
 */
export type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

export type Container = {
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } }[];
  securityContext: Record<string, unknown> & { capabilities: { drop: string[]; add: string[] } };
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  ports: { containerPort: number }[];
};
export type PodSpec = Record<string, unknown> & {
  containers: Container[];
  serviceAccountName: string;
  terminationGracePeriodSeconds: number;
  volumes: { name: string; hostPath?: { path: string } }[];
};

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  Namespace: Namespace as never,
  ServiceAccount: ServiceAccount as never,
  ConfigMap: ConfigMap as never,
  Service: Service as never,
  DaemonSet: DaemonSet as never,
  ClusterRole: ClusterRole as never,
  ClusterRoleBinding: ClusterRoleBinding as never,
  Role: Role as never,
  RoleBinding: RoleBinding as never,
  NetworkPolicy: NetworkPolicy as never,
  ServiceMonitor: ServiceMonitor as never,
  PodMonitor: PodMonitor as never,
  PrometheusRule: PrometheusRule as never,
};

export function podSpecOf(objects: Obj[]): PodSpec {
  return (objects.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

/** Every object validates against the Kubernetes (and Prometheus Operator) schemas. */
export function expectValid(objects: Obj[], what: string): void {
  for (const o of objects) {
    expect(MODELS[o.kind], `${what}: a model for ${o.kind}`).toBeDefined();
    expect(() => new MODELS[o.kind](o as never).validate(), `${what}: ${o.kind}/${o.metadata.name}`).not.toThrow();
  }
}

/** The least privilege that works: CAP_BPF and CAP_PERFMON, nothing privileged, reading pods only, host paths read-only but bpffs. */
export function expectLeastPrivilege(objects: Obj[], what: string, extraMounts: string[] = []): void {
  const spec = podSpecOf(objects);
  const c = spec.containers[0];
  const sc = c.securityContext;
  expect(sc.capabilities.drop, what).toEqual(['ALL']);
  expect([...sc.capabilities.add].sort(), what).toEqual(['BPF', 'PERFMON']);
  expect(sc.privileged, what).toBe(false);
  expect(sc.allowPrivilegeEscalation, what).toBe(false);
  expect(sc.readOnlyRootFilesystem, what).toBe(true);
  expect(['RuntimeDefault', 'Localhost'], what).toContain((sc.seccompProfile as { type: string }).type);
  expect(JSON.stringify(objects), what).not.toMatch(/SYS_ADMIN|"privileged":true|hostNetwork|Unconfined/);
  expect(spec.hostPID, what).toBe(true);
  for (const role of objects.filter((o) => o.kind === 'ClusterRole')) {
    expect((role as unknown as { rules: unknown }).rules, what).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }]);
  }
  // in its own namespace, its own DaemonSet only, read
  const ds = objects.find((o) => o.kind === 'DaemonSet')!;
  for (const role of objects.filter((o) => o.kind === 'Role')) {
    expect(role.metadata.namespace, what).toBe(ds.metadata.namespace);
    expect((role as unknown as { rules: unknown }).rules, what).toEqual([{ apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: [ds.metadata.name], verbs: ['list', 'watch'] }]);
  }
  // made with the ClusterRole, or neither (an existing service account's rights are its owner's)
  expect(objects.filter((o) => o.kind === 'Role').length, what).toBe(objects.filter((o) => o.kind === 'ClusterRole').length);
  const mounts = Object.fromEntries(c.volumeMounts.filter((m) => !extraMounts.includes(m.mountPath)).map((m) => [m.mountPath, m.readOnly === true]));
  expect(mounts, what).toEqual({
    '/etc/bindsnoop': true,
    '/sys/fs/bpf': false,
    '/sys/kernel/tracing': true,
    '/sys/fs/cgroup': true,
    '/var/log/pods': true,
    '/var/log/containers': true,
  });
}
