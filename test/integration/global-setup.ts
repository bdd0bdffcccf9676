import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Privileged tests need root and BTF; under CI they must run, never skip. */
export default function setup(): void {
  // The CLI under test, up to date.
  execFileSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  const privileged = process.getuid?.() === 0 && existsSync('/sys/kernel/btf/vmlinux');
  if (!privileged) {
    if (process.env.CI === 'true') throw new Error('CI=true but not root with BTF: the privileged tests cannot run');
    return;
  }
  // bcc documents pinning filter maps under /sys/fs/bpf: make sure bpffs is there.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  if (!/ \/sys\/fs\/bpf .* - bpf /.test(mounts)) execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
  // bindsnoop mounts tracefs itself when it may; the CAP_BPF+CAP_PERFMON test cannot, as on a
  // node where the host provides it. Provide it here so test order does not matter.
  if (!existsSync('/sys/kernel/tracing/events/syscalls') && !existsSync('/sys/kernel/debug/tracing/events/syscalls')) {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
  }
  // The bind helper, up to date.
  execFileSync('make', ['-s', '-C', 'test/helpers'], { cwd: ROOT, stdio: 'inherit' });
}
