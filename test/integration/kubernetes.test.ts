import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { loadAddon } from '../../src/kernel/native';
import { Collector, plainAttributes, type CollectedRecord } from '../helpers/collector';
import { peerBinary } from '../helpers/peers';
import { CHART, VALUE_SETS } from '../helpers/helm';
import { ControlPlane, type MadePod, type PodSpec } from '../helpers/kube-control-plane';
import { scaledMillis, waitUntil } from '../helpers/wait';
import { books, cgroup2Mount, describePrivileged, expectReleased, logLines, OWN_UID, removeCgroupTree, ROOT, runBinds, runBindsAsync, sampleOf, startDaemon, type Agent } from './harness';

/*
 * The agent, its manifests and its chart against a real Kubernetes control plane: kube-apiserver and etcd built
 * from their modules (test/peers), RBAC judged by the real authorizer, pods on this host's cgroups made through
 * the API as the kubelet would report them, the agent given a service-account token from the TokenRequest API at
 * the paths a pod mounts.
 */
const NODE = 'node-a';
const NAMESPACE = 'bindsnoop';
const SERVICE_ACCOUNT = 'bindsnoop';
/** agents started together, one a node, in the restart storm */
const STORM = 20;
/** how long the agent is watched at steady state (STEADY_MILLIS_OF_TEST: longer for docs/BENCHMARKS.md) */
const STEADY_MILLIS = Number(process.env.STEADY_MILLIS_OF_TEST ?? 60_000);

