import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describePrivileged, ROOT } from './harness';

interface CheckerRun {
  kernel: string;
  backends: string[];
  events: Record<string, string>[];
}

/** Boots Debian bookworm's kernel for `arch` with test/compat/core_check.c as /init. */
function runChecker(arch: 'x86' | 'arm64'): CheckerRun {
  const r = spawnSync(path.join(ROOT, 'test', 'compat', 'run-vm.sh'), [arch, 'bookworm'], { encoding: 'utf8', timeout: 600_000 });
  const lines = [...r.stdout.replace(/\r/g, '').matchAll(/(KERNEL|BACKEND|EVENT|DONE|FAIL)[^\n]*/g)].map((m) => m[0]);
  expect(lines.find((l) => l.startsWith('FAIL'))).toBeUndefined();
  expect(lines.at(-1), r.stdout.slice(-3000) + r.stderr.slice(-2000)).toBe('DONE');
  return {
    kernel: lines[0],
    backends: lines.filter((l) => l.startsWith('BACKEND')),
    events: lines
      .filter((l) => l.startsWith('EVENT '))
      .map((l) => Object.fromEntries(l.slice(6).split(' ').map((kv) => kv.split('=') as [string, string]))),
  };
}

/** core_check's binds: F, T, N, R, r one by one, then all five on port 4321, then one that collides with it. */
function expectCheckerRecords(events: Record<string, string>[], backend: string): void {
  const mine = events.filter((e) => e.backend === backend);
  expect(mine.map((e) => Number(e.opts)), backend).toEqual([1, 2, 4, 8, 16, 31, 0]);
  expect(mine.map((e) => Number(e.ret)), backend).toEqual([0, 0, 0, 0, 0, 0, -98]);
  expect(mine[2].port, backend).toBe('0'); // IP_BIND_ADDRESS_NO_PORT with port 0 binds no port yet
  expect(mine[5], backend).toMatchObject({ port: '4321', req_port: '4321' });
  expect(mine[6], backend).toMatchObject({ port: '0', req_port: '4321' });
  for (const e of mine) {
    expect(e).toMatchObject({ proto: '6', family: '2', comm: 'init' });
    expect(e.cgroup).toBe(`cri-containerd-${'a'.repeat(64)}.scope`);
    expect(e.parent).toBe('kubepods-burstable-pod11111111_2222_4333_8444_555555555555.slice');
  }
}

/**
 * The shipped BPF object on an older kernel: Debian's Linux 6.1 booted under
 * qemu, before the 6.6 move of the inet options into inet_flags and the 6.15
 * rename of kernfs_node.parent, the two shims of bpf/core_fixes.bpf.h. Each of
 * the three backends is loaded alone, as the addon loads it.
 */
describePrivileged('CO-RE on Linux 6.1', () => {
  it('loads the same object with each backend and reads options, ports, errors and cgroup names through the older layouts', () => {
    const run = runChecker('x86');
    expect(run.kernel).toMatch(/^KERNEL 6\.1\..*-amd64$/);
    // Debian's 6.1 has BPF trampolines and kprobes: every backend attaches
    expect(run.backends).toEqual(['BACKEND tracepoint ok', 'BACKEND kprobe ok', 'BACKEND fentry ok']);
    for (const backend of ['tracepoint', 'kprobe', 'fentry']) expectCheckerRecords(run.events, backend);
  }, 600_000);

  it('on arm64: the object built for arm64 loads and attaches, and reads the same records back', () => {
    const run = runChecker('arm64');
    expect(run.kernel).toMatch(/^KERNEL 6\.1\..*-arm64$/);
    // arm64 got BPF trampolines in 6.0, but attaching them to kernel functions needs ftrace direct
    // calls (2aa6ac03516d "arm64: ftrace: Add direct call support", 6.4): on 6.1 fentry is refused
    // (ENOTSUPP) and the checker says so; the others attach
    expect(run.backends.slice(0, 2)).toEqual(['BACKEND tracepoint ok', 'BACKEND kprobe ok']);
    expect(run.backends[2]).toMatch(/^BACKEND fentry unavailable: attach fexit_inet_bind: /);
    for (const backend of ['tracepoint', 'kprobe']) expectCheckerRecords(run.events, backend);
  }, 600_000);
});
