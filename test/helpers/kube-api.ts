import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';

/**
 * A local Kubernetes API server for pods, speaking the list/watch protocol as
 * the real one does: a list answers a PodList with a resourceVersion; a watch
 * (?watch=true&resourceVersion=N) replays every event after N, then streams new
 * ones as JSON lines (ADDED, MODIFIED, DELETED, BOOKMARK); a version older than
 * the kept history gets an ERROR event with a 410 Status, as etcd compaction
 * causes. fieldSelector=spec.nodeName=<node> is honoured.
 */
/** A pod's owner reference, as the API writes it. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface FakePod {
  uid: string;
  name: string;
  namespace: string;
  nodeName: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  containers?: { name: string; id: string; image?: string; imageID?: string }[];
  /** merged into the object's metadata as is (values of any type, as a hostile server sends them) */
  rawMetadata?: Record<string, unknown>;
  /** merged into the object's status as is */
  rawStatus?: Record<string, unknown>;
}

/** Answers one list or watch request itself (a hostile server). */
export type RawHandler = (res: ServerResponse, req: IncomingMessage) => void;

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

interface Event {
  rv: number;
  type: EventType;
  pod: FakePod;
}

interface Watcher {
  res: ServerResponse;
  node?: string;
  /** hears nothing more (silenceWatches) */
  silent: boolean;
}

export interface ApiRequest {
  path: string;
  query: URLSearchParams;
  authorization?: string;
  /** the CN of the client certificate, over TLS with one */
  clientCertificate?: string;
  /** when it came (Date.now()) */
  at: number;
  /** Impersonate-User and Impersonate-Group, as sent */
  impersonate?: { user?: string; groups: string[] };
}

export function podObject(p: FakePod, rv: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      uid: p.uid,
      resourceVersion: String(rv),
      labels: p.labels ?? {},
      annotations: p.annotations ?? {},
      ownerReferences: p.ownerReferences ?? [],
      ...p.rawMetadata,
    },
    spec: { nodeName: p.nodeName, containers: (p.containers ?? []).map((c) => ({ name: c.name, image: 'example' })) },
    status: {
      phase: 'Running',
      containerStatuses: (p.containers ?? []).map((c) => ({ name: c.name, containerID: `containerd://${c.id}`, ready: true, restartCount: 0, image: c.image ?? 'example', imageID: c.imageID ?? 'example' })),
      ...p.rawStatus,
    },
  };
}

