import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { Agent, CLI, describePrivileged, expectNothingAttached, ourPrograms, runBinds } from './harness';

describePrivileged('teardown leaves nothing in the kernel', () => {
  it('has its two programs loaded while tracing', async () => {
    const agent = await Agent.start(['-o', 'json']);
    expect(ourPrograms().sort()).toEqual(['handle_enter_bind', 'handle_exit_bind']);
    await agent.stop();
    await expectNothingAttached();
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: prints what was pending, exits 0 and detaches`, async () => {
      const agent = await Agent.start(['-o', 'json']);
      const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0', 'udp,4,127.0.0.1,0']);
      // stop at once: the final drain must still deliver both binds
      const exit = await agent.stop(signal);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(agent.jsonRecords().filter((r) => r['process.pid'] === run.pid)).toHaveLength(2);
      await expectNothingAttached();
    });
  }

  it('SIGKILL: the kernel detaches what a killed process held', async () => {
    const agent = await Agent.start([]);
    const exit = await agent.stop('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    await expectNothingAttached();
  });

  it('a closed pipe (bindsnoop | head) ends it quietly with status 0', async () => {
    const shell = spawn('bash', ['-c', `"${process.execPath}" "${CLI}" | head -n 2; exit \${PIPESTATUS[0]}`], {
      stdio: 'pipe',
    });
    let out = '';
    shell.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // head exits after the banner and header; the next bind makes bindsnoop write into the closed pipe
    const deadline = Date.now() + 10_000;
    while (!out.includes('PID COMM') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    // bash exits with bindsnoop's own status
    const code = await new Promise<number | null>((resolve) => shell.on('exit', resolve));
    expect(code).toBe(0);
    expect(out).toContain('PID COMM');
    await expectNothingAttached();
  });
});
