import * as http from 'node:http';
import * as https from 'node:https';
import type { ApiAccess } from './api-access';

/**
 * Why a request to the API failed, in a word a metric can carry: `http` (a
 * status, in `status`), `network` (refused, reset, DNS, TLS), `timeout`,
 * `too_large` (a body or line past its bound), `malformed` (not the JSON the
 * API sends), `aborted` (the agent stopped).
 */
export type ApiFailure = 'http' | 'network' | 'timeout' | 'too_large' | 'malformed' | 'aborted';

export class ApiError extends Error {
  constructor(
    readonly failure: ApiFailure,
    message: string,
    readonly status?: number,
    /** a 429 or 503's Retry-After, in milliseconds, when it gave one */
    readonly retryAfterMillis?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Bytes of an error reply read for its message (a Status's message); the rest is not read. */
const MAX_ERROR_BODY_BYTES = 4096;

export interface JsonRequest {
  /** the body past this many bytes fails the request as too_large */
  maxBytes: number;
  /** the whole exchange past this fails as timeout */
  timeoutMillis: number;
  signal?: AbortSignal;
}

export interface ChunkedRequest extends JsonRequest {
  /** each piece of the body as it comes; what it throws fails the request with it */
  onChunk: (chunk: Buffer) => void;
}

export interface StreamRequest {
  /** one line past this fails the stream as too_large */
  maxLineBytes: number;
  /** no byte for this long fails the stream as timeout */
  idleMillis: number;
  signal?: AbortSignal;
  /** each complete line (without its newline); what it throws ends the stream, rejected with it */
  onLine: (line: string) => void;
  /**
   * At most this many lines and bytes are read a second: past either, reading
   * pauses until the second is over (the server holds the rest), so a server
   * streaming without end costs a bounded share of a core.
   */
  maxLinesPerSecond: number;
  maxBytesPerSecond: number;
}

/**
 * Retry-After in milliseconds: delta-seconds or an HTTP date; undefined when
 * absent or not one of those. Pure.
 */
export function retryAfterMillis(header: string | string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** "HTTP 403: pods is forbidden..." from an error reply's start (a Status object's message when it is one). */
function statusMessage(status: number, body: Buffer): string {
  let text = body.toString('utf8');
  try {
    const s = JSON.parse(text) as { message?: unknown };
    if (typeof s?.message === 'string') text = s.message;
  } catch {
    // a Status cut at MAX_ERROR_BODY_BYTES still shows its message's start; anything else is shown as it is
    const cut = /"message"\s*:\s*"((?:[^"\\]|\\.)*)/.exec(text);
    if (cut) text = cut[1];
  }
  return text ? `HTTP ${status}: ${text}` : `HTTP ${status}`;
}

/**
 * GET requests to the Kubernetes API over the Node.js HTTP client, every read
 * bounded: a body read as it comes by bytes and time, a watch stream by line
 * length, silence and rate. Nothing the server sends is trusted to end.
 */
export class ApiClient {
  private readonly agent: http.Agent;

