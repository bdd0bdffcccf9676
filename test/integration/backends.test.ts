import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { Agent, describePrivileged, runBinds } from './harness';

/**
 * On this host: `auto` takes the best backend the kernel allows and says on
 * stderr which, and why not the better ones; a forced backend the kernel
 * cannot give fails with one line, status 1. (The project's machines have no
 * kprobes and refuse fentry: auto falls back to tracepoints. The other kernels
 * are test/integration/kernels.test.ts's.)
 */
const hasKprobes = existsSync('/sys/bus/event_source/devices/kprobe/type');
const BACKEND_LINE = /^bindsnoop: tracing with the (fentry|kprobe|tracepoint) backend \(([^)]+)\)(.*)$/m;

describePrivileged('attach backends on this host', () => {
  it('auto says which backend it uses and why each better one was not, and every record names it', async () => {
    const agent = await Agent.start(['-o', 'json']);
    const m = BACKEND_LINE.exec(agent.stderr);
    expect(m, agent.stderr).not.toBeNull();
    const [, backend, attachedTo, why] = m!;
    if (backend !== 'fentry') expect(why).toMatch(/; not fentry: \S.+/);
    if (backend === 'tracepoint') {
      expect(attachedTo).toBe('tracepoints syscalls:sys_enter_bind and sys_exit_bind');
      expect(why).toMatch(/; not kprobe: \S.+/);
      if (!hasKprobes) expect(why).toContain('not kprobe: this kernel has no kprobes (CONFIG_KPROBES and CONFIG_KPROBE_EVENTS are off)');
    }
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    const [record] = await agent.recordsOf(run.pid, 1);
    expect(record['bindsnoop.backend']).toBe(backend);
    expect((await agent.stop()).code).toBe(0);
  });

  it('loads and traces under a CPU profiler (node --cpu-prof signals it every millisecond while the verifier runs)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-prof-'));
    try {
      const agent = await Agent.start(['-o', 'json'], {}, ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${dir}`]);
      const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
      expect(await agent.recordsOf(run.pid, 1)).toHaveLength(1);
      expect((await agent.stop()).code).toBe(0);
      expect(readdirSync(dir).some((f) => f.endsWith('.cpuprofile'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--backend tracepoint forces the syscall tracepoints', async () => {
    const agent = await Agent.start(['-o', 'json', '--backend', 'tracepoint']);
    expect(agent.stderr).toContain('bindsnoop: tracing with the tracepoint backend (tracepoints syscalls:sys_enter_bind and sys_exit_bind)\n');
    const run = runBinds(['--netns', 'udp,6,::1,0']);
    expect((await agent.recordsOf(run.pid, 1))[0]).toMatchObject({ 'bindsnoop.backend': 'tracepoint', 'network.transport': 'udp' });
    expect((await agent.stop()).code).toBe(0);
  });

  it('a forced backend the kernel lacks fails with one line naming why, status 1 (or traces where it has it)', async () => {
    const agent = Agent.spawn(['--backend', 'kprobe']);
    if (hasKprobes) {
      await agent.waitFor(() => agent.stderr.includes('tracing with the kprobe backend'), 'kprobes to attach', 15_000);
      expect((await agent.stop()).code).toBe(0);
      return;
    }
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    expect(agent.stderr).toBe(
      'bindsnoop: cannot use the kprobe backend: this kernel has no kprobes (CONFIG_KPROBES and CONFIG_KPROBE_EVENTS are off)\n',
    );
    expect(agent.stdout).toBe('');
  });

  it('a forced fentry the kernel refuses says why in the words of the errno it got, not another', async () => {
    const agent = Agent.spawn(['--backend', 'fentry']);
    const exit = await Promise.race([agent.exited, agent.waitFor(() => agent.stderr.includes('tracing with the fentry backend'), 'fentry to attach', 15_000).then(() => undefined)]);
    if (!exit) {
      expect((await agent.stop()).code).toBe(0);
      return;
    }
    expect(exit.code).toBe(1);
    // here: "the kernel refused a trial fexit program on inet_bind (EPERM: Operation not permitted)"; before, the line
    // began "Operation not supported (" whatever the errno
    const m = /^bindsnoop: cannot use the fentry backend: (the kernel [^(]+|inet_bind [^(]+|no kernel BTF[^(]*)(?:\((E[A-Z]+): ([^;)]+)[;)])?/.exec(agent.stderr);
    expect(m, agent.stderr).not.toBeNull();
    expect(agent.stderr).not.toContain('Operation not supported (');
    expect(agent.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('rejects an unknown backend as a usage error, status 2', async () => {
    const agent = Agent.spawn(['--backend', 'ebpf']);
    expect((await agent.exited).code).toBe(2);
    expect(agent.stderr).toMatch(/^usage: bindsnoop/);
    expect(agent.stderr).toContain("option '--backend <BACKEND>' argument 'ebpf' is invalid. Allowed choices are auto, fentry, kprobe, tracepoint.");
  });
});
