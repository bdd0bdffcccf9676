import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { accessFromKubeconfig, loadApiAccess } from '../../src/kubernetes/api-access';
import type { ServerResponse } from 'node:http';
import { MAX_LOGGED_ERROR_CHARS, MAX_WATCH_EVENT_BYTES, MAX_WATCH_EVENTS_PER_SECOND, PodWatch, type PodWatchOptions } from '../../src/kubernetes/pod-watch';
import { FakeKubeApi, podObject, type FakePod, type RawHandler } from '../helpers/kube-api';
import { waitUntil } from '../helpers/wait';

/** The agent's list+watch against a local API server speaking the real protocol. */
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

async function started(graceMillis = 60_000, watchIdleMillis = 300_000, over: Partial<PodWatchOptions> = {}): Promise<{ api: FakeKubeApi; watch: PodWatch; warnings: string[] }> {
  api = await FakeKubeApi.start();
  const warnings: string[] = [];
  kubeDir = mkdtempSync(path.join(tmpdir(), 'kube-'));
  const kubeconfig = api.writeKubeconfig(path.join(kubeDir, 'config'));
  watch = new PodWatch({
    access: loadApiAccess(kubeconfig),
    nodeName: 'node-a',
    graceMillis,
    restartDelayMillis: 50,
    watchIdleMillis,
    listTimeoutMillis: 60_000,
    maxListBytes: 64 * 1024 * 1024,
    maxPods: 1024,
    labelKeys: new Set(['app', 'version', 'team']),
    warn: (l) => warnings.push(l),
    ...over,
  });
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

  it('starts again after a failed watch, backing off, and says so once per episode', async () => {
    const { api, watch, warnings } = await started();
    api.failNextWatches(500, 503, 500);
    await watch.start();
    await until('the failed watches', () => api.watchRequests() >= 4);
    api.addPod(pod(9));
    await until('recovery', () => watch.pod(pod(9).uid) !== undefined);
    expect(watch.counts().failures.get('http')).toBe(3);
    // backing off: 50 ms, then twice that, then four times, each with up to 20% jitter
    const at = api.requests.filter((r) => r.query.get('watch') === 'true').map((r) => r.at);
    const gaps = at.slice(1, 4).map((t, i) => t - at[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(40);
    expect(gaps[1]).toBeGreaterThanOrEqual(80);
    expect(gaps[2]).toBeGreaterThanOrEqual(160);
    // one line when the episode starts, one when it is over (a watch open for a second)
    await until('the end of the episode', () => warnings.length === 2);
    expect(warnings).toEqual([
      'Kubernetes pod watch failed (HTTP 500: {"kind":"Status","code":500}); retrying with backoff from 50 ms',
      'Kubernetes pod watch recovered after 3 failed attempts',
    ]);
  });

  it('logs a refused list (403 with a 2 MB body) as one short line for the episode, backing off', async () => {
    const { api, watch, warnings } = await started();
    const huge = JSON.stringify({ kind: 'Status', code: 403, message: 'pods is forbidden: ' + 'x'.repeat(2_000_000) });
    api.failNextLists(3, 403, huge);
    await watch.start();
    api.addPod(pod(4));
    await until('recovery', () => watch.pod(pod(4).uid) !== undefined, 10_000);
    await until('the end of the episode', () => warnings.length === 2);
    expect(api.listCount()).toBe(4);
    expect(watch.counts().failures.get('http')).toBe(3);
    expect(warnings[0]).toMatch(/^Kubernetes pod watch failed \(HTTP 403: pods is forbidden: x+\.\.\. \(\d+ characters\)\); retrying with backoff from 50 ms$/);
    expect(warnings[0].length).toBeLessThan(MAX_LOGGED_ERROR_CHARS + 100);
    expect(warnings.slice(1)).toEqual(['Kubernetes pod watch recovered after 3 failed attempts']);
  });

  it('tells a refusal that comes in the middle of an episode of other failures, once, however often retried', async () => {
    const { api, watch, warnings } = await started();
    api.failNextWatches(500, 403, 403, 403, 500);
    await watch.start();
    api.addPod(pod(5));
    await until('recovery', () => watch.pod(pod(5).uid) !== undefined, 10_000);
    await until('the end of the episode', () => warnings.some((w) => w.startsWith('Kubernetes pod watch recovered')));
    expect(warnings).toEqual([
      'Kubernetes pod watch failed (HTTP 500: {"kind":"Status","code":500}); retrying with backoff from 50 ms',
      'Kubernetes pod watch failed (HTTP 403: {"kind":"Status","code":403}); retrying with backoff from 50 ms',
      'Kubernetes pod watch recovered after 5 failed attempts',
    ]);
  });

  it('a watch kept open but silent is made again after watchIdleMillis, and catches up, quietly: no failure, no line', async () => {
    const { api, watch, warnings } = await started(60_000, 400);
    await watch.start();
    api.addPod(pod(1));
    await until('the first pod', () => watch.pod(pod(1).uid) !== undefined);
    api.silenceWatches();
    api.addPod(pod(2));
    await until('the pod the silent watch never brought', () => watch.pod(pod(2).uid) !== undefined, 5000);
    // a quiet cluster's watch is renewed, not failed: counted apart, and nothing logged
    expect(watch.counts().idleRenewals).toBeGreaterThanOrEqual(1);
    expect(watch.errorCount()).toBe(0);
    expect(warnings).toEqual([]);
  });

  it.each<[string, (api: FakeKubeApi) => void, string, RegExp]>([
    ['401 Unauthorized', (api) => api.failNextLists(2, 401), 'http', /\(HTTP 401: /],
    ['a reply that is not the API (garbage)', (api) => api.garbageLists(2), 'malformed', /\(the reply is not a PodList: the reply is not a JSON object\)/],
  ])('a list answered with %s is retried with backoff, and the watch recovers', async (_what, fault, reason, line) => {
    const { api, watch, warnings } = await started();
    fault(api);
    await watch.start();
    api.addPod(pod(3));
    await until('recovery', () => watch.pod(pod(3).uid) !== undefined, 10_000);
    await until('the end of the episode', () => warnings.length === 2);
    expect(watch.counts().failures.get(reason as never)).toBe(2);
    expect(warnings[0]).toMatch(line);
    expect(warnings.slice(1)).toEqual(['Kubernetes pod watch recovered after 2 failed attempts']);
  });

  it('an API server that goes away is retried until it is back, without piling up watches', async () => {
    const first = await started();
    const { watch, warnings } = first;
    await watch.start();
    first.api.addPod(pod(5));
    await until('the pod', () => watch.pod(pod(5).uid) !== undefined);
    const port = Number(new URL(first.api.url).port);
    await first.api.stop();
    await until('the failure to be noticed', () => watch.errorCount() >= 2, 10_000);
    expect(warnings).toHaveLength(1);
    const back = await FakeKubeApi.start(port);
    api = back; // stopped after the test
    // resource versions go on where they were (this stand-in starts from 0 again: one event on another node first)
    back.addPod(pod(7, { nodeName: 'node-b' }));
    back.addPod(pod(6));
    await until('the pod after the server came back', () => watch.pod(pod(6).uid) !== undefined, 15_000);
    expect(back.watchCount()).toBe(1);
  });
});

/** Writes these watch lines and keeps the watch open (as a server streaming events does). */
const streaming =
  (...lines: string[]) =>
  (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/json' });
    for (const l of lines) res.write(l + '\n');
  };

describe('a hostile API server', () => {
  it.each<[string, unknown]>([
    ['a null object', { type: 'ADDED', object: null }],
    ['an object without metadata', { type: 'MODIFIED', object: { kind: 'Pod' } }],
    ['an empty object', { type: 'DELETED', object: {} }],
    ['a bookmark without a version', { type: 'BOOKMARK', object: null }],
    ['an unknown type', { type: 'EXPLODED', object: {} }],
    ['no type', { object: {} }],
    ['a number', 42],
    ['null', null],
  ])('an event with %s is skipped and counted, and the watch goes on', async (_what, event) => {
    const { api, watch, warnings } = await started();
    api.rawNextWatches(streaming(JSON.stringify(event), 'not json {', JSON.stringify({ type: 'ADDED', object: podObject(pod(1), 2000) })));
    await watch.start();
    await until('the good event after the bad ones', () => watch.pod(pod(1).uid) !== undefined);
    expect(watch.counts().eventsRejected).toBe(2);
    expect(watch.errorCount()).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Kubernetes pod watch skipped an event \(.+\); skipped events are counted in bindsnoop_kubernetes_events_rejected_total$/);
  });

  it('a pod whose container statuses hold null, or whose labels are numbers, keeps what is right and counts the rest', async () => {
    const { api, watch } = await started();
    api.addPod(pod(2, { labels: { app: 'cart' }, rawMetadata: { labels: { app: 'cart', version: 3, team: { a: 1 } } }, rawStatus: { containerStatuses: [null, { name: 'app', containerID: `containerd://${hex('2')}` }] } }));
    await watch.start();
    await until('the pod', () => watch.pod(pod(2).uid) !== undefined);
    const p = watch.pod(pod(2).uid)!;
    expect(p.labels).toEqual({ app: 'cart' });
    expect([...p.containers]).toEqual([[hex('2'), 'app']]);
    expect(watch.counts().valuesRejected).toBe(3);
  });

  it.each<[string, RawHandler]>([
    ['items that are not a list', (res) => res.writeHead(200).end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '5' }, items: null }))],
    ['no resourceVersion', (res) => res.writeHead(200).end(JSON.stringify({ kind: 'PodList', items: [] }))],
    ['a JSON null', (res) => res.writeHead(200).end('null')],
    ['a body cut in the middle of a chunk', (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"kind":"PodList","items":[{"metadata":');
      setTimeout(() => res.socket?.destroy(), 20);
    }],
  ])('a first list with %s is retried with the backoff until one answers', async (_what, handler) => {
    const { api, watch } = await started();
    api.rawNextLists(handler, handler);
    api.addPod(pod(3));
    await watch.start();
    await until('the pod from the third list', () => watch.pod(pod(3).uid) !== undefined);
    expect(api.listCount()).toBe(3);
    expect(watch.errorCount()).toBe(2);
    expect(watch.isSynced()).toBe(true);
  });

  it('a list that never ends fails at listTimeoutMillis, and one past maxListBytes at once; both are retried', async () => {
    const { api, watch } = await started(60_000, 300_000, { listTimeoutMillis: 300, maxListBytes: 1024 * 1024 });
    const trickle: RawHandler = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"kind":"PodList","items":[');
      const t = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(t));
    };
    const flood: RawHandler = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"kind":"PodList","items":["');
      const chunk = 'x'.repeat(64 * 1024);
      const t = setInterval(() => res.write(chunk), 1);
      res.on('close', () => clearInterval(t));
    };
    api.rawNextLists(trickle, flood);
    api.addPod(pod(4));
    await watch.start();
    await until('the pod from the third list', () => watch.pod(pod(4).uid) !== undefined, 10_000);
    expect(watch.counts().failures.get('timeout')).toBe(1);
    expect(watch.counts().failures.get('too_large')).toBe(1);
  });

  it('a watch event past the event bound fails the watch, which is made again', async () => {
    const { api, watch } = await started();
    const huge: RawHandler = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"' + 'y'.repeat(MAX_WATCH_EVENT_BYTES) + '"}}}\n');
    };
    api.rawNextWatches(huge);
    await watch.start();
    await until('the watch after the huge event', () => api.watchCount() === 1 && watch.counts().failures.get('too_large') === 1);
    api.addPod(pod(5));
    await until('the pod', () => watch.pod(pod(5).uid) !== undefined);
  });

  it.each<[string, object, string, number]>([
    ['ERROR 500', { type: 'ERROR', object: { kind: 'Status', code: 500, message: 'internal error' } }, 'watch_error', 0],
    ['ERROR 410 Gone', { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }, 'expired', 1],
  ])('a server answering every watch with %s is backed off (no request storm), warned of once, and lists again on 410', async (_what, event, reason, relists) => {
    const { api, watch, warnings } = await started();
    api.rawEveryWatch((res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(event) + '\n'));
    await watch.start();
    await new Promise((r) => setTimeout(r, 3000));
    const watches = api.watchRequests();
    // 50 ms doubling: at most 7 attempts in 3 s (with 20% jitter); without backoff, thousands
    expect(watches).toBeGreaterThanOrEqual(4);
    expect(watches).toBeLessThanOrEqual(8);
    expect(watch.counts().failures.get(reason as never)).toBe(watches);
    // on 410 every failed watch lists again (client-go's relist); on other errors it watches again from where it was
    // (the list after the last failed watch may still be waiting for its backoff)
    expect(api.listCount()).toBeGreaterThanOrEqual(1 + relists * (watches - 1));
    expect(api.listCount()).toBeLessThanOrEqual(1 + relists * watches);
    expect(warnings).toHaveLength(1);
    api.rawEveryWatch(undefined);
    api.addPod(pod(6));
    await until('the pod once the server behaves', () => watch.pod(pod(6).uid) !== undefined, 10_000);
  });

  it('a watch the server ends at once with nothing is backed off too', async () => {
    const { api, watch } = await started();
    api.rawEveryWatch((res) => res.writeHead(200).end());
    await watch.start();
    await new Promise((r) => setTimeout(r, 2000));
    expect(api.watchRequests()).toBeLessThanOrEqual(7);
    expect(watch.counts().failures.get('short_watch')).toBe(api.watchRequests());
  });

  it('stopping while a list hangs ends at once and logs nothing', async () => {
    const { api, watch, warnings } = await started();
    api.rawNextLists((res) => res.writeHead(200).write('{'));
    await watch.start();
    await until('the list request', () => api.listCount() === 1);
    const t0 = Date.now();
    await watch.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(warnings).toEqual([]);
  });
});

