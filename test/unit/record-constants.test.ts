import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as event from '../../src/model/event';

/**
 * The record's bits and limits are declared in bpf/bindsnoop.h (the kernel
 * program and the addon compile it); the TypeScript constants mirror them, and
 * this test keeps the two the same, so that a new bit cannot turn records into
 * "reader" losses unnoticed.
 */
const header = readFileSync(path.resolve(__dirname, '..', '..', 'bpf', 'bindsnoop.h'), 'utf8');
function defines(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(new RegExp(`^#define BINDSNOOP_${prefix}(\\w+)\\s+\\((\\d+)u << (\\d+)\\)`, 'gm'))) out.set(m[1], Number(m[2]) << Number(m[3]));
  return out;
}

describe('bpf/bindsnoop.h and the TypeScript constants', () => {
  it('define the same option bits, and KNOWN_OPTS is all of them', () => {
    const opts = defines('OPT_');
    expect(opts.size).toBe(5);
    for (const [name, bit] of opts) expect((event as unknown as Record<string, number>)[`OPT_${name}`], name).toBe(bit);
    expect(event.KNOWN_OPTS).toBe([...opts.values()].reduce((a, b) => a | b, 0));
  });

  it('define the same flag bits, and KNOWN_FLAGS is all of them', () => {
    const flags = defines('FLAG_');
    expect(flags.size).toBeGreaterThanOrEqual(4);
    for (const [name, bit] of flags) expect((event as unknown as Record<string, number>)[`FLAG_${name}`], name).toBe(bit);
    expect(event.KNOWN_FLAGS).toBe([...flags.values()].reduce((a, b) => a | b, 0));
  });

  it('define the same command-line bits, and the room the record has for it', () => {
    const bits = defines('ARGS_');
    expect([...bits.keys()].sort()).toEqual(['TITLE', 'TRUNCATED', 'UNREADABLE']);
    for (const [name, bit] of bits) expect((event as unknown as Record<string, number>)[`ARGS_${name}`], name).toBe(bit);
    // one byte of the room stays unused (the read's size is masked below BINDSNOOP_ARGS_LEN)
    expect(event.ARGS_ROOM).toBe(Number(/^#define BINDSNOOP_ARGS_LEN (\d+)/m.exec(header)?.[1]) - 1);
  });

  it('the port limit of -P and filter.ports is the kernel map\'s', () => {
    expect(event.MAX_PORTS).toBe(Number(/^#define BINDSNOOP_MAX_PORTS (\d+)/m.exec(header)?.[1]));
  });
});
