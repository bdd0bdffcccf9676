import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import type { Obj } from './deployment';

const ROOT = path.resolve(__dirname, '..', '..');
export const CHART = path.join(ROOT, 'charts', 'bindsnoop-otel');

/** representative value sets: every optional object on, and the ways users point the agent elsewhere */
export const VALUE_SETS: Record<string, Record<string, unknown>> = {
  defaults: {},
  'monitoring, policy, secret headers, Localhost seccomp, placement': {
    serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
    podMonitor: { enabled: true },
    prometheusRule: { enabled: true, labels: { release: 'prometheus' } },
    networkPolicy: { enabled: true },
    otlpHeaders: { secretName: 'otlp-credentials', secretKey: 'headers' },
    seccompProfile: { type: 'Localhost', localhostProfile: 'bindsnoop.json' },
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    priorityClassName: 'system-node-critical',
    imagePullSecrets: ['registry'],
    extraEnv: [{ name: 'OTEL_RESOURCE_ATTRIBUTES', value: 'deployment.environment.name=prod' }],
    extraVolumes: [{ name: 'ca', configMap: { name: 'otlp-ca' } }],
    extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/otlp-ca', readOnly: true }],
    config: { otlp: { endpoint: 'https://otlp.example.com', compression: 'gzip', certificate: '/etc/otlp-ca/ca.crt' }, kubernetes: { enabled: true, excludeNamespaces: 'kube-system', labelSelector: 'tier!=batch' } },
  },
  'existing service account, no RBAC, another name and tag, another port': {
    serviceAccount: { create: false, name: 'node-agents' },
    rbac: { create: false },
    fullnameOverride: 'binds',
    image: { repository: 'registry.example.com/bindsnoop-otel', tag: '0.5.0-rc.1', pullPolicy: 'Always' },
    config: { server: { port: 9464 } },
  },
};

/**
 * The real helm and kubectl (scripts/k8s-tools.sh: fetched once, cached), run
 * with their caches and settings under `work`, so that no user's Helm setup
 * is read or written.
 */
export class K8sTools {
  private constructor(
    private readonly dir: string,
    private readonly work: string,
  ) {}

  static load(work: string): K8sTools {
    const r = spawnSync(path.join(ROOT, 'scripts', 'k8s-tools.sh'), [], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`k8s-tools: ${r.stderr}`);
    mkdirSync(work, { recursive: true });
    return new K8sTools(r.stdout.trim(), work);
  }

  run(tool: 'helm' | 'kubectl', args: string[], input?: string): SpawnSyncReturns<string> {
    return spawnSync(path.join(this.dir, 'bin', tool), args, {
      encoding: 'utf8',
      input,
      timeout: 120_000,
      env: { ...process.env, HELM_CACHE_HOME: path.join(this.work, 'cache'), HELM_CONFIG_HOME: path.join(this.work, 'config'), HELM_DATA_HOME: path.join(this.work, 'data') },
    });
  }

  /** `helm template` of the chart with these values: the exit status, stderr, and the objects rendered. */
  template(values: Record<string, unknown> = {}, release = 'bindsnoop'): { status: number | null; stderr: string; objects: Obj[] } {
    const file = path.join(this.work, `values-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringify(values));
    const r = this.run('helm', ['template', release, CHART, '--namespace', 'bindsnoop', '-f', file]);
    const objects = r.status === 0 ? parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean) : [];
    return { status: r.status, stderr: r.stderr, objects };
  }
}
