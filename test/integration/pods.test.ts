import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { Agent, cgroup2Mount, describePrivileged, runBinds } from './harness';

/**
 * A node-shaped setup: kubelet-shaped cgroups under the real cgroup v2 mount
 * (systemd and cgroupfs drivers; containerd, CRI-O and Docker names), child
 * processes moved into them making real binds, and a kubelet pod log tree.
 */
const hex = (c: string): string => c.repeat(64);
const ID = { cartApp: hex('a'), cartProxy: hex('b'), webNginx: hex('c'), batchJob: hex('d') };
const UID = {
  cart: '11111111-2222-4333-8444-555555555555',
  web: '66666666-7777-4888-9999-aaaaaaaaaaaa',
  batch: 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff',
};
const us = (uid: string): string => uid.replace(/-/g, '_');

describePrivileged('binds resolved to their pods', () => {
  const root = cgroup2Mount();
  const tag = `bindsnoop-test-${process.pid}`;
  const logs = mkdtempSync(path.join(tmpdir(), 'bindsnoop-kubelet-'));
  const podLogs = path.join(logs, 'pods');
  const containerLogs = path.join(logs, 'containers');
  // systemd driver trees live under a test-only top slice; cgroupfs under a test-only kubepods dir
  const systemdTop = path.join(root, `${tag}.slice`);
  const cgroupfsTop = path.join(root, `${tag}-kubepods`);
  const cg = {
    cartApp: path.join(systemdTop, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${us(UID.cart)}.slice`, `cri-containerd-${ID.cartApp}.scope`),
    webNginx: path.join(systemdTop, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${us(UID.web)}.slice`, `crio-${ID.webNginx}.scope`),
    batchJob: path.join(systemdTop, 'kubepods.slice', `kubepods-pod${us(UID.batch)}.slice`, `docker-${ID.batchJob}.scope`),
    cartProxy: path.join(cgroupfsTop, 'burstable', `pod${UID.cart}`, ID.cartProxy),
  };
  const env = {
    BINDSNOOP_KUBERNETES_POD_LOGS_DIR: podLogs,
    BINDSNOOP_KUBERNETES_CONTAINER_LOGS_DIR: containerLogs,
    NODE_NAME: 'node-a',
    BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50',
  };
  let receiver: OtlpReceiver | undefined;

  beforeAll(() => {
    for (const dir of Object.values(cg)) mkdirSync(dir, { recursive: true });
    for (const [dir, containers] of [
      [`shop_cart-1_${UID.cart}`, ['app', 'istio-proxy']],
      [`web_web-7_${UID.web}`, ['nginx']],
    ] as const) {
      for (const c of containers) mkdirSync(path.join(podLogs, dir, c), { recursive: true });
    }
    mkdirSync(containerLogs, { recursive: true });
    writeFileSync(path.join(containerLogs, `cart-1_shop_app-${ID.cartApp}.log`), '');
    writeFileSync(path.join(containerLogs, `cart-1_shop_istio-proxy-${ID.cartProxy}.log`), '');
  });

  afterEach(async () => {
    await receiver?.stop();
    receiver = undefined;
  });

  afterAll(() => {
    // depth first: a cgroup directory goes only once its children have (its files go with it)
    const removeTree = (dir: string): void => {
      let entries: string[] = [];
      try {
        entries = readdirSync(dir);
      } catch {
        return;
      }
      for (const e of entries) {
        const child = path.join(dir, e);
        if (statSync(child).isDirectory()) removeTree(child);
      }
      rmdirSync(dir);
    };
    removeTree(systemdTop);
    removeTree(cgroupfsTop);
    rmSync(logs, { recursive: true, force: true });
  });

  it('puts namespace, pod, uid, container and the full container id on each record (JSON)', async () => {
    const agent = await Agent.start(['-K', '-o', 'json'], env);
    const runs = {
      cartApp: runBinds(['--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,8080']),
      cartProxy: runBinds(['--netns', '--cgroup', cg.cartProxy, 'tcp,4,127.0.0.1,15001']),
      webNginx: runBinds(['--netns', '--cgroup', cg.webNginx, 'tcp,6,::,80']),
      batchJob: runBinds(['--netns', '--cgroup', cg.batchJob, 'udp,4,127.0.0.1,0']),
      host: runBinds(['--netns', 'tcp,4,127.0.0.1,0']),
    };
    const one = async (pid: number): Promise<Record<string, unknown>> => (await agent.recordsOf(pid, 1))[0];
    expect(await one(runs.cartApp.pid)).toMatchObject({
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': 'cart-1',
      'k8s.pod.uid': UID.cart,
      'k8s.container.name': 'app',
      'container.id': ID.cartApp,
      'k8s.node.name': 'node-a',
    });
    // cgroupfs driver; the container named through its log link
    expect(await one(runs.cartProxy.pid)).toMatchObject({ 'k8s.pod.name': 'cart-1', 'k8s.container.name': 'istio-proxy', 'container.id': ID.cartProxy });
    // CRI-O; the pod's only container
    expect(await one(runs.webNginx.pid)).toMatchObject({ 'k8s.namespace.name': 'web', 'k8s.pod.name': 'web-7', 'k8s.container.name': 'nginx', 'container.id': ID.webNginx });
    // Docker, guaranteed QoS, no log tree for it: what the cgroup says, for the collector to associate
    const batch = await one(runs.batchJob.pid);
    expect(batch).toMatchObject({ 'k8s.pod.uid': UID.batch, 'container.id': ID.batchJob });
    expect(batch).not.toHaveProperty('k8s.pod.name');
    // a host process has no pod attributes
    const host = await one(runs.host.pid);
    for (const key of ['k8s.pod.uid', 'k8s.pod.name', 'container.id', 'k8s.namespace.name']) expect(host).not.toHaveProperty(key);
    await agent.stop();
  });

  it('-K adds NAMESPACE, POD and CONTAINER columns to the table', async () => {
    const agent = await Agent.start(['-K'], env);
    const run = runBinds(['--netns', '--comm', 'cart-app', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,8080']);
    const host = runBinds(['--netns', '--comm', 'host-probe', 'tcp,4,127.0.0.1,8081']);
    const rows = await agent.waitFor(() => {
      const r = agent.lines().filter((l) => l.includes(' cart-app ') || l.includes(' host-probe '));
      return r.length >= 2 ? r : undefined;
    }, 'two rows');
    expect(agent.lines()[1]).toBe('     PID COMM         PROT ADDR            PORT   OPTS IF NAMESPACE        POD                              CONTAINER');
    expect(rows[0]).toBe(`${String(run.pid).padStart(8)} cart-app     TCP  127.0.0.1        8080 .....  0 shop             cart-1                           app`);
    expect(rows[1]).toBe(`${String(host.pid).padStart(8)} host-probe   TCP  127.0.0.1        8081 .....  0`);
    await agent.stop();
  });

  it('exports one ResourceLogs per pod container, with the pod as the resource', async () => {
    receiver = await OtlpReceiver.start();
    const agent = await Agent.start(['-K', '-q'], { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    const a = runBinds(['--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,8080', 'udp,4,127.0.0.1,8080']);
    const w = runBinds(['--netns', '--cgroup', cg.webNginx, 'tcp,4,127.0.0.1,80']);
    const h = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    await agent.stop('SIGTERM');
    const groups = receiver.requests.flatMap((r) => r.resourceLogs);
    const forPid = (pid: number) => groups.filter((g) => g.records.some((r) => r.attributes['process.pid'] === pid));
    const [cart] = forPid(a.pid);
    expect(cart.resource).toMatchObject({ 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'cart-1', 'k8s.pod.uid': UID.cart, 'k8s.container.name': 'app', 'container.id': ID.cartApp, 'service.name': 'bindsnoop' });
    expect(cart.records.filter((r) => r.attributes['process.pid'] === a.pid)).toHaveLength(2);
    expect(forPid(w.pid)[0].resource).toMatchObject({ 'k8s.pod.name': 'web-7', 'k8s.container.name': 'nginx' });
    expect(forPid(h.pid)[0].resource).not.toHaveProperty('k8s.pod.uid');
    // the pod's records never share a ResourceLogs with another resource
    expect(forPid(a.pid).every((g) => g.resource['k8s.pod.name'] === 'cart-1')).toBe(true);
  });

  it('still resolves a container that exited right after binding, from a pod deleted before its bind was read', async () => {
    const gone = { uid: '12345678-9abc-4def-8123-456789abcdef', id: hex('e') };
    const cgroup = path.join(systemdTop, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${us(gone.uid)}.slice`, `cri-containerd-${gone.id}.scope`);
    const podDir = path.join(podLogs, `batch_gone-1_${gone.uid}`);
    const fast = { ...env, BINDSNOOP_KUBERNETES_POD_RESCAN_INTERVAL_MILLIS: '50' };
    const bindAfterDeletion = async (graceMillis: string): Promise<Record<string, unknown>> => {
      mkdirSync(cgroup, { recursive: true });
      mkdirSync(path.join(podDir, 'job'), { recursive: true });
      const agent = await Agent.start(['-K', '-o', 'json'], { ...fast, BINDSNOOP_KUBERNETES_DELETED_POD_GRACE_MILLIS: graceMillis });
      // the kubelet removes the pod's logs; the agent's rescans notice it is gone
      rmSync(podDir, { recursive: true });
      await new Promise((r) => setTimeout(r, 300));
      // a last bind, and the container exits and its cgroup is removed at once
      const run = runBinds(['--netns', '--cgroup', cgroup, 'tcp,4,127.0.0.1,9090']);
      rmdirSync(cgroup);
      const [r] = await agent.recordsOf(run.pid, 1);
      await agent.stop();
      return r;
    };
    // remembered for the grace period: fully named
    expect(await bindAfterDeletion('300000')).toMatchObject({
      'k8s.namespace.name': 'batch',
      'k8s.pod.name': 'gone-1',
      'k8s.container.name': 'job',
      'k8s.pod.uid': gone.uid,
      'container.id': gone.id,
    });
    // with no grace the names are gone, but the kernel-captured ids still say which pod and container
    const late = await bindAfterDeletion('0');
    expect(late).toMatchObject({ 'k8s.pod.uid': gone.uid, 'container.id': gone.id });
    expect(late).not.toHaveProperty('k8s.pod.name');
  });
});
