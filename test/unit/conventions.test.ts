import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import { bindAttributes } from '../../src/naming/bind-attributes';
import { addr4, makeEvent } from './events';

/**
 * Every attribute a record carries is either the semantic conventions' own
 * (the registry, as @opentelemetry/semantic-conventions publishes it, stable
 * or incubating) or in bindsnoop's namespace: no name of our own outside it.
 */
const REGISTRY = new Set<string>(
  [...(Object.entries(stable) as [string, unknown][]), ...(Object.entries(incubating) as [string, unknown][])]
    .filter(([name, value]) => name.startsWith('ATTR_') && typeof value === 'string')
    .map(([, value]) => value as string),
);

describe('the record\'s attribute names', () => {
  it('are the registry\'s, or bindsnoop.*', () => {
    const events = [
      makeEvent(),
      makeEvent({ ret: -98, boundPort: 0, reqAddr: addr4(10, 0, 0, 1), reqPort: 443 }),
      makeEvent({ family: 10, reqFamily: 10, boundDevIf: 2 }),
      makeEvent({ args: Buffer.from('nginx\0-g\0daemon off;\0'), argsFlags: 0 }),
    ];
    const names = new Set(events.flatMap((e) => Object.keys(bindAttributes(e, 'eth0', 1_700_000_000_000_000_000n))));
    expect([...names].filter((n) => !n.startsWith('bindsnoop.') && !REGISTRY.has(n))).toEqual([]);
    // the process facts read at the bind are the registry's names
    for (const n of ['process.pid', 'process.parent_pid', 'process.executable.path', 'process.executable.name', 'process.command_args', 'process.creation.time', 'process.real_user.id', 'thread.id', 'thread.name', 'error.type']) {
      expect(names.has(n), n).toBe(true);
      expect(REGISTRY.has(n), n).toBe(true);
    }
  });
});
