import type { ApiAccess } from './api-access';
import { ApiClient, ApiError } from './api-client';
import { backoffMillis } from './pod-watch';

/** A DaemonSet's list or watch reply is small: one object, or its events. */
const MAX_REPLY_BYTES = 1 << 20;
const LIST_TIMEOUT_MILLIS = 10_000;
/** the server ends a watch after this many seconds; then it is listed and watched again */
const WATCH_TIMEOUT_SECONDS = 600;
const MAX_EVENTS_PER_SECOND = 50;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether an object of the API is being deleted (its metadata has a deletionTimestamp). Pure. */
function beingDeleted(object: unknown): boolean {
  return isRecord(object) && isRecord(object.metadata) && typeof object.metadata.deletionTimestamp === 'string';
}

/**
 * What a list of the DaemonSet (fieldSelector metadata.name) says: `present` (there, not being deleted),
 * `deleting`, or `absent`; undefined for a reply that is not a list. Pure.
 */
export function daemonSetInList(list: unknown): 'present' | 'deleting' | 'absent' | undefined {
  if (!isRecord(list) || !Array.isArray(list.items)) return undefined;
  if (list.items.length === 0) return 'absent';
  return list.items.some(beingDeleted) ? 'deleting' : 'present';
}

/** Whether one watch event's line says the DaemonSet is deleted or being deleted. Pure. */
export function daemonSetGoneIn(line: string): boolean {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return false;
  }
  if (!isRecord(event)) return false;
  return event.type === 'DELETED' || ((event.type === 'MODIFIED' || event.type === 'ADDED') && beingDeleted(event.object));
}

/** "NAMESPACE/NAME" split, or undefined when it is not that (each a DNS-1123 name). Pure. */
export function parseDaemonSetRef(ref: string): { namespace: string; name: string } | undefined {
  const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?)$/.exec(ref);
  return m ? { namespace: m[1], name: m[3] } : undefined;
}

export interface DaemonSetWatchOptions {
  access: ApiAccess;
  namespace: string;
  name: string;
  restartDelayMillis: number;
  warn: (line: string) => void;
}

/**
 * Watches the DaemonSet the agent runs in (kubernetes.daemonSet), to know at a stop whether a next agent will
 * come: a DaemonSet deleted (helm uninstall, kubectl delete) means none will, and the pinned handover set is removed
 * rather than left attached. Listed, then watched from the list's version, again after each end or failure (with
 * the pod watch's backoff); one warning an episode of failures. Seen once and then absent from a list counts as
 * deleted (the deletion fell between two watches).
 */
export class DaemonSetWatch {
  private client: ApiClient;
  private readonly abort = new AbortController();
  private stopped = false;
  private gone = false;
  private seen = false;
  private failures = 0;
  private told = false;
  private running?: Promise<void>;

  constructor(private readonly options: DaemonSetWatchOptions) {
    this.client = new ApiClient(options.access);
  }

  start(): void {
    this.running = this.loop();
  }

  /** The DaemonSet was deleted, or is being deleted, while the agent watched it. */
  deleted(): boolean {
    return this.gone;
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.options.warn(`the DaemonSet ${this.options.namespace}/${this.options.name} is deleted: no agent will take over, so the pinned handover set is removed when this one stops`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.running;
    this.client.close();
  }

  private path(query: Record<string, string>): string {
    const { namespace, name } = this.options;
    const q = new URLSearchParams({ fieldSelector: `metadata.name=${name}`, ...query });
    return `/apis/apps/v1/namespaces/${namespace}/daemonsets?${q.toString()}`;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && !this.gone) {
      try {
        const version = await this.list();
        if (this.gone) return;
        const startedMs = Date.now();
        await this.client.stream(this.path({ watch: 'true', resourceVersion: version, timeoutSeconds: String(WATCH_TIMEOUT_SECONDS) }), {
          maxLineBytes: MAX_REPLY_BYTES,
          idleMillis: (WATCH_TIMEOUT_SECONDS + 60) * 1000,
          maxLinesPerSecond: MAX_EVENTS_PER_SECOND,
          maxBytesPerSecond: MAX_REPLY_BYTES,
          signal: this.abort.signal,
          onLine: (line) => {
            if (daemonSetGoneIn(line)) this.markGone();
          },
        });
        // a watch the server ends at once is a failure (backed off), not a loop
        if (!this.gone && Date.now() - startedMs < 1000) throw new ApiError('malformed', 'the DaemonSet watch ended at once');
        this.failures = 0;
        this.told = false;
      } catch (e) {
        if (this.stopped) return;
        this.failures++;
        if (!this.told) {
          this.told = true;
          const why = e instanceof ApiError ? e.message : String(e);
          this.options.warn(
            `cannot watch the DaemonSet ${this.options.namespace}/${this.options.name} (${why}): were it deleted meanwhile, the pinned handover set would stay attached at the stop (bindsnoop cleanup removes it); retrying with backoff`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffMillis(this.options.restartDelayMillis, this.failures - 1));
          this.abort.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    }
  }

  /** Lists it: its state, and the version to watch from. */
  private async list(): Promise<string> {
    const chunks: Buffer[] = [];
    await this.client.getChunked(this.path({}), { maxBytes: MAX_REPLY_BYTES, timeoutMillis: LIST_TIMEOUT_MILLIS, signal: this.abort.signal, onChunk: (c) => chunks.push(c) });
    const list = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    const state = daemonSetInList(list);
    if (state === undefined) throw new ApiError('malformed', 'the DaemonSet list is not a list');
    if (state === 'deleting' || (state === 'absent' && this.seen)) this.markGone();
    if (state === 'present') this.seen = true;
    const version = isRecord(list) && isRecord(list.metadata) && typeof list.metadata.resourceVersion === 'string' ? list.metadata.resourceVersion : '';
    return version;
  }
}
