/**
 * A PodList read as it streams: each element of its top-level `items` array is
 * handed on as the text of one JSON value as soon as it is whole, and the
 * list's `metadata` (resourceVersion, continue) is kept, so that a list of any
 * size costs one pod's memory at a time, never the whole document parsed at
 * once. The structure is checked as far as splitting needs (strings, escapes,
 * nesting); each element and the metadata are then parsed by JSON.parse.
 * Nothing but bytes in, element texts out: pure apart from its callback.
 */
export class ListStreamError extends Error {
  constructor(
    readonly reason: 'malformed' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
/** a top-level key longer than this is none the reader looks for */
const MAX_KEY_BYTES = 32;
/** the list's own metadata is a few small fields */
const MAX_METADATA_BYTES = 64 * 1024;

export interface ListMetadata {
  resourceVersion?: string;
  continue?: string;
}

export class PodListStream {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** the top-level key being read, while in it */
  private keyBytes?: number[];
  private lastKey = '';
  private expectKey = false;
  /** the element or metadata being captured: its parts so far, and where it starts in the current chunk */
  private capture?: { what: 'item' | 'metadata'; parts: Buffer[]; from: number; bytes: number };
  private inItems = false;
  private sawItems = false;
  private ended = false;
  private metadataText?: string;

  constructor(
    /** each element of `items`, as the text of one JSON value */
    private readonly onItem: (text: string) => void,
    /** an element longer than this fails the list */
    private readonly maxItemBytes: number,
  ) {}

  write(chunk: Buffer): void {
    const n = chunk.length;
    if (this.capture) this.capture.from = 0;
    for (let i = 0; i < n; i++) {
      if (this.ended) {
        if (!isSpace(chunk[i])) throw new ListStreamError('malformed', 'bytes after the end of the list');
        continue;
      }
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          this.keyByte(chunk[i]);
          continue;
        }
        // the next quote or backslash, without looking at every byte of a long string
        let q = chunk.indexOf(QUOTE, i);
        const b = chunk.indexOf(BACKSLASH, i);
        if (b !== -1 && (q === -1 || b < q)) q = b;
        const end = q === -1 ? n : q;
        if (this.keyBytes) for (let k = i; k < end && this.keyBytes.length <= MAX_KEY_BYTES; k++) this.keyBytes.push(chunk[k]);
        if (q === -1) break;
        i = q;
        if (chunk[q] === BACKSLASH) {
          this.escaped = true;
          this.keyByte(BACKSLASH);
          continue;
        }
        this.inString = false;
        if (this.keyBytes) {
          this.lastKey = this.keyBytes.length <= MAX_KEY_BYTES ? Buffer.from(this.keyBytes).toString('latin1') : '';
          this.keyBytes = undefined;
        }
        continue;
      }
      const c = chunk[i];
      switch (c) {
        case QUOTE:
          this.inString = true;
          if (this.depth === 1 && this.expectKey) this.keyBytes = [];
          break;
        case LBRACE:
        case LBRACKET:
          if (this.depth === 0 && c !== LBRACE) throw new ListStreamError('malformed', 'the reply is not a JSON object');
          if (this.depth === 1 && !this.expectKey) {
            if (c === LBRACKET && this.lastKey === 'items' && !this.sawItems) {
              this.inItems = this.sawItems = true;
              this.startCapture('item', i + 1);
            } else if (c === LBRACE && this.lastKey === 'metadata') {
              this.startCapture('metadata', i);
            }
          }
          this.depth++;
          if (this.depth === 1) this.expectKey = true;
          break;
        case RBRACE:
        case RBRACKET:
          if (this.depth === 0) throw new ListStreamError('malformed', 'unbalanced brackets');
          if (this.depth === 2 && this.inItems && c === RBRACKET) {
            this.endItem(chunk, i);
            this.inItems = false;
          }
          this.depth--;
          if (this.depth === 1 && this.capture?.what === 'metadata') this.endMetadata(chunk, i + 1);
          if (this.depth === 0) this.ended = true;
          break;
        case COMMA:
          if (this.depth === 2 && this.inItems) {
            this.endItem(chunk, i);
            this.startCapture('item', i + 1);
          } else if (this.depth === 1) this.expectKey = true;
          break;
        case COLON:
          if (this.depth === 1) this.expectKey = false;
          break;
        default:
          if (this.depth === 0 && !isSpace(c)) throw new ListStreamError('malformed', 'the reply is not a JSON object');
      }
    }
    if (this.capture) {
      const part = chunk.subarray(this.capture.from);
      this.capture.bytes += part.length;
      this.capture.parts.push(part);
      this.checkCaptureSize();
    }
  }

  /** The list's metadata once the whole document was read; throws when it was not a whole PodList. */
  end(): ListMetadata {
    if (!this.ended || this.inString) throw new ListStreamError('malformed', 'the reply ended before the list did');
    if (!this.sawItems) throw new ListStreamError('malformed', 'the reply is not a PodList (no items list)');
    let md: unknown;
    try {
      md = this.metadataText === undefined ? undefined : JSON.parse(this.metadataText);
    } catch {
      throw new ListStreamError('malformed', "the list's metadata is not JSON");
    }
    const field = (k: string): string | undefined => {
      const v = md !== null && typeof md === 'object' ? (md as Record<string, unknown>)[k] : undefined;
      return typeof v === 'string' ? v : undefined;
    };
    return { resourceVersion: field('resourceVersion'), continue: field('continue') };
  }

  private keyByte(b: number): void {
    if (this.keyBytes && this.keyBytes.length <= MAX_KEY_BYTES) this.keyBytes.push(b);
  }

  private startCapture(what: 'item' | 'metadata', from: number): void {
    this.capture = { what, parts: [], from, bytes: 0 };
  }

  /** The capture's text up to `to` in this chunk (exclusive). */
  private takeCapture(chunk: Buffer, to: number): string {
    const c = this.capture!;
    const last = chunk.subarray(c.from, to);
    c.bytes += last.length;
    this.checkCaptureSize();
    const text = c.parts.length === 0 ? last.toString('utf8') : Buffer.concat([...c.parts, last]).toString('utf8');
    this.capture = undefined;
    return text;
  }

  private checkCaptureSize(): void {
    const c = this.capture!;
    const max = c.what === 'item' ? this.maxItemBytes : MAX_METADATA_BYTES;
    if (c.bytes > max) throw new ListStreamError('too_large', c.what === 'item' ? `a pod in the list was larger than ${max} bytes` : `the list's metadata was larger than ${max} bytes`);
  }

  private endItem(chunk: Buffer, to: number): void {
    const text = this.takeCapture(chunk, to);
    // "[]" and "[ ]": no element
    if (text.trim() !== '') this.onItem(text);
  }

  private endMetadata(chunk: Buffer, to: number): void {
    this.metadataText = this.takeCapture(chunk, to);
  }
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}
