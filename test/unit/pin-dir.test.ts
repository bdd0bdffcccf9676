import { describe, expect, it } from 'vitest';
import { flockHolder } from '../../src/kernel/pin-dir';

describe('flockHolder', () => {
  const locks = [
    '1: POSIX  ADVISORY  WRITE 900 00:27:5490790 0 EOF',
    '2: FLOCK  ADVISORY  WRITE 23724 00:27:5490790 0 EOF',
    '3: FLOCK  ADVISORY  WRITE 555 fd:01:5490790 0 EOF',
    '4: FLOCK  ADVISORY  READ 777 00:27:42 0 EOF',
    '',
  ].join('\n');

  it('names the pid of the exclusive flock on that device and inode, not a POSIX lock or another device', () => {
    expect(flockHolder(locks, 0x27, 5490790)).toBe(23724);
    expect(flockHolder(locks, (0xfd << 8) | 1, 5490790)).toBe(555);
  });

  it('is undefined when nobody holds it, or for shared locks and garbage', () => {
    expect(flockHolder(locks, 0x27, 42)).toBeUndefined();
    expect(flockHolder(locks, 0x27, 1)).toBeUndefined();
    expect(flockHolder('garbage\n\u0000', 0x27, 5490790)).toBeUndefined();
  });
});
