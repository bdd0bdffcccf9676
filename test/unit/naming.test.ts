import { describe, expect, it } from 'vitest';
import { BootClock } from '../../src/kernel/clock';
import { rfc3339Nanos } from '../../src/naming/time';
import { bindAttributes, optsString } from '../../src/naming/bind-attributes';
import { errnoName } from '../../src/naming/net/errno';
import { formatJsonLine } from '../../src/output/json';
import { ARGS_TRUNCATED, ARGS_UNREADABLE, FLAG_EXE_ANONYMOUS, FLAG_EXE_DELETED, FLAG_EXE_TRUNCATED, FLAG_EXE_UNREACHABLE, FLAG_KERNEL_THREAD } from '../../src/model/event';
import { addr4, exeNames, makeEvent } from './events';

describe('OPTS letters', () => {
  it('follow bcc\'s FTNRr order', () => {
    expect(optsString(0)).toBe('.....');
    expect(optsString(1)).toBe('F....');
    expect(optsString(2)).toBe('.T...');
    expect(optsString(4)).toBe('..N..');
    expect(optsString(8)).toBe('...R.');
    expect(optsString(16)).toBe('....r');
    expect(optsString(0b10101)).toBe('F.N.r');
  });
});

describe('errno names', () => {
  it('names bind\'s errors from either sign', () => {
    expect(errnoName(-98)).toBe('EADDRINUSE');
    expect(errnoName(99)).toBe('EADDRNOTAVAIL');
    expect(errnoName(-13)).toBe('EACCES');
    expect(errnoName(-22)).toBe('EINVAL');
    expect(errnoName(-97)).toBe('EAFNOSUPPORT');
    expect(errnoName(-11)).toBe('EAGAIN');
    expect(errnoName(-95)).toBe('EOPNOTSUPP');
    expect(errnoName(-4095)).toBe('ERRNO_4095');
  });
});

