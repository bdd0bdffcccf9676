import { writeSync } from 'node:fs';

/** One batch of lines handed to stdout: `ends[i]` is where line i ends in `bytes`; each line is one bind (none for banners). */
interface Pending {
  bytes: Buffer;
  ends: number[];
  /** bytes of it written so far */
  written: number;
  /** lines of it written whole so far */
  linesDone: number;
}

/** How often a stdout that would block is tried again. */
const RETRY_MILLIS = 10;

/**
 * stdout for the table and JSON lines, accounted by the line: what a reader
 * took is known to the byte (write(2) says how many), so at exit every bind is
 * either printed whole or counted as not printed (a line cut short by the end
 * counts as not printed). What waits is bounded: past `maxBacklogBytes` new
 * lines are dropped and counted. The fd must be non-blocking when it is a pipe
 * (the caller sets it), so that a reader that stops reading never blocks the
 * agent. Runs on the JavaScript thread.
 */
export class StdoutWriter {
  private readonly queue: Pending[] = [];
  private backlogBytes = 0;
  private retry?: NodeJS.Timeout;
  private closed = false;
  /** binds whose line was dropped: the backlog was full, or stdout went away */
  notPrinted = 0;

  constructor(
    private readonly fd: number,
    private readonly maxBacklogBytes: number,
    /** the reader went away (EPIPE) */
    private readonly onClosed: () => void,
    private readonly write: (fd: number, bytes: Buffer, offset: number, length: number) => number = (fd, bytes, offset, length) => writeSync(fd, bytes, offset, length),
  ) {}

  /** Hands lines over; `binds` is how many of them are binds (each ends with "\n"); banners pass 0. */
  print(text: string | Buffer, binds: number): void {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    if (this.closed || (binds > 0 && this.backlogBytes + bytes.length > this.maxBacklogBytes)) {
      this.notPrinted += binds;
      return;
    }
    const ends: number[] = [];
    if (binds > 0) for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) ends.push(i + 1);
    this.queue.push({ bytes, ends, written: 0, linesDone: 0 });
    this.backlogBytes += bytes.length;
    if (!this.retry) this.flush();
  }

  /** What waits is at its bound (or the reader is gone): lines printed now would be dropped. */
  full(): boolean {
    return this.closed || this.backlogBytes >= this.maxBacklogBytes;
  }

  /** Binds whose lines were never made because this was full: counted with the rest not printed. */
  countDropped(binds: number): void {
    this.notPrinted += binds;
  }

  /** Binds in lines not yet written whole. */
  waitingBinds(): number {
    let n = 0;
    for (const p of this.queue) n += p.ends.length - p.linesDone;
    return n;
  }

  /** Writes what it can now; schedules another try when stdout would block. */
  flush(): void {
    this.retry = undefined;
    while (this.queue.length > 0 && !this.closed) {
      const p = this.queue[0];
      let n: number;
      try {
        n = this.write(this.fd, p.bytes, p.written, p.bytes.length - p.written);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          this.retry = setTimeout(() => this.flush(), RETRY_MILLIS);
          this.retry.unref();
          return;
        }
        // EPIPE and anything else: nobody will read what waits
        this.closed = true;
        this.onClosed();
        return;
      }
      p.written += n;
      this.backlogBytes -= n;
      while (p.linesDone < p.ends.length && p.ends[p.linesDone] <= p.written) p.linesDone++;
      if (p.written === p.bytes.length) this.queue.shift();
    }
  }

  /**
   * At exit: keeps writing for up to `waitMillis`, then counts the binds whose
   * lines are still not written whole as not printed. Returns the total not printed.
   */
  async finish(waitMillis: number): Promise<number> {
    const deadline = Date.now() + waitMillis;
    while (this.queue.length > 0 && !this.closed && Date.now() < deadline) {
      this.flush();
      if (this.queue.length > 0) await new Promise((r) => setTimeout(r, RETRY_MILLIS));
    }
    clearTimeout(this.retry);
    this.notPrinted += this.waitingBinds();
    this.queue.length = 0;
    this.backlogBytes = 0;
    this.closed = true;
    return this.notPrinted;
  }
}
