import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FakeKubeApi } from '../helpers/kube-api';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { Agent, cgroup2Mount, describePrivileged, HELPER, metric, removeCgroupTree } from './harness';

/**
 * A node's worth of pods, and more: BENCH_SCALE_PODS pods (2,000 in CI,
 * 10,000 in `npm run bench`) of three containers each, listed and watched
 * from the local API server by the daemon with -K. Start-up (until every pod
 * is known), resident memory, and the agent's CPU per bind from pods it must
 * look up among them; with BENCH_SCALE_OUT the figures go to that JSON file.
 */
const PODS = Number(process.env.BENCH_SCALE_PODS ?? 2000);
const CONTAINERS_PER_POD = 3;
/** pods with a real kubelet-shaped cgroup that binds, spread over the list */
const BINDING_PODS = 20;
const BINDS_PER_POD = 500;

const work = mkdtempSync(path.join(tmpdir(), 'bindsnoop-scale-'));
const tag = `bindsnoop-scale-${process.pid}`;
const top = path.join(cgroup2Mount(), `${tag}.slice`);
const pinDir = `/sys/fs/bpf/${tag}`;
let api: FakeKubeApi | undefined;
let receiver: OtlpReceiver | undefined;

afterAll(async () => {
  await api?.stop();
  await receiver?.stop();
  removeCgroupTree(top);
  rmSync(work, { recursive: true, force: true });
  rmSync(pinDir, { recursive: true, force: true });
});

function cpuMillis(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;

describePrivileged('scale', () => {
  it(`${PODS} pods and ${PODS * CONTAINERS_PER_POD} containers from the API: all known, binds attributed, memory within the DaemonSet's limit`, async () => {
    api = await FakeKubeApi.start();
    receiver = await OtlpReceiver.start();
    receiver.keepBodies(false);
    const uid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
    const id = (n: number, c: number): string => `${c}${n.toString(16).padStart(63, 'd')}`;
    for (let n = 0; n < PODS; n++) {
      api.addPod({
        uid: uid(n),
        name: `web-7d9f8c6b5-${n}`,
        namespace: `team-${n % 50}`,
        nodeName: 'node-a',
        labels: { 'app.kubernetes.io/name': `web-${n % 100}`, 'pod-template-hash': '7d9f8c6b5' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `web-${n % 100}-7d9f8c6b5`, uid: `rs-${n % 100}`, controller: true }],
        containers: Array.from({ length: CONTAINERS_PER_POD }, (_, c) => ({ name: ['app', 'sidecar', 'proxy'][c], id: id(n, c) })),
      });
    }
    // the pods that bind have their container's cgroup, as the kubelet makes it
    const binding = Array.from({ length: BINDING_PODS }, (_, i) => Math.floor((i * PODS) / BINDING_PODS));
    const cgroups = binding.map((n) =>
      path.join(top, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${uid(n).replace(/-/g, '_')}.slice`, `cri-containerd-${id(n, 0)}.scope`),
    );
    for (const c of cgroups) mkdirSync(c, { recursive: true });
    mkdirSync(path.join(work, 'logs'), { recursive: true });

    const started = Date.now();
    const agent = Agent.spawn(['--daemon', '-K'], {
      BINDSNOOP_SERVER_PORT: '0',
      BINDSNOOP_SERVER_HOST: '127.0.0.1',
      NODE_NAME: 'node-a',
      BINDSNOOP_KUBERNETES_API_KUBECONFIG: api.writeKubeconfig(path.join(work, 'kubeconfig')),
      BINDSNOOP_KUBERNETES_PIN_DIR: pinDir,
      BINDSNOOP_KUBERNETES_CGROUP_ROOT: top,
      BINDSNOOP_KUBERNETES_POD_LOGS_DIR: path.join(work, 'logs'),
      BINDSNOOP_KUBERNETES_CONTAINER_LOGS_DIR: path.join(work, 'logs'),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // more pods than a node runs, known at once: the bound of pods known (kubernetes.api.maxPods) raised to them
      BINDSNOOP_KUBERNETES_API_MAX_PODS: String(Math.max(1024, PODS)),
    });
    const serving = await agent.waitFor(() => /"port":(\d+)[^\n]*"msg":"serving/.exec(agent.stderr) ?? undefined, 'the HTTP server', 120_000).catch((e: Error) => { throw new Error(`${e.message}: ${agent.stderr}`); });
    const base = `http://127.0.0.1:${serving[1]}`;
    const pid = agent.proc.pid ?? 0;
    let known = 0;
    while (known < PODS) {
      expect(Date.now() - started, `pods known: ${known}`).toBeLessThan(120_000);
      await new Promise((r) => setTimeout(r, 100));
      known = await metric(base, 'bindsnoop_pods_known');
    }
    const startupMillis = Date.now() - started;
    await new Promise((r) => setTimeout(r, 3000));
    const idleRss = rssBytes(pid);
    const heapUsed = await metric(base, 'bindsnoop_nodejs_heap_size_used_bytes');

    // binds from pods among them: each looked up by its cgroup, named from the API
    const cpuBefore = cpuMillis(pid);
    const before = await metric(base, 'bindsnoop_events_exported_total');
    for (const c of cgroups) {
      const r = spawnSync(HELPER, ['--cgroup', c, '--repeat', String(BINDS_PER_POD), 'tcp,4,127.0.0.1,0'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    const total = BINDING_PODS * BINDS_PER_POD;
    let exported = 0;
    for (let i = 0; i < 300 && exported < total; i++) {
      exported = (await metric(base, 'bindsnoop_events_exported_total')) - before;
      if (exported < total) await new Promise((r) => setTimeout(r, 100));
    }
    expect(exported).toBeGreaterThanOrEqual(total);
    const cpuPerBindMicros = ((cpuMillis(pid) - cpuBefore) * 1000) / total;
    const peakRss = rssBytes(pid);
    // every binding pod has its resource, named from the API
    expect(await metric(base, 'bindsnoop_otlp_resources')).toBeGreaterThanOrEqual(BINDING_PODS);

    const limitMi = Number(/limits:\s*\n(?:\s+cpu:.*\n)?\s+memory:\s*(\d+)Mi/.exec(readFileSync(path.join(__dirname, '..', '..', 'k8s', 'daemonset.yaml'), 'utf8'))?.[1]);
    expect(peakRss).toBeLessThan(limitMi << 20);
    expect((await agent.stop('SIGTERM')).code).toBe(0);

    const figures = { pods: PODS, containers: PODS * CONTAINERS_PER_POD, startupMillis, idleRssMiB: idleRss / 2 ** 20, heapUsedMiB: heapUsed / 2 ** 20, binds: total, cpuPerBindMicros, peakRssMiB: peakRss / 2 ** 20 };
    if (process.env.BENCH_SCALE_OUT) writeFileSync(process.env.BENCH_SCALE_OUT, JSON.stringify(figures, null, 2));
  }, 300_000);
});