describe('the log attributes of a bind (contract section 2)', () => {
  it('carries every attribute, with its type, for a successful bind', () => {
    const a = bindAttributes(
      makeEvent({ family: 10, boundAddr: new Uint8Array([...Array(15).fill(0), 1]), boundPort: 8080, reqFamily: 10, reqAddr: new Uint8Array(16), reqPort: 0, protocol: 17, opts: 0b11001, boundDevIf: 2, cgroupId: 7788n, uid: 1000 }),
      'eth0',
      1_700_000_000_123_456_789n,
    );
    expect(a).toEqual({
      'process.pid': 1234,
      'thread.id': 1235,
      'thread.name': 'nginx',
      'process.real_user.id': 1000,
      'process.parent_pid': 1,
      'bindsnoop.parent.comm': 'systemd',
      'process.executable.path': '/usr/sbin/nginx',
      'process.executable.name': 'nginx',
      'process.creation.time': '2023-11-14T22:13:20.123456789Z',
      'network.transport': 'udp',
      'network.type': 'ipv6',
      'network.local.address': '::1',
      'network.local.port': 8080,
      'network.interface.name': 'eth0',
      'bindsnoop.return_code': 0,
      'bindsnoop.requested.address': '::',
      'bindsnoop.requested.port': 0,
      'bindsnoop.opts': 'F..Rr',
      'bindsnoop.opt.freebind': true,
      'bindsnoop.opt.transparent': false,
      'bindsnoop.opt.bind_address_no_port': false,
      'bindsnoop.opt.reuseaddr': true,
      'bindsnoop.opt.reuseport': true,
      'bindsnoop.bound_dev_if': 2,
      'bindsnoop.kernel_socket': false,
      'bindsnoop.kernel_thread': false,
      'bindsnoop.raw_socket': false,
      'bindsnoop.cgroup.id': 7788,
      'bindsnoop.mntns.id': 4026531841,
      'bindsnoop.netns.id': 4026531840,
    });
    // a start the kernel did not give (0) is left out
    expect(bindAttributes(makeEvent({ startBootNs: 0n }), undefined, 1n)).not.toHaveProperty('process.creation.time');
    // processes in turn each get their own (the last one's text is reused only for the same start)
    const starts = [1_700_000_000_000_000_001n, 1_700_000_000_000_000_002n, 1_700_000_000_000_000_001n];
    expect(starts.map((ns) => bindAttributes(makeEvent(), undefined, ns)['process.creation.time'])).toEqual([
      '2023-11-14T22:13:20.000000001Z',
      '2023-11-14T22:13:20.000000002Z',
      '2023-11-14T22:13:20.000000001Z',
    ]);
  });

  it('names the executable as /proc/PID/exe does, and says what is unusual about it', () => {
    const exe = (flags: number, names: Uint8Array) => {
      const a = bindAttributes(makeEvent({ flags, exeNames: names }));
      return [a['process.executable.path'], a['process.executable.name'], ['deleted', 'anonymous', 'unreachable', 'truncated'].filter((f) => a[`bindsnoop.process.executable.${f}`])];
    };
    expect(exe(0, exeNames('/opt/app/bin/server'))).toEqual(['/opt/app/bin/server', 'server', []]);
    expect(exe(FLAG_EXE_DELETED, exeNames('/tmp/x'))).toEqual(['/tmp/x (deleted)', 'x', ['deleted']]);
    expect(exe(FLAG_EXE_DELETED | FLAG_EXE_ANONYMOUS, exeNames('memfd:payload'))).toEqual(['/memfd:payload (deleted)', 'memfd:payload', ['deleted', 'anonymous']]);
    expect(exe(FLAG_EXE_UNREACHABLE, exeNames('/old/bin/sh'))).toEqual(['/old/bin/sh', 'sh', ['unreachable']]);
    // the first components missing: no leading "/"
    expect(exe(FLAG_EXE_TRUNCATED, exeNames('deep/er/app'))).toEqual(['deep/er/app', 'app', ['truncated']]);
    // a name the kernel cut off at the record's end is not shown as if whole
    expect(exe(FLAG_EXE_TRUNCATED, Buffer.from('app\0bin\0us'))).toEqual(['bin/app', 'app', ['truncated']]);
    // a kernel thread has no executable: none of the attributes
    const kthread = bindAttributes(makeEvent({ flags: FLAG_KERNEL_THREAD, exeNames: new Uint8Array() }));
    expect(Object.keys(kthread).filter((k) => k.includes('executable'))).toEqual([]);
    // bytes that are not UTF-8 come out as U+FFFD, never as a broken string
    expect(exe(0, Buffer.from([0x61, 0xff, 0, 0x62, 0]))).toEqual(['/b/a\ufffd', 'a\ufffd', []]);
  });

  it('carries the command line only when it was read (opt-in), as /proc/PID/cmdline splits it', () => {
    const cmd = (args: Uint8Array | undefined, argsFlags = 0) => {
      const a = bindAttributes(makeEvent({ args, argsFlags }));
      return Object.fromEntries(Object.entries(a).filter(([k]) => k.includes('command_args')));
    };
    expect(cmd(undefined)).toEqual({});
    expect(cmd(Buffer.from('python3\0-m\0http.server\x008080\0'))).toEqual({ 'process.command_args': ['python3', '-m', 'http.server', '8080'], 'bindsnoop.process.command_args.truncated': false });
    // an empty argument stays one
    expect(cmd(Buffer.from('sh\0-c\0\0'))).toEqual({ 'process.command_args': ['sh', '-c', ''], 'bindsnoop.process.command_args.truncated': false });
    expect(cmd(Buffer.from('java\0-jar\0/opt/ap'), ARGS_TRUNCATED)).toEqual({ 'process.command_args': ['java', '-jar', '/opt/ap'], 'bindsnoop.process.command_args.truncated': true });
    expect(cmd(new Uint8Array(), ARGS_UNREADABLE)).toEqual({ 'bindsnoop.process.command_args.unreadable': true, 'bindsnoop.process.command_args.truncated': false });
  });

  it('adds error.type and keeps what was requested for a failed bind, claiming no local address', () => {
    const a = bindAttributes(makeEvent({ ret: -98, boundPort: 0, reqAddr: addr4(10, 0, 0, 1), reqPort: 443 }));
    expect(a).toMatchObject({
      'error.type': 'EADDRINUSE',
      'bindsnoop.return_code': -98,
      'bindsnoop.requested.address': '10.0.0.1',
      'bindsnoop.requested.port': 443,
    });
    // nothing was bound
    expect(a).not.toHaveProperty('network.local.address');
    expect(a).not.toHaveProperty('network.local.port');
    expect(a).not.toHaveProperty('network.interface.name');
  });

  it('names an unnamed protocol by its number', () => {
    expect(bindAttributes(makeEvent({ protocol: 253 }))['network.transport']).toBe('253');
  });
});

describe('time', () => {
  it('writes RFC 3339 with nanoseconds in UTC', () => {
    expect(rfc3339Nanos(1795624969002583715n)).toBe('2026-11-25T16:42:49.002583715Z');
    expect(rfc3339Nanos(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(rfc3339Nanos(1_000_000_001n)).toBe('1970-01-01T00:00:01.000000001Z');
  });

  it('converts boot time to wall-clock time and re-samples the offset', () => {
    let real = 1_000_000_000_000n;
    const clock = new BootClock(() => ({ realtimeNs: real, boottimeNs: 5_000n }), 0);
    expect(clock.toWallNs(6_000n)).toBe(1_000_000_001_000n);
    real += 3_000_000_000n; // the wall clock was stepped
    expect(clock.toWallNs(6_000n)).toBe(1_000_000_001_000n + 3_000_000_000n);
  });

  it('puts time first in a JSON line, then resource and log attributes', () => {
    const line = formatJsonLine(0n, { 'process.pid': 1 }, { 'host.name': 'n1' });
    expect(line).toBe('{"time":"1970-01-01T00:00:00.000000000Z","host.name":"n1","process.pid":1}');
  });
});
