import type { BindEvent } from '../../src/model/event';
import type { NamedBind } from '../../src/model/named-bind';
import { bindAttributes } from '../../src/naming/bind-attributes';

export function addr4(...octets: number[]): Uint8Array {
  const b = new Uint8Array(16);
  b.set(octets);
  return b;
}

/** A path as the kernel writes it: its names leaf first, each NUL-terminated. */
export function exeNames(path: string): Uint8Array {
  return Buffer.from(path.split('/').filter(Boolean).reverse().map((n) => `${n}\0`).join(''));
}

/** A successful IPv4 TCP bind of 0.0.0.0:80 by nginx, with fields to override. */
export function makeEvent(overrides: Partial<BindEvent> = {}): BindEvent {
  return {
    tsBootNs: 1_000_000_000n,
    cgroupId: 1n,
    mntnsId: 4026531841,
    netnsId: 4026531840,
    pid: 1234,
    tid: 1235,
    ppid: 1,
    parentComm: Buffer.from('systemd'),
    startBootNs: 500_000_000n,
    uid: 0,
    ret: 0,
    boundDevIf: 0,
    family: 2,
    boundAddr: addr4(0, 0, 0, 0),
    boundPort: 80,
    reqFamily: 2,
    reqAddr: addr4(0, 0, 0, 0),
    reqPort: 80,
    protocol: 6,
    opts: 0,
    flags: 0,
    comm: Buffer.from('nginx'),
    cgroupName: '',
    cgroupParentName: '',
    exeNames: exeNames('/usr/sbin/nginx'),
    ...overrides,
  };
}

/** An event as the router hands it to the outputs: attributes computed once, the agent's resource. */
export function named(event: BindEvent, wallNs = 0n, interfaceName?: string): NamedBind {
  return { event, attributes: bindAttributes(event, interfaceName), resource: {}, wallNs };
}
