import { describe, expect, it } from 'vitest';
import { StdoutWriter } from '../../src/cli/stdout-writer';

/** A stdout that takes at most `room` bytes, then says EAGAIN (a pipe whose reader stopped). */
function pipe(room: number): { taken: Buffer[]; write: (fd: number, b: Buffer, off: number, len: number) => number; grow(n: number): void } {
  const taken: Buffer[] = [];
  return {
    taken,
    grow(n) {
      room += n;
    },
    write(_fd, b, off, len) {
      if (room === 0) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      const n = Math.min(len, room);
      room -= n;
      taken.push(b.subarray(off, off + n));
      return n;
    },
  };
}

describe('StdoutWriter', () => {
  it('accounts by the line: a line cut short counts as not printed, and the books balance', async () => {
    const p = pipe(25);
    const w = new StdoutWriter(1, 1 << 20, () => undefined, p.write);
    w.print('banner\n', 0);
    w.print('one 1\ntwo 2\nthree 3\n', 3); // 7 + 6 + 6 = 19 of 25 bytes: "three 3" is cut after 6
    expect(w.waitingBinds()).toBe(1);
    const notPrinted = await w.finish(30);
    expect(notPrinted).toBe(1);
    expect(Buffer.concat(p.taken).toString()).toBe('banner\none 1\ntwo 2\nthree ');
  });

  it('drops and counts past its backlog bound, and writes the rest once the reader reads again', async () => {
    const p = pipe(0);
    const w = new StdoutWriter(1, 20, () => undefined, p.write);
    w.print('aaaa\nbbbb\n', 2);
    w.print('cccc\ndddd\n', 2);
    w.print('eeee\n', 1); // 25 bytes would wait: dropped
    expect(w.notPrinted).toBe(1);
    p.grow(1000);
    expect(await w.finish(1000)).toBe(1);
    expect(Buffer.concat(p.taken).toString()).toBe('aaaa\nbbbb\ncccc\ndddd\n');
  });

  it('a reader that went away (EPIPE) is reported once and nothing more is written', async () => {
    let closed = 0;
    const w = new StdoutWriter(1, 1 << 20, () => closed++, () => {
      throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
    });
    w.print('x\n', 1);
    w.print('y\n', 1);
    expect(closed).toBe(1);
    expect(await w.finish(10)).toBe(2);
  });
});
