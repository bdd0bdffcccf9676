import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { expectLeastPrivilege, expectValid, podSpecOf, type Obj } from '../helpers/deployment';
import { CHART, K8sTools, VALUE_SETS } from '../helpers/helm';
import { ROOT } from './harness';

/**
 * The Helm chart, with the real helm and kubectl (scripts/k8s-tools.sh): lint,
 * the schema refusing bad values by name, every rendered object valid and
 * least-privileged for each representative value set, and the chart's default
 * render the same objects as the kustomize base in k8s/.
 */
const work = mkdtempSync(path.join(tmpdir(), 'bindsnoop-chart-'));
let tools: K8sTools;
const run = (tool: 'helm' | 'kubectl', args: string[]) => tools.run(tool, args);

function template(values: Record<string, unknown> = {}, release = 'bindsnoop'): Obj[] {
  const r = tools.template(values, release);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return r.objects;
}

function refused(values: Record<string, unknown>): string {
  const r = tools.template(values);
  expect(r.status, `accepted: ${JSON.stringify(values)}`).not.toBe(0);
  return r.stderr;
}

const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

describe('the Helm chart', () => {
  beforeAll(() => {
    tools = K8sTools.load(work);
  }, 600_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('passes helm lint --strict', () => {
    const r = run('helm', ['lint', '--strict', CHART]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('carries the package\'s version as its version and appVersion, and deploys that image tag', () => {
    const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as { version: string; appVersion: string };
    expect(chart).toMatchObject({ version: PACKAGE.version, appVersion: PACKAGE.version });
    expect(podSpecOf(template()).containers[0].image).toBe(`bindsnoop-otel:${PACKAGE.version}`);
  });

  it('has a values schema and a values table made from the agent\'s configuration schema, up to date', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-chart.js'), '--check'], { encoding: 'utf8', cwd: ROOT });
    expect(r.status, r.stderr).toBe(0);
    const table = readFileSync(path.join(CHART, 'README.md'), 'utf8');
    for (const key of ['image.repository', 'config.otlp.endpoint', 'config.kubernetes.labelSelector', 'otlpHeaders.secretName', 'serviceMonitor.enabled', 'networkPolicy.from']) {
      expect(table, key).toContain(`| \`${key}\` |`);
    }
    expect(table).not.toContain('`config.otlp.headers`');
  });

  for (const [name, values] of Object.entries(VALUE_SETS)) {
    it(`renders valid, least-privileged objects: ${name}`, () => {
      const objects = template(values);
      expectValid(objects, name);
      const extraMounts = ((values.extraVolumeMounts ?? []) as { mountPath: string }[]).map((m) => m.mountPath);
      expectLeastPrivilege(objects, name, extraMounts);
      // the agent takes its ConfigMap as it is
      const cm = objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
      const file = path.join(work, 'config.yaml');
      writeFileSync(file, cm.data['config.yaml']);
      const config = loadConfig({ file, env: {}, flags: {} });
      const port = podSpecOf(objects).containers[0].ports[0].containerPort;
      expect(config.server.port).toBe(port);
    });
  }

  it('wires the optional objects to the agent: monitors and the policy select its pods on its port; headers come from the Secret', () => {
    const objects = template(VALUE_SETS['monitoring, policy, secret headers, Localhost seccomp, placement']);
    const kinds = objects.map((o) => o.kind).sort();
    expect(kinds).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'NetworkPolicy', 'PodMonitor', 'PrometheusRule', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ServiceMonitor']);
    const ds = objects.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { selector: { matchLabels: Record<string, string> } } };
    const selector = ds.spec.selector.matchLabels;
    const service = objects.find((o) => o.kind === 'Service') as unknown as { spec: { selector: Record<string, string>; clusterIP: string } };
    expect(service.spec).toMatchObject({ selector, clusterIP: 'None' });
    expect((objects.find((o) => o.kind === 'ServiceMonitor') as unknown as { spec: { selector: { matchLabels: unknown } } }).spec.selector.matchLabels).toEqual(selector);
    expect((objects.find((o) => o.kind === 'PodMonitor') as unknown as { spec: { selector: { matchLabels: unknown } } }).spec.selector.matchLabels).toEqual(selector);
    expect(objects.find((o) => o.kind === 'ServiceMonitor')?.metadata.labels).toMatchObject({ release: 'prometheus' });
    const policy = objects.find((o) => o.kind === 'NetworkPolicy') as unknown as { spec: { podSelector: { matchLabels: unknown }; ingress: { ports: { port: number }[] }[] } };
    expect(policy.spec.podSelector.matchLabels).toEqual(selector);
    expect(policy.spec.ingress[0].ports[0].port).toBe(9090);
    const env = podSpecOf(objects).containers[0].env;
    expect(env).toContainEqual({ name: 'BINDSNOOP_OTLP_HEADERS', valueFrom: { secretKeyRef: { name: 'otlp-credentials', key: 'headers' } } });
    // the PrometheusRule holds the rules of the plain rule file, unchanged
    const rule = objects.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: unknown };
    expect(rule.spec).toEqual(parse(readFileSync(path.join(CHART, 'files', 'alerts.yaml'), 'utf8')));
  });

  it('refuses bad values, naming the key: an unknown key, a bad enum, OTLP headers in plain values, privileged, Unconfined seccomp', () => {
    expect(refused({ config: { otlp: { compression: 'zstd' } } })).toContain("at '/config/otlp/compression': value must be one of 'none', 'gzip'");
    expect(refused({ config: { otlp: { headers: 'authorization=Bearer%20x' } } })).toContain("at '/config/otlp': additional properties 'headers' not allowed");
    expect(refused({ config: { filter: { pid: -5 } } })).toContain("at '/config/filter/pid': minimum: got -5, want 0");
    expect(refused({ config: { reader: { ringBufferBytes: 5000 } } })).toContain("at '/config/reader/ringBufferBytes'");
    expect(refused({ config: { otlp: { endpointt: 'http://x' } } })).toContain("additional properties 'endpointt' not allowed");
    expect(refused({ privileged: true })).toContain("additional properties 'privileged' not allowed");
    expect(refused({ hostNetwork: true })).toContain("additional properties 'hostNetwork' not allowed");
    expect(refused({ seccompProfile: { type: 'Unconfined' } })).toContain("at '/seccompProfile'");
    expect(refused({ image: { pullPolicy: 'Sometimes' } })).toContain("at '/image/pullPolicy'");
  });

  it('renders by default the same objects as the kustomize base in k8s/ (kubectl kustomize), object by object', () => {
    const k = run('kubectl', ['kustomize', path.join(ROOT, 'k8s')]);
    expect(k.status, k.stderr).toBe(0);
    const kustomized = parseAllDocuments(k.stdout).map((d) => d.toJS() as Obj);
    // what only Helm adds: its bookkeeping labels, and the annotation that rolls the pods on a new configuration
    const helmOnly = new Set(['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/version']);
    const normal = (o: Obj): unknown =>
      JSON.parse(JSON.stringify(o), (key: string, value: unknown) => {
        if (key === 'labels' && value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([k]) => !helmOnly.has(k)));
        if (key === 'annotations' && value && typeof value === 'object') {
          const rest = Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'checksum/config'));
          return Object.keys(rest).length ? rest : undefined;
        }
        // the agent's configuration as data, not as text
        if (key === 'config.yaml' && typeof value === 'string') return parse(value) as unknown;
        return value;
      });
    const byId = (objects: Obj[]) => new Map(objects.map((o) => [`${o.kind}/${o.metadata.name}`, normal(o)]));
    const chart = byId(template());
    const base = byId(kustomized.filter((o) => o.kind !== 'Namespace')); // helm install --create-namespace makes it
    expect([...chart.keys()].sort()).toEqual([...base.keys()].sort());
    for (const [id, object] of chart) expect(object, id).toEqual(base.get(id));
  });
});