  constructor(private readonly access: ApiAccess) {
    const tls = access.server.protocol === 'https:';
    this.agent = tls
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 4,
          ca: access.ca,
          cert: access.cert,
          key: access.key,
          rejectUnauthorized: !access.insecure,
          servername: access.serverName,
        })
      : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  /** The server, as a URL with no credentials (for messages). */
  get server(): string {
    return this.access.server.origin;
  }

  /**
   * One GET: `onResponse` gets a 2xx reply and ends the exchange with `finish`
   * or `fail`; any other status fails it with the start of its message.
   */
  private request(pathAndQuery: string, signal: AbortSignal | undefined, onResponse: (res: http.IncomingMessage, exchange: Exchange) => void): Exchange & { done: Promise<void> } {
    const url = new URL(pathAndQuery, this.access.server);
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json', 'user-agent': 'bindsnoop-otel' };
    const authorization = this.access.authorization();
    if (authorization) headers.authorization = authorization;
    if (this.access.impersonate) {
      headers['impersonate-user'] = this.access.impersonate.user;
      if (this.access.impersonate.groups.length > 0) headers['impersonate-group'] = this.access.impersonate.groups;
    }
    const get = url.protocol === 'https:' ? https.get : http.get;
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    let ended = false;
    const req = get(url, { agent: this.agent, headers });
    const fail = (e: Error): void => {
      if (ended) return;
      ended = true;
      req.destroy();
      signal?.removeEventListener('abort', onAbort);
      settle.reject(e);
    };
    const onAbort = (): void => fail(new ApiError('aborted', 'stopped'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => fail(new ApiError('network', e.code ?? e.message)));
    req.on('response', (res) => {
      res.on('error', (e: NodeJS.ErrnoException) => fail(new ApiError('network', e.code ?? e.message)));
      res.on('aborted', () => fail(new ApiError('network', 'the server closed the connection mid-reply')));
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        if (status === 401) this.access.rejected?.();
        const chunks: Buffer[] = [];
        let size = 0;
        const retryAfter = status === 429 || status === 503 ? retryAfterMillis(res.headers['retry-after'], Date.now()) : undefined;
        res.on('data', (c: Buffer) => {
          if (size < MAX_ERROR_BODY_BYTES) chunks.push(c.subarray(0, MAX_ERROR_BODY_BYTES - size));
          size += c.length;
          if (size >= MAX_ERROR_BODY_BYTES) fail(new ApiError('http', statusMessage(status, Buffer.concat(chunks)), status, retryAfter));
        });
        res.on('end', () => fail(new ApiError('http', statusMessage(status, Buffer.concat(chunks)), status, retryAfter)));
        return;
      }
      onResponse(res, { fail, finish });
    });
    const finish = (): void => {
      if (ended) return;
      ended = true;
      signal?.removeEventListener('abort', onAbort);
      settle.resolve();
    };
    return { fail, finish, done };
  }

  /** A body read as it comes, each piece to `onChunk`; at most `maxBytes`, within `timeoutMillis`. */
  getChunked(pathAndQuery: string, options: ChunkedRequest): Promise<void> {
    let size = 0;
    const { fail, done } = this.request(pathAndQuery, options.signal, (res, { fail, finish }) => {
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > options.maxBytes) {
          fail(new ApiError('too_large', `the reply was larger than ${options.maxBytes} bytes`));
          return;
        }
        try {
          options.onChunk(c);
        } catch (e) {
          fail(e as Error);
        }
      });
      res.on('end', finish);
    });
    const timer = setTimeout(() => fail(new ApiError('timeout', `no whole reply within ${options.timeoutMillis} ms`)), options.timeoutMillis);
    return done.finally(() => clearTimeout(timer));
  }

  /**
   * A stream of lines (a watch), until the server ends it (resolves) or anything
   * fails (rejects). Only a line with something on it counts as life: blank
   * keep-alive lines do not hold off the idle bound.
   */
  stream(pathAndQuery: string, options: StreamRequest): Promise<void> {
    let timer: NodeJS.Timeout | undefined; // eslint-disable-line prefer-const -- set by the response callback, after this line
    let resumeTimer: NodeJS.Timeout | undefined;
    const { fail, done } = this.request(pathAndQuery, options.signal, (res, { fail, finish }) => {
      res.setEncoding('utf8');
      let partial = '';
      let windowStartMs = Date.now();
      let linesInWindow = 0;
      let bytesInWindow = 0;
      res.on('data', (text: string) => {
        let from = 0;
        bytesInWindow += text.length;
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
          const line = partial + text.slice(from, nl);
          partial = '';
          from = nl + 1;
          if (line.length > options.maxLineBytes) {
            fail(new ApiError('too_large', `a watch event was longer than ${options.maxLineBytes} bytes`));
            return;
          }
          if (line.trim() === '') continue;
          timer?.refresh();
          linesInWindow++;
          try {
            options.onLine(line);
          } catch (e) {
            fail(e as Error);
            return;
          }
        }
        partial += text.slice(from);
        // a string's length counts UTF-16 units: at most the bytes it came from
        if (partial.length > options.maxLineBytes) {
          fail(new ApiError('too_large', `a watch event was longer than ${options.maxLineBytes} bytes`));
          return;
        }
        const now = Date.now();
        if (now - windowStartMs >= 1000) {
          windowStartMs = now;
          linesInWindow = bytesInWindow = 0;
        } else if (linesInWindow >= options.maxLinesPerSecond || bytesInWindow >= options.maxBytesPerSecond) {
          // the rest of this second is the server's to hold; the idle bound does not count it
          res.pause();
          resumeTimer = setTimeout(() => {
            windowStartMs = Date.now();
            linesInWindow = bytesInWindow = 0;
            timer?.refresh();
            res.resume();
          }, 1000 - (now - windowStartMs));
        }
      });
      res.on('end', finish);
    });
    timer = setTimeout(() => fail(new ApiError('timeout', `the watch was silent for ${options.idleMillis} ms`)), options.idleMillis);
    return done.finally(() => {
      clearTimeout(timer);
      clearTimeout(resumeTimer);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface Exchange {
  /** ends the exchange with this error (an ApiError, or what a line handler threw) */
  fail: (e: Error) => void;
  finish: () => void;
}
