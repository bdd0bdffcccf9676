import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { elfSections } from '../helpers/elf';
import { describePrivileged, ROOT } from './harness';

const work = mkdtempSync('/var/tmp/bindsnoop-bpf-build-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Everything the kernel and libbpf read: the programs, their relocations, maps, BTF and CO-RE records. */
function programSections(object: string): Map<string, Buffer> {
  const sections = elfSections(object);
  for (const name of [...sections.keys()]) if (/^(\.rel)?\.debug_/.test(name)) sections.delete(name); // DWARF names the checkout
  return sections;
}

describePrivileged('the BPF object', () => {
  it('builds the same program on a host whose kernel BTF is out of reach, from another checkout', () => {
    const copy = path.join(work, 'checkout');
    cpSync(path.join(ROOT, 'bpf'), path.join(copy, 'bpf'), { recursive: true, filter: (src) => !src.includes('.output') });
    // a mount namespace in which /sys/kernel/btf is an empty tmpfs: as on a build host without BTF
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs none /sys/kernel/btf && test ! -e /sys/kernel/btf/vmlinux && make -s -C "${copy}/bpf" OUTPUT="${work}/out"`], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);

    const shipped = programSections(path.join(ROOT, 'bpf', '.output', 'bindsnoop.bpf.o'));
    const rebuilt = programSections(path.join(work, 'out', 'bindsnoop.bpf.o'));
    expect([...rebuilt.keys()]).toEqual([...shipped.keys()]);
    // the three backends' programs, relocations and CO-RE records are all there
    for (const name of ['fexit/inet_bind', 'kprobe/inet6_bind', 'kretprobe/inet_bind', 'tracepoint/syscalls/sys_exit_bind', '.relfexit/inet_bind', '.BTF', '.BTF.ext', '.maps', '.rodata']) {
      expect(shipped.has(name), name).toBe(true);
    }
    for (const [name, bytes] of shipped) expect(rebuilt.get(name)?.equals(bytes), name).toBe(true);
  }, 150_000);
});