describePrivileged('a real Kubernetes control plane (kube-apiserver and etcd built from their modules)', () => {
  let plane: ControlPlane;
  let collector: Collector | undefined;
  let agent: Agent | undefined;
  const tag = `bindsnoop-k8s-${process.pid}`;
  const top = path.join(cgroup2Mount(), `${tag}.slice`);
  const pinDir = `/sys/fs/bpf/${tag}`;
  const work = mkdtempSync(path.join(tmpdir(), 'bindsnoop-k8s-test-'));
  const saDir = path.join(work, 'serviceaccount');
  const logsDir = path.join(work, 'logs');

  beforeAll(async () => {
    // every peer built here, before any test's clock runs (a cold build takes minutes)
    peerBinary('collector');
    plane = await ControlPlane.start();
    mkdirSync(saDir, { recursive: true });
    // the kubelet's QoS tree, there before any agent starts on a node
    mkdirSync(path.join(top, 'kubepods.slice', 'kubepods-besteffort.slice'), { recursive: true });
    mkdirSync(path.join(logsDir, 'pods'), { recursive: true });
    mkdirSync(path.join(logsDir, 'containers'), { recursive: true });
    // the kustomize base, applied as users apply it: its namespace, service account and role
    plane.kubectl(['apply', '--server-side', '-f', '-'], plane.kubectl(['kustomize', path.join(ROOT, 'k8s')]));
  }, 1_800_000);

  /** agents of other nodes (the restart storm) */
  let others: Agent[] = [];

  afterEach(async () => {
    await agent?.stop('SIGTERM');
    agent = undefined;
    await Promise.all(others.map((a) => a.stop('SIGTERM')));
    others = [];
    for (let i = 0; i < STORM; i++) rmSync(`${pinDir}-${i}`, { recursive: true, force: true });
    // the chart's configuration keeps each agent's programs attached for the next one (handover): removed here
    for (const dir of [pinDir, ...Array.from({ length: STORM }, (_, i) => `${pinDir}-${i}`)].map((d) => `${d}-handover`)) {
      if (existsSync(dir)) loadAddon().removePinnedSet(dir);
    }
    await collector?.stop();
    collector = undefined;
    // whatever a test left on the node (a failed one its pods): the next starts from none
    plane?.run('kubectl', ['delete', 'pods', '--all-namespaces', `--field-selector=spec.nodeName=${NODE}`, '--grace-period=0', '--force', '--wait=false']);
  });

  afterAll(async () => {
    await plane?.stop();
    removeCgroupTree(top);
    rmSync(pinDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** The cgroup of a pod's container as the kubelet's systemd driver and containerd name it. */
  const containerCgroup = (podUid: string, id: string): string =>
    path.join(top, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${podUid.replace(/-/g, '_')}.slice`, `cri-containerd-${id}.scope`);

  const containerId = (n: number): string => n.toString(16).padStart(64, 'c');

  /** A service-account token written where the pod would have it mounted (token, ca.crt, namespace). */
  async function mountServiceAccount(token?: string): Promise<void> {
    writeFileSync(path.join(saDir, 'token'), token ?? (await plane.serviceAccountToken(NAMESPACE, SERVICE_ACCOUNT)));
    writeFileSync(path.join(saDir, 'ca.crt'), plane.ca);
    writeFileSync(path.join(saDir, 'namespace'), NAMESPACE);
  }

  /**
   * The agent in daemon mode as the DaemonSet runs it: the chart's default configuration file, in its own mount
   * namespace with the service account at /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST and
   * _PORT, NODE_NAME; this host's paths and the Collector's endpoint given in the environment, which wins over the file.
   */
  let configFiles = 0;
  async function startInCluster(env: NodeJS.ProcessEnv = {}, startMillis?: number): Promise<{ agent: Agent; base: string }> {
    collector ??= await Collector.start();
    const rendered = plane.tools.template({});
    const configMap = rendered.objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    // a file of its own: agents started together (the storm) would otherwise read one while another rewrites it, and
    // one that read it empty ran with the defaults, Kubernetes off
    const configFile = path.join(work, `config-${++configFiles}.yaml`);
    writeFileSync(configFile, configMap.data['config.yaml']);
    const inPod = [
      'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
      'mount -t tmpfs -o size=1m tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && mount --bind "$0" /run/secrets/kubernetes.io/serviceaccount && exec "$@"',
      saDir,
    ];
    const started = await startDaemon(
      {
        KUBERNETES_SERVICE_HOST: '127.0.0.1',
        KUBERNETES_SERVICE_PORT: String(plane.port),
        NODE_NAME: NODE,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50',
        BINDSNOOP_KUBERNETES_PIN_DIR: pinDir,
        BINDSNOOP_KUBERNETES_CGROUP_ROOT: top,
        BINDSNOOP_KUBERNETES_POD_LOGS_DIR: path.join(logsDir, 'pods'),
        BINDSNOOP_KUBERNETES_CONTAINER_LOGS_DIR: path.join(logsDir, 'containers'),
        BINDSNOOP_KUBERNETES_LABELS: 'app,team',
        // each agent its own pinned set (the chart turns handover on), beside its own Kubernetes pin directory
        BINDSNOOP_HANDOVER_PIN_DIR: `${env.BINDSNOOP_KUBERNETES_PIN_DIR ?? pinDir}-handover`,
        // the DaemonSet of the kustomize base (no controller runs here: it makes no pods)
        BINDSNOOP_KUBERNETES_DAEMON_SET: `${NAMESPACE}/bindsnoop`,
        ...env,
      },
      inPod,
      ['-c', configFile],
      startMillis,
    );
    if (env.NODE_NAME === undefined || env.NODE_NAME === NODE) agent = started.agent;
    else others.push(started.agent);
    return started;
  }

  const scrape = async (base: string): Promise<string> => (await fetch(`${base}/metrics`)).text();

  /**
   * kube-apiserver's own count of pod requests: lists and watches served (a watch counted when it ends), watches open
   * now, and pod lists served from etcd and from the watch cache.
   */
  async function apiRequests(): Promise<{ list: number; watch: number; openWatches: number; etcdLists: number; cacheLists: number }> {
    const text = await plane.metrics();
    const sum = (metric: string, ...labels: string[]): number =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${metric}{`) && labels.every((label) => l.includes(label)) && !/subresource="[^"]/.test(l))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    return {
      list: sum('apiserver_request_total', 'resource="pods"', 'verb="LIST"'),
      watch: sum('apiserver_request_total', 'resource="pods"', 'verb="WATCH"'),
      openWatches: sum('apiserver_longrunning_requests', 'resource="pods"', 'verb="WATCH"'),
      etcdLists: sum('apiserver_storage_list_total', 'resource="pods"', 'storage="etcd"'),
      cacheLists: sum('apiserver_storage_list_total', 'resource="pods"', 'storage="watchcache"'),
    };
  }

  /** A process's resident memory (VmRSS), in KiB. */
  const residentKiB = (a: Agent): number => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${a.proc.pid}/status`, 'utf8'))?.[1] ?? 0);

  /** The agent's failed lists and watches of this reason (none counted yet: no sample). */
  const failures = (text: string, reason: string): number => (text.includes(`bindsnoop_kubernetes_api_failures_total{reason="${reason}"}`) ? sampleOf(text, `bindsnoop_kubernetes_api_failures_total{reason="${reason}"}`) : 0);

  /** The messages the agent logged after `from` characters of its log. */
  const messages = (from = 0): string => {
    const text = agent!.stderr.slice(from);
    // whole lines only: the last may still be being written
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { msg: string }).msg)
      .join('\n');
  };

  /** Waits until the agent's log (after `from` characters) says this; a timeout shows what it said. */
  async function told(pattern: RegExp, what: string, from = 0, timeoutMillis = 15_000): Promise<void> {
    await waitUntil(what, () => pattern.test(messages(from)), scaledMillis(timeoutMillis)).catch((e: Error) => {
      throw new Error(`${e.message}; the agent said:\n${agent?.stderr.slice(Math.max(from, agent.stderr.length - 4000))}`);
    });
  }

  /** Waits until the agent knows `count` pods (bindsnoop_pods_known); a timeout shows what the agent said. */
  async function knownPods(base: string, count: number, what: string): Promise<void> {
    await waitUntil(what, async () => sampleOf(await scrape(base), 'bindsnoop_pods_known') === count, scaledMillis(15_000)).catch((e: Error) => {
      throw new Error(`${e.message}; pods known: the agent said:\n${agent?.stderr.slice(-4000)}`);
    });
  }

  /** What the Collector wrote for binds of this process. */
  const collectedOf = (pid: number): CollectedRecord[] => collector!.records().filter((c) => plainAttributes(c.record.attributes)['process.pid'] === pid);

  /** One bind from a container's cgroup; the resource the Collector got it with. */
  async function bindIn(cgroup: string): Promise<Record<string, unknown>> {
    mkdirSync(cgroup, { recursive: true });
    const run = runBinds(['--netns', '--cgroup', cgroup, 'tcp,4,127.0.0.1,0']);
    const [c] = await waitUntil(`the bind of pid ${run.pid} at the Collector`, () => (collectedOf(run.pid).length > 0 ? collectedOf(run.pid) : undefined), scaledMillis(15_000));
    return plainAttributes(c.resource.attributes);
  }

  it('the kustomize base applies server-side; its service account, with a token from the API, can list and watch pods and nothing else', async () => {
    const token = await plane.serviceAccountToken(NAMESPACE, SERVICE_ACCOUNT);
    const canI = (...args: string[]): string => {
      const r = plane.run('kubectl', ['auth', 'can-i', `--token=${token}`, ...args]);
      return r.stdout.trim();
    };
    // the rules the authorizer gives a token, row by row: what the base's role adds to those of a service account
    // bound to nothing (what every authenticated identity has, which differs between releases)
    const rules = (t: string, ...where: string[]): string[] =>
      plane
        .kubectl(['auth', 'can-i', '--list', `--token=${t}`, ...where])
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s{2,}/).join(' '))
        .filter((l) => l !== '')
        .sort();
    plane.kubectl(['create', 'serviceaccount', 'bound-to-nothing', '-n', NAMESPACE]);
    const baseline = rules(await plane.serviceAccountToken(NAMESPACE, 'bound-to-nothing'));
    const granted = rules(token);
    expect(granted.filter((r) => !baseline.includes(r))).toEqual(['pods [] [] [list watch]']);
    expect(baseline.filter((r) => !granted.includes(r))).toEqual([]);
    // in its own namespace, also its own DaemonSet, by name (watched to know whether a next agent will come)
    const baselineIn = rules(await plane.serviceAccountToken(NAMESPACE, 'bound-to-nothing'), '-n', NAMESPACE);
    expect(rules(token, '-n', NAMESPACE).filter((r) => !baselineIn.includes(r))).toEqual(['daemonsets.apps [] [bindsnoop] [list watch]', 'pods [] [] [list watch]']);
    expect(canI('list', 'daemonsets.apps/bindsnoop', '-n', NAMESPACE)).toBe('yes');
    expect(canI('watch', 'daemonsets.apps/bindsnoop', '-n', NAMESPACE)).toBe('yes');
    for (const denied of [['get', 'daemonsets.apps/bindsnoop'], ['delete', 'daemonsets.apps/bindsnoop'], ['list', 'daemonsets.apps/other']]) {
      expect(canI(...denied, '-n', NAMESPACE), denied.join(' ')).toBe('no');
    }
    // what every identity has includes no write but its own access reviews
    for (const row of baseline) expect(row, row).toMatch(/\[(get|list|watch| )+\]$|^self\S+ \[\] \[\] \[create\]$/);
    expect(canI('list', 'pods', '--all-namespaces')).toBe('yes');
    expect(canI('watch', 'pods', '--all-namespaces')).toBe('yes');
    for (const denied of [['get', 'pods'], ['create', 'pods'], ['delete', 'pods'], ['patch', 'pods/status'], ['get', 'secrets'], ['list', 'secrets'], ['list', 'nodes'], ['list', 'configmaps'], ['create', 'serviceaccounts/token'], ['list', 'replicasets.apps']]) {
      expect(canI(...denied, '--all-namespaces'), denied.join(' ')).toBe('no');
    }
  }, 120_000);

  it('the chart installs with server-side validation by default, upgrades to each other value set, and uninstalls leaving nothing', async () => {
    const release = 'chart-test';
    const namespace = 'bindsnoop-chart';
    // the kinds the monitoring values add, as the Prometheus Operator defines them (names only: their schemas are the operator's)
    for (const kind of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule']) {
      const plural = `${kind.toLowerCase()}s`;
      plane.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${plural}.monitoring.coreos.com` },
        spec: {
          group: 'monitoring.coreos.com',
          scope: 'Namespaced',
          names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
        },
      }));
    }
    await plane.ensureNamespace(namespace);
    // the existing service account the third value set names
    plane.kubectl(['create', 'serviceaccount', 'node-agents', '-n', namespace]);
    const valuesFile = (values: Record<string, unknown>): string => {
      const file = path.join(work, `values-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, JSON.stringify(values));
      return file;
    };
    const [first, ...others] = Object.entries(VALUE_SETS);
    const install = plane.run('helm', ['install', release, CHART, '-n', namespace, '-f', valuesFile(first[1])]);
    expect(install.status, install.stderr).toBe(0);
    expect(plane.kubectl(['get', 'daemonset', '-n', namespace, '-o', 'name']).trim()).toMatch(/^daemonset\.apps\//);
    for (const [name, values] of others) {
      const upgrade = plane.run('helm', ['upgrade', release, CHART, '-n', namespace, '-f', valuesFile(values)]);
      expect(upgrade.status, `${name}: ${upgrade.stderr}`).toBe(0);
    }
    const status = plane.run('helm', ['status', release, '-n', namespace, '-o', 'json']);
    expect((JSON.parse(status.stdout) as { version: number; info: { status: string } })).toMatchObject({ version: 1 + others.length, info: { status: 'deployed' } });
    const uninstall = plane.run('helm', ['uninstall', release, '-n', namespace, '--wait']);
    expect(uninstall.status, uninstall.stderr).toBe(0);
    const left = plane.kubectl(['get', 'daemonsets,configmaps,services,serviceaccounts,roles,rolebindings,networkpolicies,servicemonitors,podmonitors,prometheusrules', '-n', namespace, '-l', `app.kubernetes.io/instance=${release}`, '-o', 'name']);
    expect(left.trim()).toBe('');
    const roles = plane.kubectl(['get', 'clusterroles,clusterrolebindings', '-l', `app.kubernetes.io/instance=${release}`, '-o', 'name']);
    expect(roles.trim()).toBe('');
  }, 240_000);

  it('the agent as the DaemonSet runs it: in-cluster service account, this node\'s pods only, each bind with its pod\'s resource from real workload objects', async () => {
    await mountServiceAccount();
    // a Deployment and its ReplicaSet, as the controller manager would have made them
    await plane.ensureNamespace('shop');
    const deployment = await plane.ok('POST', '/apis/apps/v1/namespaces/shop/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'cart', labels: { app: 'cart' } },
      spec: { selector: { matchLabels: { app: 'cart' } }, template: { metadata: { labels: { app: 'cart' } }, spec: { containers: [{ name: 'app', image: 'registry.example:5000/shop/cart:1.4.2' }] } } },
    });
    const hash = '5d8f9c7b6';
    const replicaSet = await plane.ok('POST', '/apis/apps/v1/namespaces/shop/replicasets', {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `cart-${hash}`,
        labels: { app: 'cart', 'pod-template-hash': hash },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'cart', uid: (deployment.metadata as { uid: string }).uid, controller: true }],
      },
      spec: { selector: { matchLabels: { app: 'cart', 'pod-template-hash': hash } }, template: { metadata: { labels: { app: 'cart', 'pod-template-hash': hash } }, spec: { containers: [{ name: 'app', image: 'registry.example:5000/shop/cart:1.4.2' }] } } },
    });
    const cart: PodSpec = {
      namespace: 'shop',
      name: `cart-${hash}-x7k2p`,
      nodeName: NODE,
      labels: { app: 'cart', team: 'payments', 'pod-template-hash': hash },
      annotations: { 'resource.opentelemetry.io/service.namespace': 'commerce' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `cart-${hash}`, uid: (replicaSet.metadata as { uid: string }).uid, controller: true }],
      containers: [{ name: 'app', id: containerId(1), image: 'registry.example:5000/shop/cart:1.4.2', imageID: `registry.example:5000/shop/cart@sha256:${'a'.repeat(64)}` }],
    };
    const pod = await plane.makePod(cart);
    // a pod of another node, with a container id the agent could resolve if it were told of it
    const elsewhere = await plane.makePod({ namespace: 'shop', name: 'cart-other-node', nodeName: 'node-b', labels: { app: 'cart' }, containers: [{ name: 'app', id: containerId(2), image: 'registry.example:5000/shop/cart:1.4.2' }] });
    const { base } = await startInCluster();
    await knownPods(base, 1, 'the agent to know this node\'s pod');
    expect(logLines(agent!).map((l) => l.msg).join('\n')).not.toMatch(/cannot watch|pod watch failed/);

    const resource = await bindIn(containerCgroup(pod.uid, containerId(1)));
    expect(resource).toMatchObject({
      'k8s.node.name': NODE,
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': cart.name,
      'k8s.pod.uid': pod.uid,
      'k8s.container.name': 'app',
      'container.id': containerId(1),
      'k8s.replicaset.name': `cart-${hash}`,
      'k8s.deployment.name': 'cart',
      'k8s.pod.label.app': 'cart',
      'k8s.pod.label.team': 'payments',
      'service.name': 'cart',
      'service.namespace': 'commerce',
      'service.version': '1.4.2',
      'service.instance.id': `shop.${cart.name}.app`,
      'container.image.name': 'registry.example:5000/shop/cart',
      'container.image.tags': ['1.4.2'],
      'container.image.repo_digests': [`registry.example:5000/shop/cart@sha256:${'a'.repeat(64)}`],
      'container.runtime.name': 'containerd',
    });
    // the other node's pod was never delivered: its container's bind is the cgroup's, not a pod's
    const other = await bindIn(containerCgroup(elsewhere.uid, containerId(2)));
    expect(other).not.toHaveProperty('k8s.pod.name');

    // deleted and made again under the same name: a new UID, a new container, resolved to the new pod
    await plane.deletePod('shop', cart.name);
    const again = await plane.makePod({ ...cart, containers: [{ ...cart.containers[0], id: containerId(3) }] });
    expect(again.uid).not.toBe(pod.uid);
    // both known (the deleted one for its grace period, for the last binds of its exiting containers)
    await knownPods(base, 2, 'the agent to know the new pod');
    const renewed = await bindIn(containerCgroup(again.uid, containerId(3)));
    expect(renewed).toMatchObject({ 'k8s.pod.name': cart.name, 'k8s.pod.uid': again.uid, 'container.id': containerId(3), 'service.name': 'cart' });
    const late = await bindIn(containerCgroup(pod.uid, containerId(1)));
    expect(late).toMatchObject({ 'k8s.pod.name': cart.name, 'k8s.pod.uid': pod.uid, 'container.id': containerId(1) });
    await plane.deletePod('shop', cart.name);
    await plane.deletePod('shop', elsewhere.name);
  }, 240_000);

  const churnPod = (name: string, n: number): PodSpec => ({
    namespace: 'churn',
    name,
    nodeName: NODE,
    labels: { app: name },
    containers: [{ name: 'app', id: containerId(n), image: `registry.example/churn/${name}:1.0.${n}` }],
  });

  it('its watch behind while etcd compacts the history and kube-apiserver restarts, then etcd restarted, all under a bind flood: a relist (410), tracing goes on with the books exact, and the right pods at the end', async () => {
    await mountServiceAccount();
    const kept = await plane.makePod(churnPod('kept', 10));
    const doomed = await plane.makePod(churnPod('doomed', 11));
    const { base } = await startInCluster({ BINDSNOOP_KUBERNETES_API_RESTART_DELAY_MILLIS: '200' });
    await knownPods(base, 2, 'the agent to know both pods');
    const flood = runBindsAsync(['--netns', '--uid', String(OWN_UID), '--repeat', '50000', '--rate', '2500', 'tcp,4,127.0.0.1,0']);
    flood.catch(() => undefined); // awaited below; a failure before that is the test's
    // the agent stops reading: its watch falls behind while a pod goes, another comes, and etcd compacts its history
    agent!.proc.kill('SIGSTOP');
    try {
      await plane.deletePod('churn', 'doomed');
      const born = await plane.makePod(churnPod('born', 12));
      await plane.compact();
      await plane.restartApiserver();
      agent!.proc.kill('SIGCONT');
      await waitUntil('the watch to find its history gone and list again', async () => failures(await scrape(base), 'expired') >= 1, scaledMillis(30_000)).catch((e: Error) => {
        throw new Error(`${e.message}; the agent said:\n${agent?.stderr.slice(-4000)}`);
      });
      // one episode told: its first failure (the connection cut), then its end
      await told(/Kubernetes pod watch recovered after \d+ failed attempts/, 'the watch to recover');
      expect(await bindIn(containerCgroup(born.uid, containerId(12)))).toMatchObject({ 'k8s.pod.name': 'born', 'k8s.pod.uid': born.uid, 'service.version': '1.0.12' });
      expect(await bindIn(containerCgroup(kept.uid, containerId(10)))).toMatchObject({ 'k8s.pod.name': 'kept', 'k8s.pod.uid': kept.uid });
      // the pod deleted while the agent was behind is known as deleted (kept for its grace period): its last binds still named
      expect(await bindIn(containerCgroup(doomed.uid, containerId(11)))).toMatchObject({ 'k8s.pod.name': 'doomed', 'k8s.pod.uid': doomed.uid });

      // etcd down for two seconds and back: kube-apiserver and the agent's watch come back, a pod made after is known
      await plane.restartEtcd(2000);
      const late = await plane.makePod(churnPod('late', 13));
      expect(await bindIn(containerCgroup(late.uid, containerId(13)))).toMatchObject({ 'k8s.pod.name': 'late', 'k8s.pod.uid': late.uid });
      await flood;
    } finally {
      agent!.proc.kill('SIGCONT');
    }
    // every bind of the flood seen and accounted for, from one scrape, once what waits has gone out
    const drained = await waitUntil('the export to drain', async () => {
      const b = await books(base);
      return b.pending === 0 ? b : undefined;
    }, scaledMillis(30_000));
    expect(drained.exported + drained.lost).toBe(drained.seen);
    const flooded = collector!.records().filter((c) => plainAttributes(c.record.attributes)['process.real_user.id'] === OWN_UID).length;
    expect(flooded).toBeGreaterThan(0);
    expect(flooded).toBeLessThanOrEqual(50_000);
    // a good citizen through all that: since kube-apiserver came back (its counters start again), a list after the
    // 410 and at most one more after etcd's restart; a few watches, backed off (the test itself lists no pods)
    const served = await apiRequests();
    expect(served.list).toBeGreaterThanOrEqual(1);
    expect(served.list).toBeLessThanOrEqual(3);
    expect(served.watch).toBeLessThanOrEqual(8);
    for (const name of ['kept', 'born', 'late']) await plane.deletePod('churn', name);
  }, 240_000);

  it('denials are clear: a role without watch, then a revoked token: a line naming each, tracing goes on, the failure in /metrics, and resolution back once fixed without a restart', async () => {
    // a service account whose role can list pods but not watch them
    plane.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'limited', namespace: NAMESPACE } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bindsnoop-limited' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'bindsnoop-limited' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bindsnoop-limited' }, subjects: [{ kind: 'ServiceAccount', name: 'limited', namespace: NAMESPACE }] },
      ],
    }));
    // its token bound to a Secret: deleting the Secret revokes it
    const secret = await plane.ok('POST', `/api/v1/namespaces/${NAMESPACE}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'token-anchor' } });
    const bound = await plane.ok('POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/limited/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: 'token-anchor', uid: (secret.metadata as { uid: string }).uid } },
    });
    await mountServiceAccount((bound.status as { token: string }).token);
    const first = await plane.makePod(churnPod('listed', 20));
    const { base } = await startInCluster({ BINDSNOOP_KUBERNETES_API_RESTART_DELAY_MILLIS: '200' });
    const forbidden = /Kubernetes pod watch failed \(HTTP 403: pods is forbidden: User "system:serviceaccount:bindsnoop:limited" cannot watch resource "pods" in API group "" at the cluster scope\)/;
    await told(forbidden, 'the denial to be told');
    // one line for the episode, however often it is retried
    await new Promise((r) => setTimeout(r, 2000));
    expect(messages().match(new RegExp(forbidden.source, 'g'))).toHaveLength(1);
    expect(failures(await scrape(base), 'http')).toBeGreaterThanOrEqual(2);
    // tracing goes on: a pod's bind still goes out (named from what the list brought)
    expect(await bindIn(containerCgroup(first.uid, containerId(20)))).toMatchObject({ 'k8s.pod.uid': first.uid });

    // the role fixed: the watch starts, and a pod made after is known without a restart
    plane.kubectl(['patch', 'clusterrole', 'bindsnoop-limited', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/rules/0/verbs', value: ['list', 'watch'] }])]);
    await told(/Kubernetes pod watch recovered after \d+ failed attempts/, 'the watch to recover', 0, 60_000);
    const watched = await plane.makePod(churnPod('watched', 21));
    expect(await bindIn(containerCgroup(watched.uid, containerId(21)))).toMatchObject({ 'k8s.pod.name': 'watched', 'k8s.pod.uid': watched.uid });

    // the token revoked (its Secret deleted) and the connection cut: the authentication failure told, tracing goes on
    await plane.ok('DELETE', `/api/v1/namespaces/${NAMESPACE}/secrets/token-anchor`);
    const before = agent!.stderr.length;
    await plane.restartApiserver();
    await told(/Kubernetes pod watch failed \(HTTP 401: Unauthorized\)/, 'the refused token to be told', before, 30_000);
    const unresolved = await plane.makePod(churnPod('unseen', 22));
    const named = await bindIn(containerCgroup(unresolved.uid, containerId(22)));
    expect(named['container.id']).toBe(containerId(22));
    expect(named).not.toHaveProperty('k8s.pod.name');
    // a new token where the kubelet writes it: taken at the next retry, and the pods known again
    await mountServiceAccount(await plane.serviceAccountToken(NAMESPACE, 'limited'));
    await told(/Kubernetes pod watch recovered/, 'the watch to recover with the new token', before, 60_000);
    expect(await bindIn(containerCgroup(unresolved.uid, containerId(22)))).toMatchObject({ 'k8s.pod.name': 'unseen' });
    for (const name of ['listed', 'watched', 'unseen']) await plane.deletePod('churn', name);
  }, 240_000);

  it('a good API citizen at scale: 110 pods on its node among 5,000, known at start from one list; at steady state nothing but its watch; a storm of 20 agents makes one list and one watch each, from the API server\'s cache', async () => {
    await mountServiceAccount();
    await plane.ensureNamespace('scale');
    const nodes = ['node-a', ...Array.from({ length: 49 }, (_, i) => `node-${i + 2}`)];
    // 5,000 pods, 110 on this node and 100 on each other node (the kubelet's default limit is 110)
    const specs: PodSpec[] = [];
    for (let i = 0; i < 5000; i++) {
      const node = i < 110 ? NODE : nodes[1 + ((i - 110) % 49)];
      specs.push({ namespace: 'scale', name: `web-${i}`, nodeName: node, labels: { app: 'web', shard: String(i % 7) }, containers: [{ name: 'app', id: containerId(100_000 + i), image: `registry.example/scale/web:2.${i % 5}` }] });
    }
    const made: (MadePod | undefined)[] = new Array(specs.length);
    let next = 0;
    // a few writers at once, as a controller would make them; the status only where a kubelet would write it here
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < specs.length) {
        const i = next++;
        made[i] = specs[i].nodeName === NODE ? await plane.makePod(specs[i]) : await plane.makePodOnly(specs[i]);
      }
    }));
    const before = await apiRequests();
    const started = Date.now();
    const { agent: only, base } = await startInCluster();
    await knownPods(base, 110, 'the agent to know its node\'s 110 pods');
    const knownAfterMillis = Date.now() - started;
    const resident = residentKiB(only);
    // every pod of this node resolved by one bind from its container's cgroup
    const sample = made[42]!;
    expect(await bindIn(containerCgroup(sample.uid, containerId(100_042)))).toMatchObject({ 'k8s.pod.name': 'web-42', 'k8s.pod.label.app': 'web', 'service.version': '2.2' });
    const atStart = await apiRequests();
    expect(atStart.list - before.list).toBe(1);
    expect(atStart.openWatches - before.openWatches).toBe(1);
    // steady state: no request but the watch that stays open
    await new Promise((r) => setTimeout(r, STEADY_MILLIS));
    const steady = await apiRequests();
    expect(steady.list - atStart.list).toBe(0);
    // its watch renewed at most once each 5 minutes (a timeout of 5 to 10 minutes, as client-go asks for)
    expect(steady.watch - atStart.watch).toBeLessThanOrEqual(Math.floor(STEADY_MILLIS / 300_000));
    expect(steady.openWatches - before.openWatches).toBe(1);
    // the server's bookmarks keep a quiet watch alive: never renewed as idle (watchIdleMillis: 5 minutes)
    expect(sampleOf(await scrape(base), 'bindsnoop_kubernetes_watch_idle_renewals_total')).toBe(0);
    console.log(`[kubernetes] 110 of 5,000 pods known ${knownAfterMillis} ms after start; agent resident ${Math.round(resident / 1024)} MiB; in ${STEADY_MILLIS / 1000} s of steady state: ${steady.list - atStart.list} lists, ${steady.watch - atStart.watch} watches ended`);

    // 500 updates a second to the node's pods for 10 s: the watch keeps up (a pod made right after is known at once),
    // nothing is rejected or failed, and the agent stays within the DaemonSet's memory limit
    const churnStarted = Date.now();
    let updates = 0;
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; Date.now() - churnStarted < 10_000; i += 8) {
        const due = churnStarted + (updates * 1000) / 500;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        updates++;
        await plane.ok('PATCH', `/api/v1/namespaces/scale/pods/web-${i % 110}`, { metadata: { annotations: { 'example.com/revision': String(i) } } }, 'application/merge-patch+json');
      }
    }));
    const rate = Math.round((updates * 1000) / (Date.now() - churnStarted));
    const after = await plane.makePod({ namespace: 'scale', name: 'after-churn', nodeName: NODE, containers: [{ name: 'app', id: containerId(99_999), image: 'registry.example/scale/web:3.0' }] });
    expect(await bindIn(containerCgroup(after.uid, containerId(99_999)))).toMatchObject({ 'k8s.pod.name': 'after-churn' });
    const churned = await scrape(base);
    expect(sampleOf(churned, 'bindsnoop_pods_known')).toBe(111);
    expect(sampleOf(churned, 'bindsnoop_kubernetes_events_rejected_total')).toBe(0);
    expect(churned).not.toMatch(/^bindsnoop_kubernetes_api_failures_total\{/m);
    expect(residentKiB(only)).toBeLessThan(320 * 1024);
    console.log(`[kubernetes] ${updates} pod updates at ${rate}/s: agent resident ${Math.round(residentKiB(only) / 1024)} MiB after`);
    await only.stop('SIGTERM');
    agent = undefined;

    // a restart storm: 20 agents of 20 nodes started together
    const stormBefore = await apiRequests();
    const stormStarted = Date.now();
    const storm = await Promise.all(nodes.slice(0, STORM).map((node, i) => startInCluster({ NODE_NAME: node, BINDSNOOP_KUBERNETES_PIN_DIR: `${pinDir}-${i}` }, 120_000)));
    await Promise.all(
      storm.map(({ base: b, agent: a }, i) =>
        waitUntil(`agent ${i} to know its node's pods`, async () => sampleOf(await scrape(b), 'bindsnoop_pods_known') === (i === 0 ? 111 : 100), scaledMillis(60_000)).catch(async (e: Error) => {
          const text = await scrape(b);
          throw new Error(`${e.message}: it knows ${sampleOf(text, 'bindsnoop_pods_known')}; ${text.split('\n').filter((l) => l.startsWith('bindsnoop_kubernetes_')).join('; ')}; it said:\n${a.stderr.slice(-3000)}`);
        }),
      ),
    );
    const stormAfter = await apiRequests();
    console.log(`[kubernetes] ${STORM} agents started together: every one knew its node's pods ${Date.now() - stormStarted} ms after; ${stormAfter.list - stormBefore.list} lists (${stormAfter.cacheLists - stormBefore.cacheLists} from the watch cache), ${stormAfter.openWatches - stormBefore.openWatches} watches open`);
    expect(stormAfter.list - stormBefore.list).toBe(STORM);
    expect(stormAfter.openWatches - stormBefore.openWatches).toBe(STORM);
    // served from the watch cache: no list of pods went through to etcd
    expect(stormAfter.cacheLists - stormBefore.cacheLists).toBe(STORM);
    expect(stormAfter.etcdLists - stormBefore.etcdLists).toBe(0);
  }, 900_000);

  it('its DaemonSet deleted (kubectl delete -k, helm uninstall): the agent says so, and its stop removes the pinned set; nothing stays attached or pinned', async () => {
    await mountServiceAccount();
    const { agent: a } = await startInCluster();
    const held = a.held();
    const handoverDir = `${pinDir}-handover`;
    expect(readdirSync(handoverDir).filter((f) => f.startsWith('link-')).length).toBe(held.links.length);
    const from = a.stderr.length;
    plane.kubectl(['delete', 'daemonset', 'bindsnoop', '-n', NAMESPACE, '--wait=false']);
    await told(new RegExp(`the DaemonSet ${NAMESPACE}/bindsnoop is deleted: no agent will take over`), 'the deletion to be seen', from);
    expect((await a.stop('SIGTERM')).code).toBe(0);
    expect(logLines(a).find((l) => l.msg === 'stopped')).toMatchObject({ handover: { removed: true } });
    expect(existsSync(handoverDir)).toBe(false);
    await expectReleased(held);
    // the base applied again, as it was
    plane.kubectl(['apply', '--server-side', '-f', '-'], plane.kubectl(['kustomize', path.join(ROOT, 'k8s')]));
  }, 120_000);
});
