import { apiPod, type ApiPod, type PodObject } from './pod-api';

export interface PodWatchOptions {
  /** kubeconfig file; empty = in-cluster service account */
  kubeconfig: string;
  nodeName: string;
  graceMillis: number;
  restartDelayMillis: number;
  /**
   * A watch that has brought nothing this long is made again, from where it
   * was (client-go's watches end after 5-10 minutes for the same reason): a
   * connection a proxy or a wedged server keeps open but silent is not trusted.
   */
  watchIdleMillis: number;
  warn: (line: string) => void;
}

interface Entry extends ApiPod {
  deletedAtMs?: number;
}

interface InformerLike {
  on(verb: string, cb: (arg: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * This node's pods from the Kubernetes API: a list+watch with
 * fieldSelector=spec.nodeName=<node> through @kubernetes/client-node's
 * ListWatch (re-listing on 410 Gone and resuming after a closed watch); after
 * any other error the library stops, so it is started again after a delay.
 * Deleted pods are kept for graceMillis so late events still resolve.
 */
export class PodWatch {
  private readonly pods = new Map<string, Entry>();
  private informer?: InformerLike;
  private stopped = false;
  private restartTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private synced = false;
  private errors = 0;
  /** failures since the last pod event: the backoff grows with them */
  private failuresInARow = 0;
  private lastActivityMs = Date.now();
  private idleTimer?: NodeJS.Timeout;
  private restarting = false;

  constructor(private readonly options: PodWatchOptions) {}

  async start(): Promise<void> {
    // the client is an ES module; this package is CommonJS
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    if (this.options.kubeconfig) kc.loadFromFile(this.options.kubeconfig);
    else kc.loadFromCluster();
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const fieldSelector = `spec.nodeName=${this.options.nodeName}`;
    const informer = new k8s.ListWatch(
      '/api/v1/pods',
      new k8s.Watch(kc),
      () => api.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    ) as unknown as InformerLike;
    // a pod event proves the list or watch works again: the backoff starts over
    informer.on('add', (p) => {
      this.heard();
      this.upsert(p as PodObject);
    });
    informer.on('update', (p) => {
      this.heard();
      this.upsert(p as PodObject);
    });
    informer.on('delete', (p) => {
      this.heard();
      this.remove(p as PodObject);
    });
    informer.on('connect', () => {
      this.synced = true;
      this.lastActivityMs = Date.now();
    });
    informer.on('error', (err) => {
      this.errors++;
      const delay = backoffMillis(this.options.restartDelayMillis, this.failuresInARow++);
      this.options.warn(`Kubernetes pod watch failed (${describeWatchError(err)}); retrying in ${delay} ms`);
      if (this.stopped) return;
      this.restartTimer = setTimeout(() => void informer.start(), delay);
      this.restartTimer.unref();
    });
    this.informer = informer;
    // deleted pods leave after their grace period whether or not a bind asks for them
    this.sweepTimer = setInterval(() => this.evictExpired(), Math.max(1000, Math.min(this.options.graceMillis, 30_000)));
    this.sweepTimer.unref();
    const idle = this.options.watchIdleMillis;
    this.idleTimer = setInterval(() => void this.restartIfSilent(), Math.max(50, Math.min(idle / 4, 30_000)));
    this.idleTimer.unref();
    await informer.start();
  }

  /** A pod event proves the list or watch works: the backoff starts over. */
  private heard(): void {
    this.failuresInARow = 0;
    this.lastActivityMs = Date.now();
  }

  private async restartIfSilent(): Promise<void> {
    const informer = this.informer;
    if (!informer || this.stopped || this.restarting || Date.now() - this.lastActivityMs < this.options.watchIdleMillis) return;
    this.restarting = true;
    try {
      this.options.warn(`Kubernetes pod watch silent for ${this.options.watchIdleMillis} ms; watching again`);
      this.lastActivityMs = Date.now();
      await informer.stop();
      if (!this.stopped) await informer.start();
    } catch {
      // start() reports its own failures through 'error', which retries
    } finally {
      this.restarting = false;
    }
  }

  /** Forgets the pods deleted longer than the grace period ago. */
  evictExpired(nowMs = Date.now()): void {
    for (const [uid, entry] of this.pods) {
      if (entry.deletedAtMs !== undefined && nowMs - entry.deletedAtMs > this.options.graceMillis) this.pods.delete(uid);
    }
  }

  private upsert(obj: PodObject): void {
    const pod = apiPod(obj);
    if (pod) this.pods.set(pod.uid, pod);
  }

  private remove(obj: PodObject): void {
    const uid = obj.metadata?.uid;
    const entry = uid ? this.pods.get(uid) : undefined;
    if (entry) entry.deletedAtMs ??= Date.now();
  }

  pod(uid: string): ApiPod | undefined {
    const entry = this.pods.get(uid);
    if (entry?.deletedAtMs !== undefined && Date.now() - entry.deletedAtMs > this.options.graceMillis) {
      this.pods.delete(uid);
      return undefined;
    }
    return entry;
  }

  podCount(): number {
    return this.pods.size;
  }

  isSynced(): boolean {
    return this.synced;
  }

  errorCount(): number {
    return this.errors;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    await this.informer?.stop();
  }
}

const MAX_BACKOFF_MILLIS = 60_000;

/** base * 2^failures, capped at a minute, with +-20% jitter so a fleet of agents does not retry in step. */
export function backoffMillis(baseMillis: number, failures: number, random: () => number = Math.random): number {
  const delay = Math.min(MAX_BACKOFF_MILLIS, baseMillis * 2 ** Math.min(failures, 16));
  return Math.round(delay * (0.8 + 0.4 * random()));
}

/** Longest part of an API error's text that reaches the log: a server may answer with megabytes. */
export const MAX_LOGGED_ERROR_CHARS = 300;

/**
 * One short line for a watch error: the HTTP status (ApiException's numeric
 * code, or statusCode), else the errno-like code, else the message's first
 * MAX_LOGGED_ERROR_CHARS characters with control characters escaped. Pure.
 */
export function describeWatchError(err: unknown): string {
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown } | undefined;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.code === 'number' ? e.code : undefined;
  if (status !== undefined) return `HTTP ${status}`;
  if (typeof e?.code === 'string') return e.code.slice(0, 64);
  const text = typeof e?.message === 'string' ? e.message : String(err);
  // eslint-disable-next-line no-control-regex
  const line = text.slice(0, MAX_LOGGED_ERROR_CHARS).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text.length > MAX_LOGGED_ERROR_CHARS ? `${line}... (${text.length} characters)` : line;
}