describe('a hostile API server, bounded (the third probe)', () => {
  const bookmark = (rv: number): string => JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', metadata: { resourceVersion: String(rv) } } });
  const added = (p: FakePod, rv: number): string => JSON.stringify({ type: 'ADDED', object: podObject(p, rv) });

  it.each<[string, (n: number) => string]>([
    ['one BOOKMARK', (n) => bookmark(5000 + n)],
    ['one ADDED pod', (n) => added(pod(100 + n), 5000 + n)],
  ])('a server answering each watch with %s and closing it is backed off, counted and warned of once (no watch storm)', async (_what, line) => {
    const { api, watch, warnings } = await started();
    let n = 0;
    api.rawEveryWatch((res) => res.writeHead(200, { 'content-type': 'application/json' }).end(line(n++) + '\n'));
    await watch.start();
    await new Promise((r) => setTimeout(r, 3000));
    const watches = api.watchRequests();
    // 50 ms doubling with 20% jitter: at most 7 watches in 3 s; without backoff, about 23 a second
    expect(watches).toBeGreaterThanOrEqual(4);
    expect(watches).toBeLessThanOrEqual(8);
    expect(watch.counts().failures.get('short_watch')).toBe(watches);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Kubernetes pod watch failed \(the watch ended after \d+ ms \(1 events\)\); retrying with backoff from 50 ms$/);
    // the events it brought still count: the watch goes on from the last version, and a pod it carried is known
    api.rawEveryWatch(undefined);
  });

  it('new pods past maxPods are refused and counted with one line; a deleted one makes room; the table never grows past the bound', async () => {
    const { api, watch, warnings } = await started(60_000, 300_000, { maxPods: 50 });
    const lines = Array.from({ length: 200 }, (_, n) => added(pod(1000 + n), 6000 + n));
    api.rawNextWatches(streaming(...lines));
    await watch.start();
    await until('every event read', () => watch.counts().podsRefused === 150);
    expect(watch.podCount()).toBe(50);
    expect(warnings).toEqual(['Kubernetes pod watch knows 50 pods (kubernetes.api.maxPods): new pods are not kept, and their binds are named from the log tree; refused pods are counted in bindsnoop_kubernetes_pods_refused_total']);
    // pods already known are still updated, and a deleted one (in its grace period) gives way to a new pod
    expect(watch.pod(pod(1000).uid)).toBeDefined();
    expect(watch.pod(pod(1199).uid)).toBeUndefined();
  });

  it('keeps only what naming reads of a pod: the configured labels, resource annotations within bounds; megabytes of the rest cost nothing', async () => {
    const { api, watch } = await started();
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`label-${i}`, 'v'.repeat(60)]));
    const huge = pod(7, {
      labels: { app: 'cart', ...many, constructor: 'c' },
      rawMetadata: {
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(3_000_000), 'resource.opentelemetry.io/team': 'pay', 'resource.opentelemetry.io/blob': 'y'.repeat(100_000) },
      },
    });
    api.addPod(huge);
    await watch.start();
    await until('the pod', () => watch.pod(pod(7).uid) !== undefined);
    const p = watch.pod(pod(7).uid)!;
    expect({ ...p.labels }).toEqual({ app: 'cart' });
    expect(Object.getPrototypeOf(p.labels)).toBeNull();
    expect({ ...p.annotations }).toEqual({ 'resource.opentelemetry.io/team': 'pay' });
    // the 100 KB resource annotation is past the value bound: skipped and counted
    expect(watch.counts().valuesRejected).toBe(1);
  });

  it('pods of 3.5 MB each (under the event bound) hold what naming reads, not their megabytes', async () => {
    const { api, watch } = await started();
    const setFlags = (await import('node:v8')).setFlagsFromString;
    setFlags('--expose-gc');
    const gc = (await import('node:vm')).runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const filler = 'z'.repeat(3_500_000);
    let n = 0;
    api.rawNextWatches((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => {
        if (n === 10) return clearInterval(t);
        res.write(added(pod(2000 + n, { rawMetadata: { annotations: { big: filler } } }), 7000 + n) + '\n');
        n++;
      }, 5);
      res.on('close', () => clearInterval(t));
    });
    await watch.start();
    // (read at MAX_WATCH_BYTES_PER_SECOND)
    await until('all 10 pods', () => watch.podCount() === 10, 20_000);
    gc();
    const heldBytes = process.memoryUsage().heapUsed - before;
    // kept whole they are 35 MB; kept as naming reads them, a few KB each
    expect(heldBytes).toBeLessThan(4 * 1024 * 1024);
  });

  it('a list is read page by page (limit, continue) and as it streams: the pods of every page known, nothing else kept', async () => {
    const { api, watch } = await started(60_000, 300_000, { maxPods: 2000 });
    for (let n = 0; n < 1200; n++) api.addPod(pod(3000 + n));
    api.pageLists(true);
    await watch.start();
    await until('the list', () => watch.isSynced());
    expect(watch.podCount()).toBe(1200);
    const lists = api.requests.filter((r) => r.query.get('watch') !== 'true');
    // 500 a page, the continue token followed; the first page from the cache ("0"), the others by their token
    expect(lists.map((r) => [r.query.get('limit'), r.query.get('continue') !== null, r.query.get('resourceVersion')])).toEqual([
      ['500', false, '0'],
      ['500', true, null],
      ['500', true, null],
    ]);
  });

  it('a list of 60 MB (under maxListBytes) is read as it streams: the agent\'s memory grows by what it keeps, not by the list', async () => {
    const { api, watch } = await started(60_000, 300_000, { maxPods: 2000 });
    const filler = 'q'.repeat(50_000);
    const items = Array.from({ length: 1250 }, (_, n) => podObject(pod(5000 + n, { rawMetadata: { annotations: { big: filler } } }), 2000));
    // the body made before the measure starts and written in pieces: only the agent's side is measured
    const body = Buffer.from(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '2000' }, items }));
    expect(body.length).toBeGreaterThan(60_000_000);
    api.rawNextLists((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      let at = 0;
      const pump = (): void => {
        while (at < body.length) {
          const more = res.write(body.subarray(at, at + 65536));
          at += 65536;
          if (!more) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const setFlags = (await import('node:v8')).setFlagsFromString;
    setFlags('--expose-gc');
    const gc = (await import('node:vm')).runInNewContext('gc') as () => void;
    gc();
    const used = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const base = used();
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, used() - base)), 2);
    await watch.start();
    await until('the list', () => watch.isSynced(), 30_000);
    clearInterval(sampler);
    expect(watch.podCount()).toBe(1250);
    // parsed whole, a 60 MB list took hundreds of MB at its peak; streamed, a chunk and one pod at a time
    // (garbage not yet collected counts: whole, the chunks, their copy, its text and the parsed list came to over 200 MB)
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  });

  it('a list handing out continue tokens without end fails at its page bound, counted, and is retried', async () => {
    const { api, watch } = await started();
    api.endlessContinue(true);
    api.addPod(pod(9));
    await watch.start();
    await until('a failure', () => watch.counts().failures.get('too_large') === 1, 10_000);
    expect(api.listCount()).toBe(100);
    api.endlessContinue(false);
    await until('the pod once the server behaves', () => watch.pod(pod(9).uid) !== undefined, 10_000);
  });

  it('a 429 with Retry-After is honoured up to the backoff cap (not retried at the backoff\'s own pace)', async () => {
    const { api, watch } = await started();
    api.rawNextLists((res) => res.writeHead(429, { 'retry-after': '2', 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 429 })));
    api.addPod(pod(8));
    const t0 = Date.now();
    await watch.start();
    await until('the pod after the server said when', () => watch.pod(pod(8).uid) !== undefined, 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(api.listCount()).toBe(2);
  });

  it('acts as the kubeconfig\'s as and as-groups on every request (Impersonate-User, Impersonate-Group)', async () => {
    api = await FakeKubeApi.start();
    kubeDir = mkdtempSync(path.join(tmpdir(), 'kube-'));
    const kubeconfig = api.writeKubeconfig(path.join(kubeDir, 'config'), 'as: auditor, as-groups: [viewers, ops]');
    watch = new PodWatch({ access: loadApiAccess(kubeconfig), nodeName: 'node-a', graceMillis: 1000, restartDelayMillis: 50, watchIdleMillis: 300_000, listTimeoutMillis: 5000, maxListBytes: 1 << 20, maxPods: 16, labelKeys: new Set(), warn: () => undefined });
    api.addPod(pod(1));
    watch.start();
    await until('the pod', () => watch!.pod(pod(1).uid) !== undefined);
    expect(api.requests.length).toBeGreaterThanOrEqual(2);
    for (const r of api.requests) expect(r.impersonate).toEqual({ user: 'auditor', groups: ['viewers', 'ops'] });
  });

  it('blank keep-alive lines do not hide a dead watch: renewed after watchIdleMillis', async () => {
    const { api, watch } = await started(60_000, 500);
    api.rawNextWatches((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => res.write('\n'), 50);
      res.on('close', () => clearInterval(t));
    });
    await watch.start();
    await until('the silent watch renewed', () => watch.counts().idleRenewals >= 1, 5000);
    api.addPod(pod(4));
    await until('the pod by the new watch', () => watch.pod(pod(4).uid) !== undefined);
  });

  it(`a server streaming the same pod without end is read at most ${MAX_WATCH_EVENTS_PER_SECOND} events a second`, async () => {
    const { api, watch } = await started();
    const line = added(pod(11), 9000) + '\n';
    let response: ServerResponse | undefined;
    api.rawNextWatches((res) => {
      response = res;
      res.writeHead(200, { 'content-type': 'application/json' });
      const pump = (): void => {
        while (res.write(line));
      };
      res.on('drain', pump);
      pump();
    });
    await watch.start();
    await until('the pod', () => watch.pod(pod(11).uid) !== undefined);
    const [t0, read0] = [Date.now(), watch.counts().eventsRead];
    await new Promise((r) => setTimeout(r, 3000));
    const seconds = (Date.now() - t0) / 1000;
    const read = watch.counts().eventsRead - read0;
    // what was read is within the bound (a window's edge aside), however much the server had to give: it is still
    // held back, its writes waiting for the agent to read (a slower host reads less, never more)
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThanOrEqual((Math.ceil(seconds) + 1) * MAX_WATCH_EVENTS_PER_SECOND);
    expect(response?.writableNeedDrain).toBe(true);
  });
});

