import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_LOGGED_ERROR_CHARS, PodWatch } from '../../src/kubernetes/pod-watch';
import { FakeKubeApi, type FakePod } from '../helpers/kube-api';
import { waitUntil } from '../helpers/wait';

/** @kubernetes/client-node's list+watch against a local API server speaking the real protocol. */
let api: FakeKubeApi | undefined;
let watch: PodWatch | undefined;
let kubeDir: string | undefined;
afterEach(async () => {
  if (kubeDir) rmSync(kubeDir, { recursive: true, force: true });
  kubeDir = undefined;
  await watch?.stop();
  await api?.stop();
  watch = undefined;
  api = undefined;
});

const hex = (c: string): string => c.repeat(64);
const pod = (n: number, over: Partial<FakePod> = {}): FakePod => ({
  uid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  name: `cart-5d8f9c7b6-${n}`,
  namespace: 'shop',
  nodeName: 'node-a',
  labels: { app: 'cart', 'pod-template-hash': '5d8f9c7b6' },
  ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'cart-5d8f9c7b6', uid: 'rs-1', controller: true }],
  containers: [{ name: 'app', id: hex(String(n % 10)) }],
  ...over,
});

const until = (what: string, ok: () => boolean, timeoutMs?: number): Promise<true> => waitUntil(what, ok, timeoutMs) as Promise<true>;

async function started(graceMillis = 60_000, watchIdleMillis = 300_000): Promise<{ api: FakeKubeApi; watch: PodWatch; warnings: string[] }> {
  api = await FakeKubeApi.start();
  const warnings: string[] = [];
  kubeDir = mkdtempSync(path.join(tmpdir(), 'kube-'));
  const kubeconfig = api.writeKubeconfig(path.join(kubeDir, 'config'));
  watch = new PodWatch({ kubeconfig, nodeName: 'node-a', graceMillis, restartDelayMillis: 50, watchIdleMillis, warn: (l) => warnings.push(l) });
  return { api, watch, warnings };
}

