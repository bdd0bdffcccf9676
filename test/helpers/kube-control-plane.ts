import { execFileSync, spawn, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { K8sTools } from './helm';
import type { OwnerReference } from './kube-api';
import { freePort, peerBinary } from './peers';
import { waitUntil } from './wait';

/*
 * A real Kubernetes control plane as controller-runtime's envtest runs one: etcd and kube-apiserver built from
 * their modules (test/peers/etcd, test/peers/kube-apiserver), on free loopback ports, RBAC authorization, a
 * serving certificate from a CA made here, service-account signing keys, an administrator token. No kubelet,
 * scheduler or controller manager: a test makes pods with spec.nodeName set and patches their status as the
 * kubelet would.
 */

/** The administrator's bearer token (a --token-auth-file line, group system:masters). */
const ADMIN_TOKEN = 'bindsnoop-test-admin';

export interface ApiReply {
  status: number;
  body: string;
  /** the body parsed, when it is JSON */
  json: Record<string, unknown>;
}

export interface PodContainer {
  name: string;
  /** the container ID as the runtime reports it, without the runtime's prefix */
  id: string;
  image: string;
  imageID?: string;
}

export interface PodSpec {
  namespace: string;
  name: string;
  nodeName: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  containers: PodContainer[];
}

/** The server's idea of a pod: its uid and name. */
export interface MadePod {
  namespace: string;
  name: string;
  uid: string;
}

function exec(binary: string, args: string[]): void {
  execFileSync(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class ControlPlane {
  private etcd!: ChildProcess;
  private apiserver!: ChildProcess;
  private etcdLog = '';
  private apiserverLog = '';
  readonly tools: K8sTools;

  private constructor(
    /** working directory: certificates, keys, etcd's data */
    readonly dir: string,
    readonly etcdPort: number,
    readonly port: number,
  ) {
    this.tools = K8sTools.load(path.join(dir, 'tools'));
  }

  /** Makes the certificates and keys, starts etcd then kube-apiserver, and waits until /readyz says ok. */
  static async start(): Promise<ControlPlane> {
    const etcdBinary = peerBinary('etcd');
    const apiserverBinary = peerBinary('kube-apiserver');
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-k8s-'));
    const plane = new ControlPlane(dir, await freePort(), await freePort());
    try {
      plane.makeCredentials();
      plane.startEtcd(etcdBinary);
      plane.startApiserver(apiserverBinary);
      await plane.waitReady();
      return plane;
    } catch (e) {
      await plane.stop();
      throw e;
    }
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get caFile(): string {
    return path.join(this.dir, 'ca.crt');
  }

  get ca(): Buffer {
    return readFileSync(this.caFile);
  }

  /** The control plane's own logs so far (for a failing test's message). */
  get logs(): { etcd: string; apiserver: string } {
    return { etcd: this.etcdLog, apiserver: this.apiserverLog };
  }

  private makeCredentials(): void {
    const f = (n: string): string => path.join(this.dir, n);
    exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=bindsnoop-test-ca']);
    exec('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('serving.key'), '-out', f('serving.csr'), '-subj', '/CN=kube-apiserver']);
    writeFileSync(f('serving.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n');
    exec('openssl', ['x509', '-req', '-in', f('serving.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('serving.crt'), '-days', '2', '-extfile', f('serving.ext')]);
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    writeFileSync(f('sa.pub'), sa.publicKey);
    writeFileSync(f('sa.key'), sa.privateKey);
    writeFileSync(f('tokens.csv'), `${ADMIN_TOKEN},bindsnoop-test-admin,bindsnoop-test-admin,"system:masters"\n`);
    writeFileSync(
      this.kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: test, cluster: {server: "${this.url}", certificate-authority: "${this.caFile}"}}]`,
        `users: [{name: admin, user: {token: ${ADMIN_TOKEN}}}]`,
        'contexts: [{name: test, context: {cluster: test, user: admin}}]',
        'current-context: test',
        '',
      ].join('\n'),
    );
  }

  /** The administrator's kubeconfig (kubectl, helm). */
  get kubeconfig(): string {
    return path.join(this.dir, 'admin.kubeconfig');
  }

  private startEtcd(binary: string): void {
    const url = `http://127.0.0.1:${this.etcdPort}`;
    this.etcd = spawn(
      binary,
      ['--data-dir', path.join(this.dir, 'etcd'), '--listen-client-urls', url, '--advertise-client-urls', url, '--listen-peer-urls', 'http://127.0.0.1:0', '--unsafe-no-fsync', '--log-level', 'warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.etcd.stderr!.on('data', (d: Buffer) => (this.etcdLog = (this.etcdLog + d.toString()).slice(-65536)));
  }

  private startApiserver(binary: string): void {
    const f = (n: string): string => path.join(this.dir, n);
    this.apiserver = spawn(
      binary,
      [
        `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
        `--secure-port=${this.port}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        // no kubernetes Service endpoints to keep (a loopback address is refused for them)
        '--endpoint-reconciler-type=none',
        `--cert-dir=${f('certs')}`,
        `--tls-cert-file=${f('serving.crt')}`,
        `--tls-private-key-file=${f('serving.key')}`,
        `--client-ca-file=${f('ca.crt')}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        `--service-account-issuer=${this.url}/`,
        `--service-account-key-file=${f('sa.pub')}`,
        `--service-account-signing-key-file=${f('sa.key')}`,
        '--authorization-mode=RBAC',
        `--token-auth-file=${f('tokens.csv')}`,
        '--disable-admission-plugins=ServiceAccount',
        '--v=1',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.apiserver.stderr!.on('data', (d: Buffer) => (this.apiserverLog = (this.apiserverLog + d.toString()).slice(-65536)));
  }

  private async waitReady(): Promise<void> {
    await waitUntil(
      'kube-apiserver to be ready (/readyz)',
      async () => {
        if (this.apiserver.exitCode !== null) throw new Error(`kube-apiserver exited ${this.apiserver.exitCode}:\n${this.apiserverLog.slice(-4000)}`);
        if (this.etcd.exitCode !== null) throw new Error(`etcd exited ${this.etcd.exitCode}:\n${this.etcdLog.slice(-4000)}`);
        const r = await this.request('GET', '/readyz').catch(() => undefined);
        return r?.status === 200 && r.body === 'ok';
      },
      120_000,
    );
  }

  /** A request as the administrator (or with `token`): JSON in, the reply out. */
  request(method: string, apiPath: string, body?: unknown, options: { token?: string; contentType?: string } = {}): Promise<ApiReply> {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${apiPath}`,
        {
          method,
          ca: this.ca,
          headers: {
            authorization: `Bearer ${options.token ?? ADMIN_TOKEN}`,
            accept: 'application/json',
            ...(data === undefined ? {} : { 'content-type': options.contentType ?? 'application/json', 'content-length': Buffer.byteLength(data) }),
          },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: Record<string, unknown> = {};
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              // not JSON (readyz, metrics)
            }
            resolve({ status: res.statusCode ?? 0, body: text, json });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timed out`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** A request that must succeed (2xx): its parsed body. */
  async ok(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<Record<string, unknown>> {
    const r = await this.request(method, apiPath, body, { contentType });
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${apiPath}: ${r.status} ${r.body.slice(0, 2000)}`);
    return r.json;
  }

  /** kubectl (or helm) against this control plane, as the administrator. */
  run(tool: 'kubectl' | 'helm', args: string[], input?: string): SpawnSyncReturns<string> {
    return this.tools.run(tool, ['--kubeconfig', this.kubeconfig, ...args], input);
  }

  /** kubectl that must succeed: its stdout. */
  kubectl(args: string[], input?: string): string {
    const r = this.run('kubectl', args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.status}\n${r.stderr}`);
    return r.stdout;
  }

  private readonly namespaces = new Set<string>();

  /** A namespace, made once (a second call asks nothing). */
  async ensureNamespace(namespace: string): Promise<void> {
    if (this.namespaces.has(namespace)) return;
    const r = await this.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    if (r.status !== 201 && r.status !== 409) throw new Error(`namespace ${namespace}: ${r.status} ${r.body}`);
    this.namespaces.add(namespace);
  }

  /**
   * A pod bound to `nodeName`, then its status written as the kubelet writes it: Running, each container's ID
   * (containerd://<id>), image and image ID.
   */
  async makePod(spec: PodSpec): Promise<MadePod> {
    const made = await this.makePodOnly(spec);
    await this.writeStatus(spec);
    return made;
  }

  /** A pod bound to `nodeName`, its status left as the API server made it (no kubelet has run it). */
  async makePodOnly(spec: PodSpec): Promise<MadePod> {
    await this.ensureNamespace(spec.namespace);
    const created = await this.ok('POST', `/api/v1/namespaces/${spec.namespace}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: spec.name, namespace: spec.namespace, labels: spec.labels, annotations: spec.annotations, ownerReferences: spec.ownerReferences },
      spec: { nodeName: spec.nodeName, containers: spec.containers.map((c) => ({ name: c.name, image: c.image })) },
    });
    return { namespace: spec.namespace, name: spec.name, uid: (created.metadata as { uid: string }).uid };
  }

  /** The kubelet's status of a pod: running containers with these IDs. */
  async writeStatus(spec: Pick<PodSpec, 'namespace' | 'name' | 'containers'>): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await this.ok(
      'PATCH',
      `/api/v1/namespaces/${spec.namespace}/pods/${spec.name}/status`,
      {
        status: {
          phase: 'Running',
          containerStatuses: spec.containers.map((c) => ({
            name: c.name,
            containerID: `containerd://${c.id}`,
            image: c.image,
            imageID: c.imageID ?? '',
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: now } },
          })),
        },
      },
      'application/merge-patch+json',
    );
  }

  /** Deletes a pod at once (no kubelet will finish a graceful deletion). */
  async deletePod(namespace: string, name: string): Promise<void> {
    await this.ok('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
  }

  /** A token for a service account from the TokenRequest API (valid `seconds`, at least 600). */
  async serviceAccountToken(namespace: string, serviceAccount: string, seconds = 3600): Promise<string> {
    const r = await this.ok('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: seconds },
    });
    return (r.status as { token: string }).token;
  }

  /** kube-apiserver's own metrics (apiserver_request_total and the rest), as the administrator reads them. */
  async metrics(): Promise<string> {
    const r = await this.request('GET', '/metrics');
    if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
    return r.body;
  }

  /** etcd's history compacted up to now (physically), as etcd's own periodic compaction does: returns the revision. */
  async compact(): Promise<number> {
    const etcd = async (call: string, body: unknown): Promise<Record<string, unknown>> => {
      const r = await fetch(`http://127.0.0.1:${this.etcdPort}/v3/kv/${call}`, { method: 'POST', body: JSON.stringify(body) });
      if (r.status !== 200) throw new Error(`etcd ${call}: ${r.status} ${await r.text()}`);
      return (await r.json()) as Record<string, unknown>;
    };
    const range = await etcd('range', { key: Buffer.from('/').toString('base64'), limit: 1 });
    const revision = (range.header as { revision: string }).revision;
    await etcd('compaction', { revision, physical: true });
    return Number(revision);
  }

  /** Stops kube-apiserver (SIGTERM) and starts it again on the same port and data; ready again when this resolves. */
  async restartApiserver(downMillis = 0): Promise<void> {
    await stopProcess(this.apiserver);
    if (downMillis > 0) await new Promise((r) => setTimeout(r, downMillis));
    this.startApiserver(peerBinary('kube-apiserver'));
    await this.waitReady();
  }

  /** Stops etcd and starts it again on its port and data (kube-apiserver stays up and reconnects). */
  async restartEtcd(downMillis = 0): Promise<void> {
    await stopProcess(this.etcd);
    if (downMillis > 0) await new Promise((r) => setTimeout(r, downMillis));
    this.startEtcd(peerBinary('etcd'));
    await this.waitReady();
  }

  /** Both stopped, their data removed. */
  async stop(): Promise<void> {
    await stopProcess(this.apiserver);
    await stopProcess(this.etcd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function stopProcess(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
