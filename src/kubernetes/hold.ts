import type { BindEvent } from '../model/event';

export interface HoldOptions {
  /** a bind is held at most this long, then released as it resolves then */
  maxMillis: number;
  /** at most this many binds are held; past it a bind is not held (and counted) */
  maxRecords: number;
  /** how often held binds are looked at again */
  checkMillis: number;
}

/** What became of the binds the hold took. */
export interface HoldCounts {
  /** held now */
  held: number;
  /** released because they could be named in time (the API described their pod, their cgroup was placed) */
  described: number;
  /** released at maxMillis, named as far as known then (from the kubelet's log tree) */
  expired: number;
  /** not held because the hold was full (named from the log tree at once) */
  overflowed: number;
}

/**
 * A record's views into its batch, copied: a held bind must not keep the
 * reader's whole batch alive. Every byte field is copied, all into one block
 * of memory of the bind's own (one allocation, not six: a small ArrayBuffer
 * costs more than its bytes), the fields views into it. A Buffer's slice() is
 * a view, so it is not used.
 */
export function detached(e: BindEvent): BindEvent {
  const fields = [e.boundAddr, e.reqAddr, e.comm, e.parentComm, e.exeNames, e.args ?? EMPTY];
  let size = 0;
  for (const f of fields) size += f.byteLength;
  const block = new Uint8Array(size);
  let at = 0;
  const [boundAddr, reqAddr, comm, parentComm, exeNames, args] = fields.map((f) => {
    block.set(f, at);
    at += f.byteLength;
    return block.subarray(at - f.byteLength, at);
  });
  return { ...e, boundAddr, reqAddr, comm, parentComm, exeNames, ...(e.args && { args }) };
}

const EMPTY = new Uint8Array(0);

/**
 * Binds that cannot be named well yet, held until they can (bounded in time
 * and in records): binds of pods the Kubernetes API has not described yet, so
 * that a pod's resource is the same for its life (without it, binds made
 * before the first list answers, or before the watch brings a new container's
 * id, would be named from the kubelet's log tree alone: another service.name,
 * no labels), and binds from look-alike cgroups while their real path is
 * looked up off the event loop. Owns its timer; releases in arrival order.
 */
export class BindHold {
  private readonly queue: { event: BindEvent; untilMs: number }[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly counts: Omit<HoldCounts, 'held'> = { described: 0, expired: 0, overflowed: 0 };

  constructor(
    private readonly options: HoldOptions,
    /** whether the bind can be named now (the API has described its pod; its cgroup's path is known) */
    private readonly described: (e: BindEvent) => boolean,
    /** where released binds go */
    private readonly release: (events: BindEvent[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes the bind if it must wait; false when it can go on now (described, or the hold is full). */
  take(e: BindEvent): boolean {
    if (this.closed || this.options.maxMillis === 0 || this.described(e)) return false;
    if (this.queue.length >= this.options.maxRecords) {
      this.counts.overflowed++;
      return false;
    }
    this.queue.push({ event: detached(e), untilMs: this.now() + this.options.maxMillis });
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.options.checkMillis);
      this.timer.unref();
    }
    return true;
  }

  /** Releases the binds now described, and those past their time. */
  check(): void {
    const now = this.now();
    const out: BindEvent[] = [];
    let kept = 0;
    for (const h of this.queue) {
      if (this.described(h.event)) this.counts.described++;
      else if (now >= h.untilMs) this.counts.expired++;
      else {
        this.queue[kept++] = h;
        continue;
      }
      out.push(h.event);
    }
    this.queue.length = kept;
    if (kept === 0) this.stopTimer();
    if (out.length > 0) this.release(out);
  }

  /** Releases everything held now and holds nothing more (the agent is stopping): named as well as they can be. */
  flush(): void {
    this.closed = true;
    const out = this.queue.map((h) => h.event);
    this.counts.expired += out.length;
    this.queue.length = 0;
    this.stopTimer();
    if (out.length > 0) this.release(out);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  snapshot(): HoldCounts {
    return { held: this.queue.length, ...this.counts };
  }
}
