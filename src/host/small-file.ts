import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Why a small file could not be read: an errno code, or what it is instead. */
export class SmallFileError extends Error {
  constructor(
    readonly file: string,
    /** "ENOENT", "EACCES", ...; or "not a regular file", "larger than N bytes" */
    readonly reason: string,
    /** the file's size, when it is too large */
    readonly size?: number,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'SmallFileError';
  }
}

/**
 * A configuration, credential or certificate file, read whole: a regular file
 * of at most `maxBytes`. Opened without blocking and checked on the open file,
 * so a FIFO never hangs the start and a device (/dev/zero) or a huge file is
 * refused instead of read until memory runs out, even if the path is swapped
 * between a check and the read.
 */
export function readSmallFile(file: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new SmallFileError(file, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SmallFileError(file, 'not a regular file');
    if (st.size > maxBytes) throw new SmallFileError(file, `larger than ${maxBytes} bytes`, st.size);
    // read at most one byte past the bound: a file that grew meanwhile is refused too
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n <= maxBytes; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > maxBytes) throw new SmallFileError(file, `larger than ${maxBytes} bytes`);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof SmallFileError) throw e;
    throw new SmallFileError(file, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  } finally {
    closeSync(fd);
  }
}
