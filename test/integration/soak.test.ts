import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FakeKubeApi } from '../helpers/kube-api';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { scaledMillis, waitUntil } from '../helpers/wait';
import { Agent, cgroup2Mount, describePrivileged, HELPER, OWN_UID, removeCgroupTree } from './harness';

/**
 * A long-running daemon's state is bounded: 2,000 pods go through create,
 * bind and delete (the local API server, the kubelet log tree, kubelet-shaped
 * cgroups with a real bind in each), and once their grace period is over the
 * pods it knows, the loggers it holds, its pinned map entries and its heap are
 * back where they were.
 */
const PODS = 2000;
/** heap growth allowed after the soak, over the baseline taken after a warm-up of the same cycle */
const HEAP_TOLERANCE_BYTES = 4 << 20;

const work = mkdtempSync(path.join(tmpdir(), 'bindsnoop-soak-'));
const snapshots = path.join(work, 'heap');
mkdirSync(snapshots);
const tag = `bindsnoop-soak-${process.pid}`;
const root = cgroup2Mount();
const top = path.join(root, `${tag}.slice`);
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

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

describePrivileged('bounded state', () => {
  it(`${PODS} pods created, binding and deleted leave pods, loggers, map entries and heap at their baseline`, async () => {
    api = await FakeKubeApi.start();
    receiver = await OtlpReceiver.start();
    const podLogs = path.join(work, 'pods');
    const containerLogs = path.join(work, 'containers');
    mkdirSync(podLogs, { recursive: true });
    mkdirSync(containerLogs, { recursive: true });
    mkdirSync(top, { recursive: true }); // kubernetes.cgroupRoot exists before the agent starts, as a node's does
    const agent = Agent.spawn(['--daemon', '-K'], {
      BINDSNOOP_SERVER_PORT: '0',
      BINDSNOOP_SERVER_HOST: '127.0.0.1',
      NODE_NAME: 'node-a',
      BINDSNOOP_KUBERNETES_API_KUBECONFIG: api.writeKubeconfig(path.join(work, 'kubeconfig')),
      BINDSNOOP_KUBERNETES_PIN_DIR: pinDir,
      BINDSNOOP_KUBERNETES_CGROUP_ROOT: top,
      BINDSNOOP_KUBERNETES_POD_LOGS_DIR: podLogs,
      BINDSNOOP_KUBERNETES_CONTAINER_LOGS_DIR: containerLogs,
      BINDSNOOP_KUBERNETES_DELETED_POD_GRACE_MILLIS: '1000',
      // every pod of the cycle known at once: more than the default bound of pods known (kubernetes.api.maxPods)
      BINDSNOOP_KUBERNETES_API_MAX_PODS: String(2 * PODS),
      BINDSNOOP_KUBERNETES_POD_RESCAN_INTERVAL_MILLIS: '200',
      BINDSNOOP_KUBERNETES_MAP_SYNC_INTERVAL_MILLIS: '200',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50',
      BINDSNOOP_OTLP_RESOURCE_IDLE_MILLIS: '5000',
      // only this test's binds (made as the run's own user): a neighbour binding on the host is not traced
      BINDSNOOP_FILTER_UID: String(OWN_UID),
      // a heap snapshot on SIGUSR2 (into the work directory): V8 collects all garbage before it takes one, so the
      // heap is measured as what is live, whenever V8 would have collected on its own
      NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}`,
    });
    const serving = await agent.waitFor(() => /"port":(\d+)[^\n]*"msg":"serving/.exec(agent.stderr) ?? undefined, 'the HTTP server', 15_000);
    const base = `http://127.0.0.1:${serving[1]}`;

    let next = 0;
    /** `count` pods: created, each container binding once from its cgroup, then deleted with their cgroups and logs */
    const cycle = async (count: number): Promise<{ peakPods: number; peakResources: number }> => {
      const pods = Array.from({ length: count }, () => {
        const n = next++;
        const uid = `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
        const id = n.toString(16).padStart(64, 'c');
        const cgroup = path.join(top, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${uid.replace(/-/g, '_')}.slice`, `cri-containerd-${id}.scope`);
        return { uid, id, name: `soak-${n}`, cgroup, logDir: path.join(podLogs, `soak_soak-${n}_${uid}`) };
      });
      for (const p of pods) {
        api!.addPod({ uid: p.uid, name: p.name, namespace: 'soak', nodeName: 'node-a', containers: [{ name: 'app', id: p.id }] });
        mkdirSync(path.join(p.logDir, 'app'), { recursive: true });
        writeFileSync(path.join(containerLogs, `${p.name}_soak_app-${p.id}.log`), '');
        mkdirSync(p.cgroup, { recursive: true });
      }
      const pids = new Set<number>();
      for (const p of pods) {
        const r = spawnSync(HELPER, ['--cgroup', p.cgroup, '--uid', String(OWN_UID), 'tcp,4,127.0.0.1,0'], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        pids.add(Number(/^pid (\d+)$/m.exec(r.stdout)?.[1]));
      }
      const exported = (): number => receiver!.records().filter((r) => pids.has(r.attributes['process.pid'] as number)).length;
      await waitUntil('every bind exported', () => exported() === count, scaledMillis(60_000)).catch(async (e: Error) => {
        // what the agent knew and said, for whoever reads the failure
        const metrics = await (await fetch(`${base}/metrics`)).text();
        const lines = metrics.split('\n').filter((l) => /^bindsnoop_(events|kubernetes|export|pods)/.test(l));
        throw new Error(`${e.message}: ${exported()} of ${count}\n${lines.join('\n')}\nagent stderr:\n${agent.stderr.slice(-3000)}`);
      });
      // the API watch streams the pods' ADDED events on its own time: a bind can be exported (a batch goes every
      // 50 ms here) before the watch has delivered its pod, so wait for the count rather than read it once
      const peakPods = await waitUntil(
        'the API watch to deliver every pod',
        async () => {
          const known = await metric(base, 'bindsnoop_pods_known');
          return known >= count && known;
        },
        scaledMillis(30_000),
      );
      const peakResources = await metric(base, 'bindsnoop_otlp_resources');
      for (const p of pods) {
        api!.deletePod(p.uid);
        rmSync(p.logDir, { recursive: true, force: true });
        rmSync(path.join(containerLogs, `${p.name}_soak_app-${p.id}.log`), { force: true });
        removeCgroupTree(path.dirname(p.cgroup));
      }
      receiver!.clear();
      return { peakPods, peakResources };
    };
    /** the daemon's counts once deleted pods, idle loggers and gone containers have been let go */
    const settled = async (): Promise<{ pods: number; resources: number; containers: number }> => {
      const counts = async () => ({
        pods: await metric(base, 'bindsnoop_pods_known'),
        resources: await metric(base, 'bindsnoop_otlp_resources'),
        containers: await metric(base, 'bindsnoop_containers_known'),
      });
      const deadline = Date.now() + scaledMillis(30_000);
      let last = await counts();
      while (!(last.pods === 0 && last.resources === 0 && last.containers === 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        last = await counts();
      }
      return last;
    };

    // a warm-up of the same cycle, so that the baseline includes what the first pods make once (code, caches)
    await cycle(200);
    expect(await settled()).toEqual({ pods: 0, resources: 0, containers: 0 });
    /** The live heap: after the full collection a heap snapshot makes (the snapshot itself is removed). */
    const liveHeap = async (): Promise<number> => {
      const before = readdirSync(snapshots).length;
      process.kill(agent.proc.pid!, 'SIGUSR2');
      await waitUntil('the heap snapshot', () => readdirSync(snapshots).length > before, scaledMillis(30_000));
      // written whole once its size stops changing
      let size = -1;
      await waitUntil('the snapshot to be written', async () => {
        const now = readdirSync(snapshots).reduce((sum, f) => sum + statSync(path.join(snapshots, f)).size, 0);
        const done = now === size && now > 0;
        size = now;
        if (!done) await new Promise((r) => setTimeout(r, 500));
        return done;
      }, scaledMillis(60_000));
      for (const f of readdirSync(snapshots)) rmSync(path.join(snapshots, f));
      return metric(base, 'bindsnoop_nodejs_heap_size_used_bytes');
    };
    const heapBefore = await liveHeap();

    const peak = await cycle(PODS);
    expect(peak.peakPods).toBe(PODS); // every pod was known at once
    // each had a logger; those idle past resourceIdleMillis were already let go while later pods bound
    expect(peak.peakResources).toBeGreaterThan(100);
    expect(peak.peakResources).toBeLessThanOrEqual(PODS);
    expect(await settled()).toEqual({ pods: 0, resources: 0, containers: 0 });
    // a leak stays after a full collection; garbage does not
    const heapAfter = await liveHeap();
    console.log(`soak: heap ${(heapBefore / 2 ** 20).toFixed(1)} MiB before, ${(heapAfter / 2 ** 20).toFixed(1)} MiB after ${PODS} pods`);
    expect(heapAfter - heapBefore).toBeLessThan(HEAP_TOLERANCE_BYTES);
    // the pinned maps hold no entry for any of them
    for (const map of ['cgroups', 'mntns', 'excluded']) {
      const r = spawnSync('bpftool', ['map', 'dump', 'pinned', `${pinDir}/${map}`, '--json'], { encoding: 'utf8' });
      expect(JSON.parse(r.stdout), map).toEqual([]);
    }
    expect((await agent.stop('SIGTERM')).code).toBe(0);
  }, 300_000);
});