describe('watching this node\'s pods', () => {
  it('lists and watches only this node\'s pods, with owners, labels and container ids', async () => {
    const { api, watch } = await started();
    api.addPod(pod(1));
    api.addPod(pod(2, { nodeName: 'node-b' }));
    await watch.start();
    await until('the first pod', () => watch.pod(pod(1).uid) !== undefined);
    expect(watch.pod(pod(2).uid)).toBeUndefined();
    expect(api.requests.every((r) => r.query.get('fieldSelector') === 'spec.nodeName=node-a')).toBe(true);
    expect(api.requests[0].authorization).toBe('Bearer test-token');
    const p = watch.pod(pod(1).uid)!;
    expect(p).toMatchObject({ namespace: 'shop', name: 'cart-5d8f9c7b6-1', labels: { app: 'cart' } });
    expect(p.owners).toEqual({ 'k8s.replicaset.name': 'cart-5d8f9c7b6', 'k8s.deployment.name': 'cart' });
    expect(p.containers.get(hex('1'))).toBe('app');
    // then streamed: added, modified (a new container id after a restart), deleted
    api.addPod(pod(3, { name: 'web-0', labels: {}, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'ss', controller: true }] }));
    await until('the added pod', () => watch.pod(pod(3).uid) !== undefined);
    expect(watch.pod(pod(3).uid)!.owners).toEqual({ 'k8s.statefulset.name': 'web' });
    api.modifyPod(pod(1, { containers: [{ name: 'app', id: hex('f') }] }));
    await until('the modified pod', () => watch.pod(pod(1).uid)!.containers.get(hex('f')) === 'app');
    api.bookmark();
    api.deletePod(pod(3).uid);
    // deleted, but remembered for the grace period
    await new Promise((r) => setTimeout(r, 200));
    expect(watch.pod(pod(3).uid)?.name).toBe('web-0');
  });

  it('forgets a deleted pod once its grace period is over', async () => {
    const { api, watch } = await started(100);
    api.addPod(pod(4));
    await watch.start();
    await until('the pod', () => watch.pod(pod(4).uid) !== undefined);
    api.deletePod(pod(4).uid);
    await until('the pod to be forgotten', () => watch.pod(pod(4).uid) === undefined, 3000);
  });

  it('re-lists after 410 Gone and ends up with exactly the current pods', async () => {
    const { api, watch } = await started(0);
    api.addPod(pod(5));
    api.addPod(pod(6));
    await watch.start();
    await until('two pods', () => watch.podCount() === 2);
    const listsBefore = api.listCount();
    // history is compacted while the agent is not watching: a pod goes, one comes
    api.compact();
    api.deletePod(pod(5).uid);
    api.addPod(pod(7));
    await until('the re-list', () => api.listCount() > listsBefore && watch.pod(pod(7).uid) !== undefined);
    await until('the vanished pod to go', () => watch.pod(pod(5).uid) === undefined);
    expect(watch.pod(pod(6).uid)?.name).toBe(pod(6).name);
  });

  it('resumes from its last version when the server closes the watch', async () => {
    const { api, watch } = await started();
    await watch.start();
    await until('a watch', () => api.watchCount() === 1);
    api.closeWatches();
    await until('a new watch', () => api.watchCount() === 1);
    api.addPod(pod(8));
    await until('the pod', () => watch.pod(pod(8).uid) !== undefined);
    expect(api.listCount()).toBe(1); // no re-list needed
  });

  it('starts again after a failed watch, and says so', async () => {
    const { api, watch, warnings } = await started();
    api.failNextWatches(500, 503);
    await watch.start();
    api.addPod(pod(9));
    await until('recovery', () => watch.pod(pod(9).uid) !== undefined);
    expect(watch.errorCount()).toBeGreaterThanOrEqual(2);
    // backing off: 50 ms, then twice that, each with up to 20% jitter
    const delays = warnings.map((w) => Number(/^Kubernetes pod watch failed \(HTTP 50[03]\); retrying in (\d+) ms$/.exec(w)?.[1]));
    expect(delays[0]).toBeGreaterThanOrEqual(40);
    expect(delays[0]).toBeLessThanOrEqual(60);
    expect(delays[1]).toBeGreaterThanOrEqual(80);
    expect(delays[1]).toBeLessThanOrEqual(120);
  });

  it('logs a refused list (403 with a 2 MB body) as one short line per retry, backing off', async () => {
    const { api, watch, warnings } = await started();
    const huge = JSON.stringify({ kind: 'Status', code: 403, message: 'pods is forbidden: ' + 'x'.repeat(2_000_000) });
    api.failNextLists(3, 403, huge);
    await watch.start();
    api.addPod(pod(4));
    await until('recovery', () => watch.pod(pod(4).uid) !== undefined, 10_000);
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    for (const w of warnings) {
      expect(w.length).toBeLessThan(MAX_LOGGED_ERROR_CHARS + 100);
      expect(w).toMatch(/^Kubernetes pod watch failed \((HTTP 403|.*\(\d+ characters\))\); retrying in \d+ ms$/);
    }
    expect(warnings.join('\n').length).toBeLessThan(5000);
  });

  it('a watch kept open but silent is made again after watchIdleMillis, and catches up', async () => {
    const { api, watch, warnings } = await started(60_000, 400);
    await watch.start();
    api.addPod(pod(1));
    await until('the first pod', () => watch.pod(pod(1).uid) !== undefined);
    api.silenceWatches();
    api.addPod(pod(2));
    await until('the pod the silent watch never brought', () => watch.pod(pod(2).uid) !== undefined, 5000);
    expect(warnings.some((w) => /^Kubernetes pod watch silent for 400 ms; watching again$/.test(w))).toBe(true);
  });

  it.each<[string, (api: FakeKubeApi) => void, RegExp]>([
    ['401 Unauthorized', (api) => api.failNextLists(2, 401), /\(HTTP 401\)/],
    ['a reply that is not the API (garbage)', (api) => api.garbageLists(2), /failed \(/],
  ])('a list answered with %s is retried with backoff, and the watch recovers', async (_what, fault, line) => {
    const { api, watch, warnings } = await started();
    fault(api);
    await watch.start();
    api.addPod(pod(3));
    await until('recovery', () => watch.pod(pod(3).uid) !== undefined, 10_000);
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    for (const w of warnings) expect(w).toMatch(line);
  });

  it('an API server that goes away is retried until it is back, without piling up watches', async () => {
    const first = await started();
    const { watch, warnings } = first;
    await watch.start();
    first.api.addPod(pod(5));
    await until('the pod', () => watch.pod(pod(5).uid) !== undefined);
    const port = Number(new URL(first.api.url).port);
    await first.api.stop();
    await until('the failure to be noticed', () => warnings.length >= 2, 10_000);
    const back = await FakeKubeApi.start(port);
    api = back; // stopped after the test
    // resource versions go on where they were (this stand-in starts from 0 again: one event on another node first)
    back.addPod(pod(7, { nodeName: 'node-b' }));
    back.addPod(pod(6));
    await until('the pod after the server came back', () => watch.pod(pod(6).uid) !== undefined, 15_000);
    expect(back.watchCount()).toBe(1);
  });
});