export class FakeKubeApi {
  readonly requests: ApiRequest[] = [];
  private readonly pods = new Map<string, { pod: FakePod; rv: number }>();
  private readonly events: Event[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private rv = 1000;
  /** watches from a version below this get 410 Gone */
  private oldestKept = 0;
  private failWatches: number[] = [];
  private failLists: { status: number; body: string }[] = [];
  private rawLists: RawHandler[] = [];
  private rawWatches: RawHandler[] = [];
  /** every watch from now on is answered by this (until cleared with undefined) */
  private everyWatch?: RawHandler;
  private port = 0;
  private scheme = 'http';
  /** lists honour limit and continue (the token is the offset) */
  private paging = false;
  /** every list page hands out a continue token again (a server that never ends a list) */
  private endless = false;
  /** bytes of the pages of the last list, together */
  private listBytes = 0;

  private constructor(private readonly server: Server) {
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** On `port` (0: any free one; a port again: a server that came back); over TLS with this key and certificate. */
  static async start(port = 0, tls?: { key: Buffer; cert: Buffer; ca?: Buffer; requestCert?: boolean }): Promise<FakeKubeApi> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => api.handle(req, res);
    const api: FakeKubeApi = new FakeKubeApi(tls ? (createTlsServer({ ...tls, rejectUnauthorized: tls.requestCert ?? false }, handler) as unknown as Server) : createServer(handler));
    if (tls) api.scheme = 'https';
    await new Promise<void>((resolve) => api.server.listen(port, '127.0.0.1', resolve));
    api.port = (api.server.address() as { port: number }).port;
    return api;
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig for the agent, pointing here; `user` adds to its user (as: auditor, as-groups: [...]). */
  writeKubeconfig(file: string, user = ''): string {
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        // plain HTTP on loopback: the client allows it only with TLS verification off
        `clusters: [{name: fake, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]`,
        `users: [{name: agent, user: {token: test-token${user ? `, ${user}` : ''}}}]`,
        'contexts: [{name: fake, context: {cluster: fake, user: agent}}]',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return file;
  }

  private emit(type: EventType, pod: FakePod): number {
    const rv = ++this.rv;
    this.events.push({ rv, type, pod });
    for (const w of this.watchers) {
      if (w.silent) continue;
      if (type === 'BOOKMARK' || !w.node || w.node === pod.nodeName) this.send(w.res, type, pod, rv);
    }
    return rv;
  }

  private send(res: ServerResponse, type: EventType, pod: FakePod, rv: number): void {
    const object = type === 'BOOKMARK' ? { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } } : podObject(pod, rv);
    res.write(JSON.stringify({ type, object }) + '\n');
  }

  addPod(pod: FakePod): void {
    this.pods.set(pod.uid, { pod, rv: this.rv + 1 });
    this.emit('ADDED', pod);
  }

  modifyPod(pod: FakePod): void {
    this.pods.set(pod.uid, { pod, rv: this.rv + 1 });
    this.emit('MODIFIED', pod);
  }

  deletePod(uid: string): void {
    const entry = this.pods.get(uid);
    if (!entry) return;
    this.pods.delete(uid);
    this.emit('DELETED', entry.pod);
  }

  bookmark(): void {
    this.emit('BOOKMARK', { uid: '', name: '', namespace: '', nodeName: '' });
  }

  /** Forget history (compaction): watches from older versions get 410 Gone; open watches are closed. */
  compact(): void {
    this.oldestKept = this.rv + 1;
    this.closeWatches();
  }

  /** Answer the next watch requests with these HTTP statuses. */
  failNextWatches(...statuses: number[]): void {
    this.failWatches.push(...statuses);
  }

  /** Answer the next list requests with this status and body (a Status object by default). */
  failNextLists(count: number, status: number, body = JSON.stringify({ kind: 'Status', code: status })): void {
    for (let i = 0; i < count; i++) this.failLists.push({ status, body });
  }

  /**
   * The open watches stay open but hear nothing more (a stuck proxy, a wedged
   * server): events go only to watches made after this.
   */
  silenceWatches(): void {
    for (const w of this.watchers) w.silent = true;
  }

  /** The next list requests are answered by these handlers, one each. */
  rawNextLists(...handlers: RawHandler[]): void {
    this.rawLists.push(...handlers);
  }

  /** The next watch requests are answered by these handlers, one each. */
  rawNextWatches(...handlers: RawHandler[]): void {
    this.rawWatches.push(...handlers);
  }

  /** Every watch request is answered by this handler (undefined: the real protocol again). */
  rawEveryWatch(handler: RawHandler | undefined): void {
    this.everyWatch = handler;
  }

  /** Watch requests made so far. */
  watchRequests(): number {
    return this.requests.filter((r) => r.path === '/api/v1/pods' && r.query.get('watch') === 'true').length;
  }

  /** Answer lists with this (not JSON) instead of a PodList, `count` times. */
  garbageLists(count: number): void {
    this.failNextLists(count, 200, '<html>not the API server</html>');
  }

  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  watchCount(): number {
    return this.watchers.size;
  }

  /** Lists answered page by page from now on: `limit` pods each, `continue` the offset of the next. */
  pageLists(on: boolean): void {
    this.paging = on;
  }

  /** Every list page carries a continue token (on), or lists end (off). */
  endlessContinue(on: boolean): void {
    this.endless = on;
  }

  /** Bytes the last list's pages came to. */
  lastListBytes(): number {
    return this.listBytes;
  }

  listCount(): number {
    return this.requests.filter((r) => r.path === '/api/v1/pods' && r.query.get('watch') !== 'true').length;
  }

  async stop(): Promise<void> {
    this.closeWatches();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const peer = (req.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } }).getPeerCertificate?.();
    const groups: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === 'impersonate-group') groups.push(req.rawHeaders[i + 1]);
    const user = req.headers['impersonate-user'] as string | undefined;
    this.requests.push({
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      clientCertificate: peer?.subject?.CN,
      at: Date.now(),
      ...(user !== undefined || groups.length > 0 ? { impersonate: { user, groups } } : {}),
    });
    if (url.pathname !== '/api/v1/pods') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 404 }));
      return;
    }
    const selector = url.searchParams.get('fieldSelector') ?? '';
    const node = /^spec\.nodeName=(.+)$/.exec(selector)?.[1];
    if (url.searchParams.get('watch') !== 'true') {
      const rawList = this.rawLists.shift();
      if (rawList) {
        rawList(res, req);
        return;
      }
      const failList = this.failLists.shift();
      if (failList) {
        res.writeHead(failList.status, { 'content-type': 'application/json' }).end(failList.body);
        return;
      }
      if (this.endless) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv), continue: 'again' }, items: [] }));
        return;
      }
      let items = [...this.pods.values()].filter((e) => !node || e.pod.nodeName === node).map((e) => podObject(e.pod, e.rv));
      const metadata: Record<string, string> = { resourceVersion: String(this.rv) };
      const offset = Number(url.searchParams.get('continue') ?? '0');
      const limit = Number(url.searchParams.get('limit') ?? '0');
      if (this.paging && limit > 0) {
        if (offset + limit < items.length) metadata.continue = String(offset + limit);
        items = items.slice(offset, offset + limit);
      }
      const body = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata, items });
      this.listBytes = (offset === 0 ? 0 : this.listBytes) + Buffer.byteLength(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    const rawWatch = this.rawWatches.shift() ?? this.everyWatch;
    if (rawWatch) {
      rawWatch(res, req);
      return;
    }
    const fail = this.failWatches.shift();
    if (fail) {
      res.writeHead(fail, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: fail }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // the API server answers a watch at once, events or not
    res.flushHeaders();
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (from < this.oldestKept) {
      res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 } }) + '\n');
      return;
    }
    for (const e of this.events) {
      if (e.rv > from && (e.type === 'BOOKMARK' || !node || e.pod.nodeName === node)) this.send(res, e.type, e.pod, e.rv);
    }
    const watcher = { res, node, silent: false };
    this.watchers.add(watcher);
    req.on('close', () => this.watchers.delete(watcher));
  }
}
