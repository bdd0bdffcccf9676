import { ApiClient, ApiError, type ApiFailure } from './api-client';
import type { ApiAccess } from './api-access';
import { isRecord } from '../model/text';
import { apiPod, type ApiPod } from './pod-api';
import { ListStreamError, PodListStream } from './list-stream';

export interface PodWatchOptions {
  /** how to reach the API (a kubeconfig's current context, or the in-cluster service account) */
  access: ApiAccess;
  nodeName: string;
  graceMillis: number;
  /** the first retry's delay; it doubles with each failure in a row (see backoffMillis) */
  restartDelayMillis: number;
  /**
   * A watch that has brought nothing this long is made again, from where it
   * was: a connection a proxy or a wedged server keeps open but silent is not
   * trusted.
   */
  watchIdleMillis: number;
  /** a list not whole within this fails (and is retried with the backoff) */
  listTimeoutMillis: number;
  /** a list larger than this (all its pages together) fails (and is retried with the backoff) */
  maxListBytes: number;
  /** at most this many pods are known at once (deleted ones in their grace period included); past it a new pod is refused and counted */
  maxPods: number;
  /** the label keys naming and selection read: a pod's other labels are not kept */
  labelKeys: ReadonlySet<string>;
  warn: (line: string) => void;
}

/**
 * Why the watch failed, as counted: the client's failures, a watch `ERROR`
 * event (`watch_error`), history compacted (`expired`, 410 Gone: the pods are
 * listed again), a watch that ended at once with nothing (`short_watch`).
 */
export type WatchFailure = ApiFailure | 'watch_error' | 'expired' | 'short_watch';

/** The watch's books, for /metrics. */
export interface PodWatchCounts {
  /** watch events (and list items) skipped: not JSON, of no known type, a pod without metadata, uid, name or namespace */
  eventsRejected: number;
  /** values of a pod of the wrong type (a label that is a number, a container status that is null), skipped */
  valuesRejected: number;
  /** watch events read (lines with something on them), kept or skipped */
  eventsRead: number;
  /** new pods not kept because maxPods were known */
  podsRefused: number;
  /** watches made again because they brought nothing (not even a bookmark) for watchIdleMillis: not failures */
  idleRenewals: number;
  failures: ReadonlyMap<WatchFailure, number>;
}

/**
 * One watch event, as bounded: the API's objects are at most 1.5 MiB (etcd's
 * request limit); a line past this is no pod event and fails the watch.
 */
export const MAX_WATCH_EVENT_BYTES = 4 * 1024 * 1024;
/**
 * A watch that ends sooner than this is a failure, whatever it brought
 * (client-go's VeryShortWatchError, and a server answering each watch with one
 * event and closing it): backed off, so a server cannot make the agent spin.
 */
const SHORT_WATCH_MILLIS = 1000;
/**
 * A watch reads at most this many events and bytes a second, then pauses for
 * the rest of the second: a node's pods change far less, and a server
 * streaming events without end costs a bounded share of a core.
 */
export const MAX_WATCH_EVENTS_PER_SECOND = 2000;
export const MAX_WATCH_BYTES_PER_SECOND = 8 * 1024 * 1024;
/** Pods asked for in one page of a list (client-go's pager asks for 500); its continue token is followed. */
const LIST_PAGE_LIMIT = 500;
/** Pages of one list at most: a server handing out continue tokens without end fails the list. */
const MAX_LIST_PAGES = 100;
/** Each watch asks the server to end it after a random 5 to 10 minutes (client-go's reflector), spreading a fleet's re-watches. */
const WATCH_TIMEOUT_SECONDS = [300, 600] as const;
/** At most one line a minute about skipped events. */
const REJECTED_LOG_MILLIS = 60_000;

interface Entry extends ApiPod {
  deletedAtMs?: number;
}

class Expired extends Error {}

/** A watch that brought nothing for watchIdleMillis: made again at once, from where it was. */
class WatchIdle extends Error {}

/** A watch that failed without a failed request: an ERROR event, or an end at once with nothing. */
class WatchFault extends Error {
  constructor(
    readonly reason: 'watch_error' | 'short_watch',
    message: string,
  ) {
    super(message);
  }
}


