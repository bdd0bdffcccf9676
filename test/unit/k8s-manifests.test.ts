import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { loadConfig } from '../../src/config/load';
import { expectLeastPrivilege, expectValid, podSpecOf, type Obj } from '../helpers/deployment';

const K8S = path.resolve(__dirname, '..', '..', 'k8s');

function kustomizeResources(): Obj[] {
  const kustomization = parseAllDocuments(readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'))[0].toJS() as { resources: string[] };
  return kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(path.join(K8S, f), 'utf8')).map((d) => d.toJS() as Obj));
}

const objects = kustomizeResources();
const byKind = (kind: string): Obj => objects.find((o) => o.kind === kind)!;
const podSpec = podSpecOf(objects);
const container = podSpec.containers[0];

describe('the kustomize base in k8s/', () => {
  it('deploys the image of this version: the package\'s version is the tag in the DaemonSet and the kustomization', () => {
    const version = (JSON.parse(readFileSync(path.join(K8S, '..', 'package.json'), 'utf8')) as { version: string }).version;
    const kustomization = parseAllDocuments(readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'))[0].toJS() as { images: { name: string; newTag: string }[] };
    expect(kustomization.images).toEqual([{ name: 'bindsnoop-otel', newTag: version }]);
    const ds = kustomizeResources().find((m) => m.kind === 'DaemonSet') as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(ds.spec.template.spec.containers.map((c) => c.image)).toEqual([`bindsnoop-otel:${version}`]);
  });

  it('validates every manifest against the Kubernetes schemas', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Namespace', 'Role', 'RoleBinding', 'ServiceAccount']);
    expectValid(objects, 'k8s/');
  });

  it('grants the API nothing but reading pods, and runs with the least privilege that works: CAP_BPF and CAP_PERFMON only, host paths read-only but bpffs', () => {
    expectLeastPrivilege(objects, 'k8s/');
    const binding = byKind('ClusterRoleBinding') as unknown as { subjects: { name: string }[]; roleRef: { name: string } };
    expect(binding.roleRef.name).toBe('bindsnoop');
    expect(binding.subjects[0].name).toBe(podSpec.serviceAccountName);
    expect((container.securityContext.seccompProfile as { type: string }).type).toBe('RuntimeDefault');
  });

  it('knows its node, probes /healthz and /readyz, has sized resources, runs on every node, rolls', () => {
    expect(container.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toBeDefined();
    expect(podSpec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect((byKind('DaemonSet') as unknown as { spec: { updateStrategy: { type: string } } }).spec.updateStrategy.type).toBe('RollingUpdate');
    expect(container.args).toEqual(['--daemon', '-c', '/etc/bindsnoop/config.yaml']);
  });

  it('ships a ConfigMap whose agent configuration is valid, exports to a collector Service and flushes within the grace period', () => {
    const cm = byKind('ConfigMap') as unknown as { data: Record<string, string> };
    const file = path.join(tmpdir(), `bindsnoop-cm-${process.pid}.yaml`);
    writeFileSync(file, cm.data['config.yaml']);
    const config = loadConfig({ file, env: {}, flags: {} });
    expect(config.kubernetes.enabled).toBe(true);
    expect(config.otlp.endpoint).toMatch(/^http:\/\/[a-z0-9-]+\.[a-z0-9-]+\.svc/);
    const grace = podSpec.terminationGracePeriodSeconds * 1000;
    expect(config.otlp.shutdownTimeoutMillis).toBeLessThan(grace);
    expect(config.server.port).toBe(9090);
  });

  it('SECURITY.md names every capability and host path the DaemonSet uses, and the endpoint it listens on', () => {
    const security = readFileSync(path.resolve(K8S, '..', 'SECURITY.md'), 'utf8');
    for (const cap of container.securityContext.capabilities.add) expect(security, cap).toContain(`\`CAP_${cap}\``);
    const volumes = podSpec.volumes;
    for (const v of volumes.filter((x) => x.hostPath)) {
      const mount = container.volumeMounts.find((m) => m.name === v.name);
      const row = security.split('\n').find((l) => l.startsWith(`| \`${v.hostPath?.path}\` |`));
      expect(row, v.hostPath?.path).toBeDefined();
      expect(row).toContain(mount?.readOnly ? '| read-only |' : '| read-write |');
    }
    expect(podSpec.hostPID).toBe(true);
    expect(security).toContain('`hostPID: true`');
    expect(podSpec.hostNetwork).toBeUndefined();
    expect(security).toContain('the pod network (not `hostNetwork`)');
  });

  it('ships an example NetworkPolicy, valid, that admits only the monitoring namespace to the agent\'s port', () => {
    const policy = parseAllDocuments(readFileSync(path.join(K8S, 'examples', 'networkpolicy.yaml'), 'utf8'))[0].toJS() as Obj & {
      spec: { podSelector: { matchLabels: Record<string, string> }; ingress: { ports: { port: number }[] }[] };
    };
    expect(() => new NetworkPolicy(policy as never).validate()).not.toThrow();
    const ds = byKind('DaemonSet') as unknown as { spec: { selector: { matchLabels: Record<string, string> } } };
    expect(policy.spec.podSelector.matchLabels).toEqual(ds.spec.selector.matchLabels);
    expect(policy.spec.ingress[0].ports[0].port).toBe(9090);
  });
});
