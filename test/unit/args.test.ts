import { describe, expect, it } from 'vitest';
import { flagsToConfig, parseArgs, parsePortList } from '../../src/cli/args';
import { BindsnoopError } from '../../src/model/errors';

function usageFailure(argv: string[]): BindsnoopError {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof BindsnoopError) return e;
    throw e;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

describe('bcc\'s flags', () => {
  it('defaults to the plain table', () => {
    expect(parseArgs([])).toEqual({
      help: false, version: false, timestamp: false, wide: false, printUid: false, exe: false, count: false, config: undefined,
      pid: undefined, ports: undefined, errors: undefined, uid: undefined, cgroupMap: undefined, mntnsMap: undefined,
      output: undefined, quiet: undefined, kubernetes: undefined, daemon: false,
    });
    expect(flagsToConfig(parseArgs([]))).toEqual({});
  });

  it('takes every flag in short and long form', () => {
    const short = parseArgs(['-t', '-w', '-p', '181', '-P', '80,81', '-E', '-U', '-u', '1000', '-o', 'json', '-q']);
    const long = parseArgs(['--timestamp', '--wide', '--pid', '181', '--port', '80,81', '--errors', '--print-uid', '--uid', '1000', '--output', 'json', '--quiet']);
    expect(short).toEqual(long);
    expect(short).toMatchObject({ timestamp: true, wide: true, pid: 181, ports: [80, 81], errors: true, printUid: true, uid: 1000, output: 'json', quiet: true });
  });

  it('groups short flags as argparse does (-Uu 0, -tE)', () => {
    expect(parseArgs(['-Uu', '0'])).toMatchObject({ printUid: true, uid: 0 });
    expect(parseArgs(['-tE'])).toMatchObject({ timestamp: true, errors: true });
    expect(parseArgs(['-p181'])).toMatchObject({ pid: 181 });
    expect(parseArgs(['--port=443'])).toMatchObject({ ports: [443] });
  });

  it('maps the flags that are configuration keys, -q meaning no table', () => {
    expect(flagsToConfig(parseArgs(['-p', '7', '-u', '0', '-P', '80', '-E', '--cgroupmap', '/m', '-o', 'json', '-c', '/etc/b.yaml']))).toEqual({
      'filter.pid': 7, 'filter.uid': 0, 'filter.ports': [80], 'filter.errors': true, 'filter.cgroupMap': '/m', 'output.format': 'json',
    });
    expect(flagsToConfig(parseArgs(['-q', '-o', 'json']))).toEqual({ 'output.format': 'none' });
    expect(parseArgs(['-c', '/etc/b.yaml']).config).toBe('/etc/b.yaml');
  });

  it('takes the map paths and --count', () => {
    expect(parseArgs(['--count', '--cgroupmap', '/sys/fs/bpf/a', '--mntnsmap', '/sys/fs/bpf/b'])).toMatchObject({
      count: true, cgroupMap: '/sys/fs/bpf/a', mntnsMap: '/sys/fs/bpf/b',
    });
  });

  it('rejects bad values as usage errors (exit status 2) naming the flag', () => {
    for (const argv of [['-p', 'abc'], ['-p', '0'], ['-p', '1.5'], ['-p', '4294967296'], ['-u', 'root'], ['-u', '4294967295'], ['-P', '70000'], ['-P', ''], ['-P', '80,,81'], ['-o', 'yaml'], ['--nope'], ['--cgroupmap', '']]) {
      const e = usageFailure(argv);
      expect(e.code).toBe('USAGE');
      expect(e.exitStatus).toBe(2);
    }
    expect(usageFailure(['-p', 'abc']).message).toContain("'-p, --pid <PID>' argument 'abc' is invalid");
  });
});

describe('port lists', () => {
  it('splits, trims and drops duplicates', () => {
    expect(parsePortList('80, 81,80,0,65535')).toEqual([80, 81, 0, 65535]);
  });
  it('allows 64 ports and no more', () => {
    const list = (n: number): string => Array.from({ length: n }, (_, i) => String(i + 1)).join(',');
    expect(parsePortList(list(64))).toHaveLength(64);
    expect(() => parsePortList(list(65))).toThrow(/too many ports \(65\)/);
  });
  it('names the bad part', () => {
    expect(() => parsePortList('80,-1')).toThrow(/'-1' is not a port/);
    expect(() => parsePortList('0x50')).toThrow(/'0x50' is not a port/);
  });
});