/** A Status's code 410 (or reason Expired/Gone): the resource version is too old. */
function isExpiredStatus(status: unknown): boolean {
  return isRecord(status) && (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone');
}

/**
 * This node's pods from the Kubernetes API, read as client-go's reflector
 * reads them and trusting the server for nothing: a list (fieldSelector
 * spec.nodeName=<node>, bounded in bytes and time), then a watch from its
 * resourceVersion with bookmarks and a random timeout; events of an unknown
 * type or without a pod's metadata are skipped and counted; a 410 (an ERROR
 * event or the status) lists again; every other failure, a watch ERROR event
 * included, is retried after a jittered backoff that doubles to a minute and
 * starts over once a watch brings events; one warning per episode of
 * failures and one when it is over. Deleted pods are kept for graceMillis so
 * late binds still resolve.
 */
export class PodWatch {
  private readonly pods = new Map<string, Entry>();
  private client?: ApiClient;
  private readonly abort = new AbortController();
  private stopped = false;
  private sweepTimer?: NodeJS.Timeout;
  private sleepTimer?: { timer: NodeJS.Timeout; resolve: () => void };
  private synced = false;
  private readonly syncedListeners: (() => void)[] = [];
  private changeListener?: () => void;
  private readonly failures = new Map<WatchFailure, number>();
  private eventsRejected = 0;
  private valuesRejected = 0;
  private podsRefused = 0;
  private idleRenewals = 0;
  private eventsRead = 0;
  private lastRejectedLogMs = -Infinity;
  private lastRefusedLogMs = -Infinity;
  /** where the next watch starts: the last resourceVersion seen */
  private version = '';
  /** failures since a watch last brought an event: the backoff grows with them */
  private failuresInARow = 0;
  /** the kinds of failure told in this episode: any, a 401, a 403 */
  private readonly toldInEpisode = new Set<string>();
  private running?: Promise<void>;

  constructor(private readonly options: PodWatchOptions) {}

  /** Starts listing and watching (in the background, until stop()). */
  start(): void {
    this.client = new ApiClient(this.options.access);
    // deleted pods leave after their grace period whether or not a bind asks for them
    this.sweepTimer = setInterval(() => this.evictExpired(), Math.max(1000, Math.min(this.options.graceMillis, 30_000)));
    this.sweepTimer.unref();
    this.running = this.run(this.client);
  }

  private podsPath(query: Record<string, string>): string {
    const q = new URLSearchParams({ fieldSelector: `spec.nodeName=${this.options.nodeName}`, ...query });
    return `/api/v1/pods?${q}`;
  }

  private async run(client: ApiClient): Promise<void> {
    // client-go's sequence: the first list from the API server's cache ("0"), after a 410 a consistent one ("")
    let listFrom: string | undefined = '0';
    while (!this.stopped) {
      try {
        if (listFrom !== undefined) {
          this.version = await this.list(client, listFrom);
          listFrom = undefined;
        }
        await this.watch(client);
      } catch (e) {
        if (this.stopped) return;
        if (e instanceof WatchIdle) {
          // silence is no failure (a quiet cluster without bookmarks): watched again at once, from where it was
          this.idleRenewals++;
          continue;
        }
        if (e instanceof Expired) listFrom = '';
        this.failed(e);
        const backoff = backoffMillis(this.options.restartDelayMillis, this.failuresInARow - 1);
        // a server's Retry-After (429, 503) is honoured up to the backoff's cap
        const asked = e instanceof ApiError && e.retryAfterMillis !== undefined ? Math.min(e.retryAfterMillis, MAX_BACKOFF_MILLIS) : 0;
        await this.sleep(Math.max(backoff, asked));
      }
    }
  }

  /**
   * Lists the node's pods, page by page (following `continue`), each page read
   * as it streams; replaces what is known with them and returns the list's
   * resourceVersion. The pages together are bounded by maxListBytes and
   * listTimeoutMillis.
   */
  private async list(client: ApiClient, from: string): Promise<string> {
    const listed = new Set<string>();
    const deadline = Date.now() + this.options.listTimeoutMillis;
    let bytesLeft = this.options.maxListBytes;
    let next: string | undefined;
    let version: string | undefined;
    for (let page = 0; ; page++) {
      if (page === MAX_LIST_PAGES) throw new ApiError('too_large', `the list went on past ${MAX_LIST_PAGES} pages`);
      const query: Record<string, string> = { limit: String(LIST_PAGE_LIMIT) };
      if (next) query.continue = next;
      else if (from) query.resourceVersion = from;
      const stream = new PodListStream((text) => this.listItem(text, listed), MAX_WATCH_EVENT_BYTES);
      try {
        await client.getChunked(this.podsPath(query), {
          maxBytes: bytesLeft,
          timeoutMillis: Math.max(1, deadline - Date.now()),
          signal: this.abort.signal,
          onChunk: (c) => {
            bytesLeft -= c.length;
            stream.write(c);
          },
        });
        const md = stream.end();
        version = md.resourceVersion;
        next = md.continue;
      } catch (e) {
        if (e instanceof ApiError && e.status === 410) throw new Expired('HTTP 410');
        if (e instanceof ListStreamError) throw new ApiError(e.reason, e.reason === 'too_large' ? e.message : `the reply is not a PodList: ${e.message}`);
        throw e;
      }
      if (typeof version !== 'string') throw new ApiError('malformed', 'the reply is not a PodList (no resourceVersion)');
      if (!next) break;
    }
    // pods gone while the agent was not watching: deleted now, kept for the grace period
    const now = Date.now();
    for (const [uid, entry] of this.pods) if (!listed.has(uid)) entry.deletedAtMs ??= now;
    if (!this.synced) {
      this.synced = true;
      for (const listener of this.syncedListeners.splice(0)) listener();
    }
    return version;
  }

  /** One item of a list page, as its text. */
  private listItem(text: string, listed: Set<string>): void {
    let item: unknown;
    try {
      item = JSON.parse(text);
    } catch {
      this.eventsRejected++;
      return;
    }
    const pod = this.parse(item);
    if (!pod) {
      this.eventsRejected++;
      return;
    }
    if (this.store(pod)) listed.add(pod.uid);
  }

  /**
   * Keeps a pod's newest state. A new pod past maxPods takes the place of the
   * pod deleted longest ago, if any; else it is refused and counted.
   */
  private store(pod: ApiPod): boolean {
    if (!this.pods.has(pod.uid) && this.pods.size >= this.options.maxPods && !this.evictOldestDeleted()) {
      this.podsRefused++;
      const now = Date.now();
      if (now - this.lastRefusedLogMs >= REJECTED_LOG_MILLIS) {
        this.lastRefusedLogMs = now;
        this.options.warn(`Kubernetes pod watch knows ${this.options.maxPods} pods (kubernetes.api.maxPods): new pods are not kept, and their binds are named from the log tree; refused pods are counted in bindsnoop_kubernetes_pods_refused_total`);
      }
      return false;
    }
    this.pods.set(pod.uid, pod);
    this.changeListener?.();
    return true;
  }

  private evictOldestDeleted(): boolean {
    let oldest: [string, number] | undefined;
    for (const [uid, entry] of this.pods) {
      if (entry.deletedAtMs !== undefined && (oldest === undefined || entry.deletedAtMs < oldest[1])) oldest = [uid, entry.deletedAtMs];
    }
    if (oldest) this.pods.delete(oldest[0]);
    return oldest !== undefined;
  }

  /** One watch from this.version, which follows the events; returns when the server ends it. */
  private async watch(client: ApiClient): Promise<void> {
    const [min, max] = WATCH_TIMEOUT_SECONDS;
    const timeoutSeconds = String(min + Math.floor(Math.random() * (max - min)));
    let events = 0;
    const startedMs = Date.now();
    // a watch still open after SHORT_WATCH_MILLIS works, events or not: the episode of failures is over
    const calm = setTimeout(() => this.recovered(), SHORT_WATCH_MILLIS);
    try {
      await client.stream(this.podsPath({ watch: 'true', resourceVersion: this.version, allowWatchBookmarks: 'true', timeoutSeconds }), {
        maxLineBytes: MAX_WATCH_EVENT_BYTES,
        idleMillis: this.options.watchIdleMillis,
        maxLinesPerSecond: MAX_WATCH_EVENTS_PER_SECOND,
        maxBytesPerSecond: MAX_WATCH_BYTES_PER_SECOND,
        signal: this.abort.signal,
        onLine: (line) => {
          this.eventsRead++;
          const v = this.event(line);
          if (v === undefined) return;
          if (v) this.version = v;
          events++;
        },
      });
    } catch (e) {
      if (e instanceof ApiError && e.status === 410) throw new Expired('HTTP 410');
      if (e instanceof ApiError && e.failure === 'timeout') throw new WatchIdle();
      throw e;
    } finally {
      clearTimeout(calm);
    }
    const lasted = Date.now() - startedMs;
    if (lasted < SHORT_WATCH_MILLIS) {
      throw new WatchFault('short_watch', events === 0 ? 'the watch ended at once with no event' : `the watch ended after ${lasted} ms (${events} events)`);
    }
  }

  /** Applies one watch event; returns its resourceVersion, or undefined for an event skipped. Throws on ERROR. */
  private event(line: string): string | undefined {
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      return this.reject('not JSON');
    }
    if (!isRecord(event)) return this.reject('not an object');
    const { type, object } = event;
    if (type === 'ERROR') {
      if (isExpiredStatus(object)) throw new Expired('ERROR 410');
      const message = isRecord(object) && typeof object.message === 'string' ? object.message : 'no message';
      const code = isRecord(object) && typeof object.code === 'number' ? ` ${object.code}` : '';
      throw new WatchFault('watch_error', `watch ERROR${code}: ${message}`);
    }
    const md = isRecord(object) ? object.metadata : undefined;
    const version = isRecord(md) && typeof md.resourceVersion === 'string' ? md.resourceVersion : undefined;
    if (type === 'BOOKMARK') return version ?? this.reject('a bookmark without a resourceVersion');
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return this.reject(`type ${JSON.stringify(type)?.slice(0, 40)}`);
    const pod = this.parse(object);
    if (!pod) return this.reject(`a ${type} event with no pod metadata`);
    if (type === 'DELETED') {
      const entry = this.pods.get(pod.uid);
      if (entry) entry.deletedAtMs ??= Date.now();
      this.changeListener?.();
    } else {
      this.store(pod);
    }
    return version ?? '';
  }

  private parse(object: unknown): ApiPod | undefined {
    const { pod, rejectedValues } = apiPod(object, this.options.labelKeys);
    this.valuesRejected += rejectedValues;
    return pod;
  }

  /** Counts and (at most once a minute) says why an event was skipped. */
  private reject(why: string): undefined {
    this.eventsRejected++;
    const now = Date.now();
    if (now - this.lastRejectedLogMs >= REJECTED_LOG_MILLIS) {
      this.lastRejectedLogMs = now;
      this.options.warn(`Kubernetes pod watch skipped an event (${why}); skipped events are counted in bindsnoop_kubernetes_events_rejected_total`);
    }
    return undefined;
  }

  private failed(e: unknown): void {
    const reason: WatchFailure = e instanceof Expired ? 'expired' : e instanceof WatchFault ? e.reason : e instanceof ApiError ? e.failure : 'network';
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
    // one warning an episode, and one more for each refusal in it that an operator must fix, a credential (401)
    // or a permission (403) (a connection cut, then a refused token: both told, once each, however often
    // retried); then the line saying it is over
    if (this.failuresInARow++ === 0) this.toldInEpisode.clear();
    const kind = e instanceof ApiError && (e.status === 401 || e.status === 403) ? `http ${e.status}` : 'other';
    if (!this.toldInEpisode.has(kind)) {
      this.toldInEpisode.add(kind);
      const why = e instanceof Expired ? 'history expired (410 Gone); listing again' : describeWatchError(e);
      this.options.warn(`Kubernetes pod watch failed (${why}); retrying with backoff from ${this.options.restartDelayMillis} ms`);
    }
  }

  /** A watch brought an event: the episode of failures, if any, is over. */
  private recovered(): void {
    if (this.failuresInARow > 0) this.options.warn(`Kubernetes pod watch recovered after ${this.failuresInARow} failed attempts`);
    this.failuresInARow = 0;
  }

  private sleep(millis: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleepTimer = undefined;
        resolve();
      }, millis);
      this.sleepTimer = { timer, resolve };
    });
  }

  /** Forgets the pods deleted longer than the grace period ago. */
  evictExpired(nowMs = Date.now()): void {
    for (const [uid, entry] of this.pods) {
      if (entry.deletedAtMs !== undefined && nowMs - entry.deletedAtMs > this.options.graceMillis) this.pods.delete(uid);
    }
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

  /** Calls `listener` after a pod is added, changed or deleted. */
  onChange(listener: () => void): void {
    this.changeListener = listener;
  }

  /** The first list has answered. */
  isSynced(): boolean {
    return this.synced;
  }

  /** Calls `listener` once the first list has answered (at once if it has). */
  onSynced(listener: () => void): void {
    if (this.synced) listener();
    else this.syncedListeners.push(listener);
  }

  errorCount(): number {
    let n = 0;
    for (const v of this.failures.values()) n += v;
    return n;
  }

  counts(): PodWatchCounts {
    return { eventsRejected: this.eventsRejected, valuesRejected: this.valuesRejected, eventsRead: this.eventsRead, podsRefused: this.podsRefused, idleRenewals: this.idleRenewals, failures: this.failures };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.sleepTimer) {
      clearTimeout(this.sleepTimer.timer);
      this.sleepTimer.resolve();
    }
    await this.running;
    this.client?.close();
  }
}

const MAX_BACKOFF_MILLIS = 60_000;

/** base * 2^failures, capped at a minute, with +-20% jitter so a fleet of agents does not retry in step. */
export function backoffMillis(baseMillis: number, failures: number, random: () => number = Math.random): number {
  const delay = Math.min(MAX_BACKOFF_MILLIS, baseMillis * 2 ** Math.max(0, Math.min(failures, 16)));
  return Math.round(delay * (0.8 + 0.4 * random()));
}

/** Longest part of an API error's text that reaches the log: a server may answer with megabytes. */
export const MAX_LOGGED_ERROR_CHARS = 300;

/**
 * One short line for a watch error: the message's first
 * MAX_LOGGED_ERROR_CHARS characters with control characters escaped. Pure.
 */
export function describeWatchError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const text = typeof e?.message === 'string' ? e.message : typeof e?.code === 'string' ? e.code : String(err);
  // eslint-disable-next-line no-control-regex
  const line = text.slice(0, MAX_LOGGED_ERROR_CHARS).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text.length > MAX_LOGGED_ERROR_CHARS ? `${line}... (${text.length} characters)` : line;
}
