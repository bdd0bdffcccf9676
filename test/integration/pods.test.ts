import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApi, podObject } from '../helpers/kube-api';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { scaledMillis, waitUntil } from '../helpers/wait';
import { Agent, bpftool, cgroup2Mount, CLI, describePrivileged, endReport, metric, OWN_UID, removeCgroupTree, runBinds, runBindsAsync, runTracingBpf, startDaemon, WaitingHelper } from './harness';

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
  // the cgroupfs driver's tree under the same test root (kubernetes.cgroupRoot): kubepods/<qos>/pod<uid>/<id>
  const cgroupfsTop = path.join(systemdTop, 'kubepods');
  const cg = {
    cartApp: path.join(systemdTop, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${us(UID.cart)}.slice`, `cri-containerd-${ID.cartApp}.scope`),
    webNginx: path.join(systemdTop, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${us(UID.web)}.slice`, `crio-${ID.webNginx}.scope`),
    batchJob: path.join(systemdTop, 'kubepods.slice', `kubepods-pod${us(UID.batch)}.slice`, `docker-${ID.batchJob}.scope`),
    cartProxy: path.join(cgroupfsTop, 'burstable', `pod${UID.cart}`, ID.cartProxy),
  };
  const pinDir = `/sys/fs/bpf/${tag}`;
  const env = {
    BINDSNOOP_KUBERNETES_PIN_DIR: pinDir,
    BINDSNOOP_KUBERNETES_CGROUP_ROOT: systemdTop,
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
    removeCgroupTree(systemdTop);
    rmSync(logs, { recursive: true, force: true });
    rmSync(pinDir, { recursive: true, force: true });
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
    // the pod's workload names the service (no API here: the pod's own name), not the agent
    expect(cart.resource).toMatchObject({
      'k8s.namespace.name': 'shop', 'k8s.pod.name': 'cart-1', 'k8s.pod.uid': UID.cart, 'k8s.container.name': 'app', 'container.id': ID.cartApp,
      'service.name': 'cart-1', 'service.namespace': 'shop', 'service.instance.id': 'shop.cart-1.app',
      // the runtime from the cgroup's name (cri-containerd-<id>.scope), with or without the API
      'container.runtime.name': 'containerd',
    });
    expect(cart.resource).not.toHaveProperty('service.version');
    expect(forPid(w.pid)[0].resource).toMatchObject({ 'container.runtime.name': 'cri-o' });
    expect(cart.records[0].scope).toMatchObject({ name: 'bindsnoop' }); // the agent is the instrumentation scope
    expect(cart.records.filter((r) => r.attributes['process.pid'] === a.pid)).toHaveLength(2);
    expect(forPid(w.pid)[0].resource).toMatchObject({ 'k8s.pod.name': 'web-7', 'k8s.container.name': 'nginx' });
    // a host process's bind keeps the agent's resource
    expect(forPid(h.pid)[0].resource).not.toHaveProperty('k8s.pod.uid');
    expect(forPid(h.pid)[0].resource).toMatchObject({ 'service.name': 'bindsnoop' });
    // the pod's records never share a ResourceLogs with another resource
    expect(forPid(a.pid).every((g) => g.resource['k8s.pod.name'] === 'cart-1')).toBe(true);
  });

  it('encodes a pod\'s binds where they are read once it has resolved one: each as its pod\'s, a host process\'s as the agent\'s', async () => {
    receiver = await OtlpReceiver.start();
    const { agent, base } = await startDaemon({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, [], ['-K']);
    const encodedBefore = await metric(base, 'bindsnoop_encoder_records_total');
    // paced: the first bind of each cgroup is resolved here, the next ones are encoded by the addon
    const pod = await runBindsAsync(['--netns', '--cgroup', cg.cartApp, '--rate', '400', '--repeat', '100', 'tcp,4,127.0.0.1,0']);
    const host = await runBindsAsync(['--netns', '--rate', '400', '--repeat', '100', 'udp,4,127.0.0.1,0']);
    const mine = () => receiver!.requests.flatMap((r) => r.resourceLogs).flatMap((g) => g.records.filter((r) => r.attributes['process.pid'] === pod.pid || r.attributes['process.pid'] === host.pid).map((r) => ({ resource: g.resource, r })));
    await agent.waitFor(() => mine().length === 200, 'the export');
    const podRecords = mine().filter(({ r }) => r.attributes['process.pid'] === pod.pid);
    expect(podRecords).toHaveLength(100);
    for (const { resource, r } of podRecords) {
      expect(resource).toMatchObject({ 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'cart-1', 'k8s.pod.uid': UID.cart, 'k8s.container.name': 'app', 'container.id': ID.cartApp, 'service.name': 'cart-1' });
      expect(r.attributes).toMatchObject({ 'network.transport': 'tcp', 'bindsnoop.cgroup.id': expect.any(Number) as number, 'process.executable.name': 'bind_helper' });
    }
    const hostRecords = mine().filter(({ r }) => r.attributes['process.pid'] === host.pid);
    expect(hostRecords).toHaveLength(100);
    for (const { resource } of hostRecords) {
      expect(resource).not.toHaveProperty('k8s.pod.uid');
      expect(resource).toMatchObject({ 'service.name': 'bindsnoop' });
    }
    // most of them encoded by the addon (the first of each cgroup, and what came with it, named here)
    expect((await metric(base, 'bindsnoop_encoder_records_total')) - encodedBefore).toBeGreaterThanOrEqual(150);
    expect((await agent.stop('SIGTERM')).code).toBe(0);
  });

  it('a pod changed in the API: the binds the addon encodes after it carry the pod as it is now', async () => {
    const api = await FakeKubeApi.start();
    try {
      const batch = { uid: UID.batch, name: 'backup-1', namespace: 'ops', nodeName: 'node-a', labels: { app: 'backup', team: 'sre' }, containers: [{ name: 'dump', id: ID.batchJob }] };
      api.addPod(batch);
      receiver = await OtlpReceiver.start();
      const { agent, base } = await startDaemon({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, BINDSNOOP_KUBERNETES_API_KUBECONFIG: api.writeKubeconfig(path.join(logs, 'kubeconfig-encoded')), BINDSNOOP_KUBERNETES_LABELS: 'app,team' }, [], ['-K']);
      await agent.waitFor(() => api.watchCount() === 1, 'the agent to watch the API');
      const resourcesOf = (pid: number) => receiver!.requests.flatMap((r) => r.resourceLogs).flatMap((g) => g.records.filter((r) => r.attributes['process.pid'] === pid).map(() => g.resource));
      const before = await runBindsAsync(['--netns', '--cgroup', cg.batchJob, '--rate', '400', '--repeat', '100', 'tcp,4,127.0.0.1,0']);
      await agent.waitFor(() => resourcesOf(before.pid).length === 100, 'the export');
      expect(resourcesOf(before.pid).every((r) => r['k8s.pod.label.team'] === 'sre')).toBe(true);
      api.modifyPod({ ...batch, labels: { app: 'backup', team: 'dba' } });
      await new Promise((r) => setTimeout(r, scaledMillis(1000)));
      const encoded = await metric(base, 'bindsnoop_encoder_records_total');
      const after = await runBindsAsync(['--netns', '--cgroup', cg.batchJob, '--rate', '400', '--repeat', '100', 'tcp,4,127.0.0.1,0']);
      await agent.waitFor(() => resourcesOf(after.pid).length === 100, 'the export');
      expect(resourcesOf(after.pid).filter((r) => r['k8s.pod.label.team'] !== 'dba')).toEqual([]);
      // and still encoded by the addon, once named again
      expect((await metric(base, 'bindsnoop_encoder_records_total')) - encoded).toBeGreaterThanOrEqual(50);
      expect((await agent.stop('SIGTERM')).code).toBe(0);
    } finally {
      await api.stop();
    }
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

  it('adds owner workload, labels and names from the Kubernetes API watch of this node\'s pods', async () => {
    const api = await FakeKubeApi.start();
    try {
      // the batch pod has no kubelet log tree here: everything but the ids comes from the API
      api.addPod({
        uid: UID.batch,
        name: 'backup-29384720-x7k2p',
        namespace: 'ops',
        nodeName: 'node-a',
        labels: { app: 'backup', team: 'sre', 'app.kubernetes.io/version': '1.2.0' },
        annotations: { 'resource.opentelemetry.io/service.namespace': 'backups' },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'backup-29384720', uid: 'job-1', controller: true }],
        containers: [{ name: 'dump', id: ID.batchJob, image: 'registry.example:5000/ops/pgdump:16.2', imageID: `registry.example:5000/ops/pgdump@sha256:${'e'.repeat(64)}` }],
      });
      api.addPod({ uid: UID.web, name: 'other-node-pod', namespace: 'web', nodeName: 'node-b' });
      const agent = await Agent.start(['-K', '-o', 'json'], {
        ...env,
        BINDSNOOP_KUBERNETES_API_KUBECONFIG: api.writeKubeconfig(path.join(logs, 'kubeconfig')),
        BINDSNOOP_KUBERNETES_LABELS: 'app,team',
      });
      await agent.waitFor(() => api.watchCount() === 1, 'the agent to watch the API');
      const run = runBinds(['--netns', '--cgroup', cg.batchJob, 'udp,4,127.0.0.1,0']);
      const [r] = await agent.recordsOf(run.pid, 1);
      expect(r).toMatchObject({
        'k8s.namespace.name': 'ops',
        'k8s.pod.name': 'backup-29384720-x7k2p',
        'k8s.pod.uid': UID.batch,
        'k8s.container.name': 'dump',
        'container.id': ID.batchJob,
        'k8s.job.name': 'backup-29384720',
        'k8s.cronjob.name': 'backup',
        'k8s.pod.label.app': 'backup',
        'k8s.pod.label.team': 'sre',
        // the workload's service: the CronJob (owner of the Job) names it, the annotation namespaces it
        'service.name': 'backup',
        'service.namespace': 'backups',
        'service.version': '1.2.0',
        'service.instance.id': 'ops.backup-29384720-x7k2p.dump',
        // the container's image from its status; the runtime from its cgroup's name (docker-<id>.scope)
        'container.image.name': 'registry.example:5000/ops/pgdump',
        'container.image.tags': ['16.2'],
        'container.image.repo_digests': [`registry.example:5000/ops/pgdump@sha256:${'e'.repeat(64)}`],
        'container.runtime.name': 'docker',
      });
      // only this node's pods were asked for
      expect(api.requests.every((q) => q.query.get('fieldSelector') === 'spec.nodeName=node-a')).toBe(true);
      expect((await agent.stop()).code).toBe(0);
      // a clean stop ends the watch without calling it a failure
      expect(agent.stderr).not.toMatch(/pod watch (failed|skipped)/);
    } finally {
      await api.stop();
    }
  });

  it('a pod bound before the first API list answered keeps one resource for its life: its binds wait for the API (bounded)', async () => {
    const api = await FakeKubeApi.start();
    try {
      // the cart pod's app container has a log tree (names without the API) and, in the API, the label that names its service
      const cart = { uid: UID.cart, name: 'cart-1', namespace: 'shop', nodeName: 'node-a', labels: { 'app.kubernetes.io/name': 'cart' }, containers: [{ name: 'app', id: ID.cartApp }] };
      api.addPod(cart);
      // the first list answers only when the test lets it
      let answerList: (() => void) | undefined;
      api.rawNextLists((res) => {
        answerList = () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1001' }, items: [podObject(cart, 1001)] }));
        };
      });
      const agent = await Agent.start(['-K', '-o', 'json'], { ...env, BINDSNOOP_KUBERNETES_API_KUBECONFIG: api.writeKubeconfig(path.join(logs, 'kubeconfig-hold')) });
      await agent.waitFor(() => answerList, 'the first list request');
      const early = runBinds(['--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,0']);
      await new Promise((r) => setTimeout(r, 300));
      // waiting for the API, not named from the log tree
      expect(agent.stdout).not.toContain(`"process.pid":${early.pid}`);
      answerList!();
      const [first] = await agent.recordsOf(early.pid, 1);
      const late = runBinds(['--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,0']);
      const [second] = await agent.recordsOf(late.pid, 1);
      // one service for the pod's life: from its label, before the list answered as after
      for (const r of [first, second]) expect(r).toMatchObject({ 'service.name': 'cart', 'k8s.pod.name': 'cart-1', 'k8s.container.name': 'app' });
      await agent.stop();
    } finally {
      await api.stop();
    }
  });

  it('a pod the API never describes is named from the log tree after kubernetes.api.holdMillis, and the books stay exact', async () => {
    const api = await FakeKubeApi.start();
    receiver = await OtlpReceiver.start();
    try {
      const agent = await Agent.start(['-K', '-q'], {
        ...env,
        BINDSNOOP_KUBERNETES_API_KUBECONFIG: api.writeKubeconfig(path.join(logs, 'kubeconfig-expire')),
        BINDSNOOP_KUBERNETES_API_HOLD_MILLIS: '500',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      });
      await agent.waitFor(() => api.watchCount() === 1, 'the agent to watch the API');
      const run = runBinds(['--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,0']);
      const r = await waitUntil('the record', () => receiver!.records().find((x) => x.attributes['process.pid'] === run.pid), 10_000);
      // from the log tree: the pod's name is its service's
      expect(r.resource).toMatchObject({ 'k8s.pod.name': 'cart-1', 'service.name': 'cart-1', 'k8s.container.name': 'app' });
      const exit = await agent.stop();
      expect(exit.code).toBe(0);
      const report = endReport(agent.stderr);
      expect(report.exported + Object.values(report.lost).reduce((a, b) => a + b, 0)).toBe(report.seen);
    } finally {
      await api.stop();
    }
  });

  it('attributes a bind to a pod only when its whole cgroup path is the kubelet\'s: a look-alike elsewhere stays unattributed', async () => {
    // what a user with a delegated cgroup (a systemd session) can make: the kubelet's names, outside its hierarchy
    const forged = path.join(systemdTop, 'user.slice', `kubepods-burstable-pod${us(UID.cart)}.slice`, `cri-containerd-${ID.cartApp}.scope`);
    mkdirSync(forged, { recursive: true });
    try {
      const agent = await Agent.start(['-K', '-o', 'json'], env);
      const fake = runBinds(['--netns', '--cgroup', forged, 'tcp,4,127.0.0.1,0']);
      const real = runBinds(['--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,0']);
      const [r] = await agent.recordsOf(real.pid, 1);
      expect(r['k8s.pod.uid']).toBe(UID.cart);
      // (the look-alike's bind waits while its real path is looked up: its process has exited, so the tree is walked)
      const [f] = await agent.recordsOf(fake.pid, 1);
      expect(f).not.toHaveProperty('k8s.pod.uid');
      expect(f).not.toHaveProperty('container.id');
      // shown as unattributed with where its cgroup really is (as /proc/PID/cgroup writes it)
      expect(f['bindsnoop.cgroup.path']).toBe('/' + path.relative(cgroup2Mount(), forged));
      expect(r).not.toHaveProperty('bindsnoop.cgroup.path');
      await agent.stop();
    } finally {
      removeCgroupTree(path.join(systemdTop, 'user.slice'));
    }
  });

  it('refuses a pinDir that is not on a BPF filesystem (exit 2, nothing loaded)', async () => {
    const agent = Agent.spawn(['-K'], { ...env, BINDSNOOP_KUBERNETES_PIN_DIR: path.join(logs, 'not-bpffs') });
    expect((await agent.exited).code).toBe(2);
    expect(agent.stderr).toContain(`kubernetes.pinDir: ${path.join(logs, 'not-bpffs')} is not on a BPF filesystem`);
    // refused before anything was made
    expect(existsSync(path.join(logs, 'not-bpffs'))).toBe(false);
  });

  it('with no bpffs mounted at all, says so at once (exit 2) instead of trying to make the directory', () => {
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs none /sys/fs/bpf && exec "${process.execPath}" "${CLI}" -K`], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, ...env, BINDSNOOP_KUBERNETES_PIN_DIR: '/sys/fs/bpf/bindsnoop' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('kubernetes.pinDir: /sys/fs/bpf/bindsnoop is not on a BPF filesystem');
  });

  it('refuses a pin directory another user planted, or a link, and never follows it', () => {
    const planted = `/sys/fs/bpf/${tag}-planted`;
    const link = `/sys/fs/bpf/${tag}-link`;
    try {
      mkdirSync(planted);
      chownSync(planted, 1000, 1000);
      const owned = spawnSync(process.execPath, [CLI, '-K'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env, BINDSNOOP_KUBERNETES_PIN_DIR: planted } });
      expect(owned.status).toBe(2);
      expect(owned.stderr).toContain(`kubernetes.pinDir: ${planted} belongs to uid 1000`);
      symlinkSync(pinDir, link);
      const linked = spawnSync(process.execPath, [CLI, '-K'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env, BINDSNOOP_KUBERNETES_PIN_DIR: link } });
      expect(linked.status).toBe(2);
      expect(linked.stderr).toContain(`kubernetes.pinDir: ${link} is a symbolic link`);
    } finally {
      rmSync(planted, { recursive: true, force: true });
      rmSync(link, { force: true });
    }
  });

  it('a second agent on the same pin directory stops at once naming the holder (exit 2, nothing loaded); a killed holder frees it', async () => {
    const first = await Agent.start(['-K', '-q'], env);
    try {
      const second = runTracingBpf(['-K'], env);
      expect(second.status).toBe(2);
      expect(second.stderr).toContain(`kubernetes.pinDir: ${pinDir} is in use by another bindsnoop (pid ${first.proc.pid})`);
      expect(second.loadedPrograms).toBe(0);
    } finally {
      await first.stop('SIGKILL');
    }
    // the kernel dropped the lock with the killed agent's fds: the next one starts
    const next = await Agent.start(['-K', '-q'], env);
    expect((await next.stop()).code).toBe(0);
  });

  describe('pinned maps of the node\'s containers', () => {
    /** Keys and values of a pinned map, read back with bpftool. */
    const dump = (name: string): Map<bigint, bigint> => {
      const rows = JSON.parse(bpftool(['map', 'dump', 'pinned', `${pinDir}/${name}`, '--json'])) as { key: string[]; value: string[] }[];
      const num = (bytes: string[]): bigint => BigInt('0x' + [...bytes].reverse().map((b) => b.replace(/^0x/, '').padStart(2, '0')).join(''));
      return new Map(rows.map((r) => [num(r.key), num(r.value)]));
    };
    const until = (what: string, ok: () => boolean): Promise<true> => waitUntil(what, ok, 3000) as Promise<true>;
    const id = (dir: string): bigint => BigInt(statSync(dir).ino);

    it('lists the selected containers in bcc\'s layouts, follows them as they come and go, and keeps slots across restarts', async () => {
      rmSync(pinDir, { recursive: true, force: true });
      const agent = await Agent.start(['-K', '-q'], { ...env, BINDSNOOP_KUBERNETES_EXCLUDE_NAMESPACES: 'web' });
      // the maps exist as bcc documents them: hash, key 8, value 8 (cgroups) and 4 (mntns)
      const info = JSON.parse(bpftool(['map', 'show', 'pinned', `${pinDir}/cgroups`, '--json'])) as { type: string; bytes_key: number; bytes_value: number };
      expect(info).toMatchObject({ type: 'hash', bytes_key: 8, bytes_value: 8 });
      expect(JSON.parse(bpftool(['map', 'show', 'pinned', `${pinDir}/mntns`, '--json']))).toMatchObject({ bytes_key: 8, bytes_value: 4 });

      // within a second: cart's container (systemd tree) and the batch pod, not web's (excluded)
      await until('the containers to be listed', () => dump('cgroups').has(id(cg.cartApp)) && dump('cgroups').has(id(cg.batchJob)));
      const cgroups = dump('cgroups');
      expect(cgroups.has(id(cg.webNginx))).toBe(false);
      expect(dump('excluded').has(id(cg.webNginx))).toBe(true);
      const cartSlot = cgroups.get(id(cg.cartApp));
      expect(cartSlot).not.toBe(cgroups.get(id(cg.batchJob)));

      // a process in the container: its mount namespace is listed with the pod's slot
      const inCart = await WaitingHelper.start(['--mntns', '--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,0']);
      await until('the mount namespace', () => dump('mntns').get(BigInt(inCart.mntns)) === cartSlot);

      // a new container appears, then goes
      const extra = path.join(path.dirname(cg.cartApp), `cri-containerd-${hex('9')}.scope`);
      mkdirSync(extra);
      await until('the new container', () => dump('cgroups').get(id(extra)) === cartSlot);
      const extraId = id(extra);
      rmdirSync(extra);
      await until('the stale entry to go', () => !dump('cgroups').has(extraId));

      await inCart.helper.bind();
      await agent.stop();
      // pinned maps stay for the next instance, which keeps the slots
      const before = dump('cgroups');
      expect(before.size).toBeGreaterThan(0);
      const again = await Agent.start(['-K', '-q'], { ...env, BINDSNOOP_KUBERNETES_EXCLUDE_NAMESPACES: 'web' });
      await new Promise((r) => setTimeout(r, 700));
      expect(dump('cgroups').get(id(cg.cartApp))).toBe(cartSlot);
      await again.stop();
    });

    it('drops excluded containers\' binds in the kernel; bcc-style --cgroupmap on the pinned map selects the listed ones', async () => {
      const agent = await Agent.start(['-K', '-o', 'json'], { ...env, BINDSNOOP_KUBERNETES_EXCLUDE_NAMESPACES: 'web' });
      await until('the maps', () => dump('excluded').has(id(cg.webNginx)) && dump('cgroups').has(id(cg.cartApp)));
      // a second tracer, used the way bcc's bindsnoop.py --cgroupmap uses the pinned map
      const bccStyle = await Agent.start(['-o', 'json', '--cgroupmap', `${pinDir}/cgroups`]);
      const web = runBinds(['--netns', '--cgroup', cg.webNginx, 'tcp,4,127.0.0.1,80']);
      const host = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
      const cart = runBinds(['--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,8080']);
      await agent.recordsOf(cart.pid, 1);
      await bccStyle.recordsOf(cart.pid, 1);
      const pids = (a: Agent): unknown[] => a.jsonRecords().map((r) => r['process.pid']);
      expect(pids(agent)).not.toContain(web.pid); // excluded: dropped in the kernel
      expect(pids(agent)).toContain(host.pid); // not a container: passes
      expect(pids(bccStyle)).toEqual([cart.pid]);
      await bccStyle.stop();
      await agent.stop();
    });

    it('drops in user space an excluded container that binds before the maps know it, and keeps the books exact', async () => {
      receiver = await OtlpReceiver.start();
      // fresh maps: what an earlier agent pinned must not pass for this one's first pass
      rmSync(pinDir, { recursive: true, force: true });
      // the maps follow the container tree within a fraction of a second: the agent is held still (SIGSTOP) while the
      // container is made and binds, so the kernel cannot know it yet, and its binds race the maps
      const agent = await Agent.start(['-K', '-q'], {
        ...env,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        BINDSNOOP_KUBERNETES_EXCLUDE_NAMESPACES: 'web',
        BINDSNOOP_KUBERNETES_MAP_SYNC_INTERVAL_MILLIS: '60000',
        // the books of this test's binds only (made as the run's own user): a neighbour's are not traced
        BINDSNOOP_FILTER_UID: String(OWN_UID),
      });
      // the first pass (made at start, off the event loop) has put the web pod's existing container in the map
      await until('the first pass over the maps', () => dump('excluded').has(id(cg.webNginx)));
      const late = path.join(path.dirname(cg.webNginx), `crio-${hex('7')}.scope`);
      try {
        agent.proc.kill('SIGSTOP');
        let web: ReturnType<typeof runBinds>;
        let cart: ReturnType<typeof runBinds>;
        try {
          mkdirSync(late);
          web = runBinds(['--netns', '--cgroup', late, '--uid', String(OWN_UID), 'tcp,4,127.0.0.1,0', 'udp,4,127.0.0.1,0']);
          cart = runBinds(['--netns', '--cgroup', cg.cartApp, '--uid', String(OWN_UID), 'tcp,4,127.0.0.1,0']);
          expect(dump('excluded').has(id(late))).toBe(false); // the kernel did not know at the binds
        } finally {
          agent.proc.kill('SIGCONT');
        }
        await until('the cart bind', () => receiver!.records().some((r) => r.attributes['process.pid'] === cart.pid));
        expect(receiver!.records().some((r) => r.attributes['process.pid'] === web.pid)).toBe(false);
        // and the maps learn it once the agent runs again (inotify), with no pass of the whole tree
        await until('the late container in the map', () => dump('excluded').has(id(late)));
      } finally {
        rmdirSync(late);
        // stopped whatever happened: the next test needs the pin directory
        await agent.stop('SIGTERM');
      }
      const report = endReport(agent.stderr);
      expect(report.lost).toEqual({});
      expect(report.exported).toBe(report.seen);
    });

    it('a label selector (labels from the API) leaves non-matching pods out in the kernel', async () => {
      const api = await FakeKubeApi.start();
      try {
        api.addPod({ uid: UID.cart, name: 'cart-1', namespace: 'shop', nodeName: 'node-a', labels: { app: 'cart' } });
        api.addPod({ uid: UID.batch, name: 'backup-1', namespace: 'ops', nodeName: 'node-a', labels: { app: 'backup' } });
        const agent = await Agent.start(['-K', '-o', 'json'], {
          ...env,
          BINDSNOOP_KUBERNETES_API_KUBECONFIG: api.writeKubeconfig(path.join(logs, 'kubeconfig-selector')),
          BINDSNOOP_KUBERNETES_LABEL_SELECTOR: 'app in (cart,web)',
        });
        await until('the selection', () => dump('excluded').has(id(cg.batchJob)) && dump('cgroups').has(id(cg.cartApp)));
        expect(dump('cgroups').has(id(cg.batchJob))).toBe(false);
        const batch = runBinds(['--netns', '--cgroup', cg.batchJob, 'tcp,4,127.0.0.1,0']);
        const cart = runBinds(['--netns', '--cgroup', cg.cartApp, 'tcp,4,127.0.0.1,0']);
        await agent.recordsOf(cart.pid, 1);
        expect(agent.jsonRecords().map((r) => r['process.pid'])).not.toContain(batch.pid);
        await agent.stop();
      } finally {
        await api.stop();
      }
    });
  });
});
