import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describePrivileged, ROOT } from './harness';

/**
 * The shipped BPF object on an older kernel: Debian's Linux 6.1 booted under
 * qemu, before the 6.6 move of the inet options into inet_flags and the 6.15
 * rename of kernfs_node.parent, the two shims of bpf/core_fixes.bpf.h. Each of
 * the three backends is loaded alone, as the addon loads it.
 */
describePrivileged('CO-RE on Linux 6.1', () => {
  it('loads the same object with each backend and reads options, ports, errors and cgroup names through the older layouts', () => {
    const r = spawnSync(path.join(ROOT, 'test', 'compat', 'run-vm.sh'), ['x86', 'bookworm'], { encoding: 'utf8', timeout: 600_000 });
    const out = r.stdout.replace(/\r/g, '');
    const lines = [...out.matchAll(/(KERNEL|BACKEND|EVENT|DONE|FAIL)[^\n]*/g)].map((m) => m[0]);
    expect(lines.find((l) => l.startsWith('FAIL'))).toBeUndefined();
    expect(lines[0]).toMatch(/^KERNEL 6\.1\./);
    expect(lines.at(-1)).toBe('DONE');
    // Debian's 6.1 has BPF trampolines and kprobes: every backend attaches
    expect(lines.filter((l) => l.startsWith('BACKEND'))).toEqual(['BACKEND tracepoint ok', 'BACKEND kprobe ok', 'BACKEND fentry ok']);
    const events = lines
      .filter((l) => l.startsWith('EVENT '))
      .map((l) => Object.fromEntries(l.slice(6).split(' ').map((kv) => kv.split('=') as [string, string])));
    for (const backend of ['tracepoint', 'kprobe', 'fentry']) {
      const mine = events.filter((e) => e.backend === backend);
      // F, T, N, R, r one by one, then all five on port 4321, then a bind that collides with it
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
  }, 600_000);
});
