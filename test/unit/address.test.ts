import { describe, expect, it } from 'vitest';
import { formatAddress, formatIPv4, formatIPv6 } from '../../src/naming/net/address';

/** 16 bytes of an IPv6 address from its 8 words. */
function v6(...words: number[]): Uint8Array {
  const b = new Uint8Array(16);
  words.forEach((w, i) => {
    b[2 * i] = w >> 8;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
}

describe('address text exactly as glibc inet_ntop writes it (what bcc prints)', () => {
  // expected values: Python's socket.inet_ntop on glibc
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], '::ffff:1.2.3.4'],
    [[0, 0, 0, 0, 0, 0, 0x0102, 0x0304], '::1.2.3.4'],
    [[0, 0, 0, 0, 0, 0, 0, 2], '::2'],
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'],
    [[0xfe80, 0, 0, 0, 1, 0, 0, 0], 'fe80::1:0:0:0'],
    [[1, 0, 2, 0, 3, 0, 4, 0], '1:0:2:0:3:0:4:0'],
    [[0, 0, 1, 0, 0, 0, 0, 0], '0:0:1::'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0, 0, 0, 0, 0, 0xffff, 0, 0], '::ffff:0.0.0.0'],
    [[0, 0, 0, 0, 0, 0xffff, 0, 1], '::ffff:0.0.0.1'],
    [[0, 0, 0, 0, 0, 0, 0, 0x100], '::100'],
    [[1, 2, 3, 4, 5, 6, 7, 8], '1:2:3:4:5:6:7:8'],
    [[0, 1, 0, 0, 0, 0, 0, 0], '0:1::'],
    [[0x2001, 0xdb8, 0xaaaa, 0xbbbb, 0, 0, 0, 1], '2001:db8:aaaa:bbbb::1'],
  ];
  for (const [words, text] of cases) {
    it(`writes ${text}`, () => expect(formatIPv6(v6(...words))).toBe(text));
  }

  it('writes IPv4 dotted quads', () => {
    expect(formatIPv4(new Uint8Array([127, 0, 0, 1]))).toBe('127.0.0.1');
    expect(formatIPv4(new Uint8Array([0, 0, 0, 0]))).toBe('0.0.0.0');
    expect(formatIPv4(new Uint8Array([255, 255, 255, 255]))).toBe('255.255.255.255');
  });

  it('picks the form by family and reads at an offset', () => {
    const buf = new Uint8Array(20);
    buf.set([10, 1, 2, 3], 4);
    expect(formatAddress(2, buf, 4)).toBe('10.1.2.3');
    expect(formatAddress(10, v6(0, 0, 0, 0, 0, 0, 0, 1))).toBe('::1');
  });
});
