import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait';
import { Agent, CLI, describePrivileged, expectReleased, heldBy, OWN_UID, runBinds, type HeldObjects } from './harness';

/** The pid of a child process of `ppid` whose command line contains `needle`. */
function childPid(ppid: number, needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === ppid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** What one agent holds while tracing: a program and a link per hook, the tracepoints' by name. */
function expectTracing(agent: Agent): HeldObjects {
  const held = agent.held();
  expect(held.programs.length).toBeGreaterThanOrEqual(2);
  expect(held.links).toHaveLength(held.programs.length);
  if (agent.stderr.includes('tracing with the tracepoint backend')) {
    expect(held.programs.map((p) => p.name).sort()).toEqual(['handle_enter_bind', 'handle_exit_bind']);
  }
  return held;
}

describePrivileged('teardown leaves nothing in the kernel', () => {
  it('holds one program and one link per hook while tracing, and frees them on exit', async () => {
    const agent = await Agent.start(['-o', 'json']);
    const held = expectTracing(agent);
    await agent.stop();
    await expectReleased(held);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: prints what was pending, exits 0 and detaches`, async () => {
      const agent = await Agent.start(['-o', 'json']);
      const held = expectTracing(agent);
      const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0', 'udp,4,127.0.0.1,0']);
      // stop at once: the final drain must still deliver both binds
      const exit = await agent.stop(signal);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(agent.jsonRecords().filter((r) => r['process.pid'] === run.pid)).toHaveLength(2);
      await expectReleased(held);
    });
  }

  it('SIGKILL: the kernel detaches what a killed process held', async () => {
    const agent = await Agent.start([]);
    const held = expectTracing(agent);
    const exit = await agent.stop('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    await expectReleased(held);
  });

  it('stdout that nobody reads: what cannot wait is dropped and counted, SIGTERM still ends it at once, and every bind is printed or counted', async () => {
    // stdout is a pipe this test does not read until the end: once it and the agent's backlog are full, lines are dropped
    // only this test's binds, made as a user of the run's own: a neighbour binding meanwhile is not counted
    const proc = spawn(process.execPath, [CLI, '-o', 'json', '-u', String(OWN_UID)], { stdio: ['ignore', 'pipe', 'pipe'] });
    // collected only at the end (a stream nobody listens to is drained by Node when the child exits)
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stdout.pause();
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await waitUntil('bindsnoop to attach', () => err.includes('Tracing binds'), 15_000);
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]) * 1024;
    const run = runBinds(['--netns', '--uid', String(OWN_UID), '--repeat', '40000', 'tcp,4,127.0.0.1,0']);
    await new Promise((r) => setTimeout(r, 1000)); // the reader drains every 50 ms
    // 40,000 JSON lines are about 40 MB: what waits is bounded (8 MiB) plus the agent's own
    expect(rss()).toBeLessThan(300 << 20);
    proc.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).toBe(0);
    const notPrinted = Number(/bindsnoop: (\d+) binds not printed: stdout was not read fast enough \(8 MiB waited\)\n/.exec(err)?.[1]);
    expect(notPrinted).toBeGreaterThan(0);
    // what reached the pipe, read now: with what was counted (not printed, or lost in the kernel's ring during
    // the burst), every bind of the run
    proc.stdout.resume();
    await new Promise((r) => proc.stdout.on('end', r));
    // a line cut short at the end counts as not printed: only whole lines were printed
    const printed = out.split('\n').filter((l) => l.includes(`"process.pid":${run.pid},`) && l.endsWith('}')).length;
    const lostInKernel = Number(/lost binds: kernel (\d+)/.exec(err)?.[1] ?? 0);
    expect(err).not.toMatch(/lost binds: .*(reader|export)/);
    expect(printed + notPrinted + lostInKernel).toBe(40000);
  });

  it('a closed pipe (bindsnoop | head) ends it quietly with status 0, without waiting for another bind', async () => {
    const shell = spawn('bash', ['-c', `"${process.execPath}" "${CLI}" | head -n 2; exit \${PIPESTATUS[0]}`], {
      stdio: 'pipe',
    });
    let out = '';
    shell.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // head exits after the banner and header; bindsnoop sees its reader gone with no bind to write
    const deadline = Date.now() + 10_000;
    while (!out.includes('PID COMM') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const pid = await waitUntil('bindsnoop under bash', () => childPid(shell.pid!, CLI));
    const held = heldBy(pid);
    expect(held.programs.length).toBeGreaterThanOrEqual(2);
    // bash exits with bindsnoop's own status
    const code = await new Promise<number | null>((resolve) => shell.on('exit', resolve));
    expect(code).toBe(0);
    expect(out).toContain('PID COMM');
    await expectReleased(held);
  });
});