describe('over TLS', () => {
  /** A self-signed certificate (and its key) made with openssl, for `cn` at 127.0.0.1. */
  function selfSigned(dir: string, cn: string): { key: Buffer; cert: Buffer } {
    const key = path.join(dir, `${cn}.key`);
    const cert = path.join(dir, `${cn}.crt`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(key), cert: readFileSync(cert) };
  }

  it('verifies the server with the kubeconfig CA and presents a client certificate; a wrong CA is a counted failure', async () => {
    kubeDir = mkdtempSync(path.join(tmpdir(), 'kube-tls-'));
    const server = selfSigned(kubeDir, 'api');
    const client = selfSigned(kubeDir, 'agent');
    api = await FakeKubeApi.start(0, { ...server, ca: client.cert, requestCert: true });
    api.addPod(pod(1));
    const b64 = (b: Buffer): string => b.toString('base64');
    const config = (ca: Buffer): string =>
      [
        'apiVersion: v1',
        'current-context: c',
        'contexts: [{name: c, context: {cluster: k, user: u}}]',
        `clusters: [{name: k, cluster: {server: "${api!.url}", certificate-authority-data: ${b64(ca)}}}]`,
        `users: [{name: u, user: {client-certificate-data: ${b64(client.cert)}, client-key-data: ${b64(client.key)}}}]`,
      ].join('\n');
    const options = { nodeName: 'node-a', graceMillis: 60_000, restartDelayMillis: 50, watchIdleMillis: 300_000, listTimeoutMillis: 5000, maxListBytes: 1 << 20, maxPods: 1024, labelKeys: new Set<string>() };
    const warnings: string[] = [];
    watch = new PodWatch({ ...options, access: accessFromKubeconfig(config(server.cert), kubeDir), warn: (l) => warnings.push(l) });
    watch.start();
    await until('the pod over TLS', () => watch!.pod(pod(1).uid) !== undefined);
    expect(api.requests[0].clientCertificate).toBe('agent');
    expect(warnings).toEqual([]);
    await watch.stop();
    // a server the CA does not vouch for
    const other = selfSigned(kubeDir, 'other');
    watch = new PodWatch({ ...options, access: accessFromKubeconfig(config(other.cert), kubeDir), warn: (l) => warnings.push(l) });
    watch.start();
    await until('the refused server', () => (watch!.counts().failures.get('network') ?? 0) > 0);
    expect(watch.pod(pod(1).uid)).toBeUndefined();
    expect(warnings[0]).toMatch(/^Kubernetes pod watch failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|[A-Z_]*CERT[A-Z_]*)\)/);
  });
});
