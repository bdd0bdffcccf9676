import { copyFileSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Agent,
  bpftool,
  cgroup2Mount,
  cgroupId,
  describePrivileged,
  HELPER,
  hexLE,
  runBinds,
  runTracingBpf,
  WaitingHelper,
} from './harness';

/**
 * Each filter runs in the kernel. To show that a bind was filtered out (not
 * merely late), the unwanted bind happens first and a wanted one after it:
 * records leave the ring in order, so once the wanted one has arrived the
 * unwanted one would have too.
 */
describePrivileged('in-kernel filters', () => {
  const pidsOf = (agent: Agent): number[] => agent.jsonRecords().map((r) => r['process.pid'] as number);

  it('-p traces only that process', async () => {
    const wanted = await WaitingHelper.start(['--netns', 'tcp,4,127.0.0.1,0']);
    const other = await WaitingHelper.start(['--netns', 'tcp,4,127.0.0.1,0']);
    const agent = await Agent.start(['-o', 'json', '-p', String(wanted.pid)]);
    await other.helper.bind();
    await wanted.helper.bind();
    await agent.recordsOf(wanted.pid, 1);
    expect(pidsOf(agent)).toEqual([wanted.pid]);
    await agent.stop();
  });

  it('-u traces only that user', async () => {
    const agent = await Agent.start(['-o', 'json', '-U', '-u', '4242']);
    const root = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    const user = runBinds(['--netns', '--uid', '4242', 'udp,4,127.0.0.1,0']);
    const [r] = await agent.recordsOf(user.pid, 1);
    expect(r['process.real_user.id']).toBe(4242);
    expect(pidsOf(agent)).not.toContain(root.pid);
    await agent.stop();
  });

  it('-P matches the bound port or, for a failed bind, the requested one', async () => {
    // 255: a raw socket's port is its protocol number, whatever port it asked for (the filter cannot decide early)
    const agent = await Agent.start(['-o', 'json', '-E', '-P', '4300,4301,255']);
    const run = runBinds([
      '--netns',
      'tcp,4,127.0.0.1,4300',
      'tcp,4,127.0.0.1,4399',
      'tcp,4,127.0.0.1,4300', // EADDRINUSE: requested 4300
      'tcp,4,127.0.0.1,0',
      'udp,4,127.0.0.1,4301',
      'udp,4,127.0.0.1,4302',
      'raw,4,127.0.0.1,4399',
    ]);
    expect(run.results).toEqual(['ok 4300', 'ok 4399', 'err 98', expect.stringMatching(/^ok \d+$/), 'ok 4301', 'ok 4302', expect.stringMatching(/^ok \d+$/)]);
    const records = await agent.recordsOf(run.pid, 4);
    expect(records.map((r) => [r['bindsnoop.requested.port'], r['network.local.port'], r['bindsnoop.return_code']])).toEqual([
      [4300, 4300, 0],
      [4300, undefined, -98], // nothing was bound: no network.local.*
      [4301, 4301, 0],
      // selected by -P 255 (the table's PORT), but the record does not call a protocol number a port
      [4399, undefined, 0],
    ]);
    expect(records[3]['bindsnoop.raw_socket']).toBe(true);
    await agent.stop();
  });

  it('-P 0 with -E shows every failed bind (a failed bind bound port 0) and no other', async () => {
    const agent = await Agent.start(['-o', 'json', '-E', '-P', '0']);
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,4300', 'tcp,4,127.0.0.1,4300', 'udp,4,127.0.0.1,4301']);
    expect(run.results).toEqual(['ok 4300', 'err 98', 'ok 4301']);
    const records = await agent.recordsOf(run.pid, 1);
    expect(records.map((r) => [r['bindsnoop.requested.port'], r['bindsnoop.return_code']])).toEqual([[4300, -98]]);
    await agent.stop();
  });

  it('hides failed binds unless -E is given', async () => {
    const agent = await Agent.start(['-o', 'json']);
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,4300', 'tcp,4,127.0.0.1,4300', 'tcp,4,127.0.0.1,4301']);
    expect(run.results).toEqual(['ok 4300', 'err 98', 'ok 4301']);
    const records = await agent.recordsOf(run.pid, 2);
    expect(records.map((r) => r['network.local.port'])).toEqual([4300, 4301]);
    await agent.stop();
  });

  describe('bcc-layout pinned maps made with bpftool', () => {
    const tag = `bindsnoop-test-${process.pid}`;
    const cgIn = path.join(cgroup2Mount(), `${tag}-in`);
    const cgOut = path.join(cgroup2Mount(), `${tag}-out`);
    const cgMap = `/sys/fs/bpf/${tag}-cgroupset`;
    const mntMap = `/sys/fs/bpf/${tag}-mntnsset`;

    beforeAll(() => {
      mkdirSync(cgIn);
      mkdirSync(cgOut);
      // exactly as bcc's docs/special_filtering.md creates them
      bpftool(['map', 'create', cgMap, 'type', 'hash', 'key', '8', 'value', '8', 'entries', '128', 'name', 'cgroupset']);
      bpftool(['map', 'create', mntMap, 'type', 'hash', 'key', '8', 'value', '4', 'entries', '128', 'name', 'mntnsset']);
    });
    afterAll(() => {
      rmSync(cgMap, { force: true });
      rmSync(mntMap, { force: true });
      rmdirSync(cgIn);
      rmdirSync(cgOut);
    });

    const setKey = (map: string, key: number, valueBytes: 8 | 4): void => {
      bpftool(['map', 'update', 'pinned', map, 'key', 'hex', ...hexLE(key, 8), 'value', 'hex', ...hexLE(0, valueBytes), 'any']);
    };
    const deleteKey = (map: string, key: number): void => {
      bpftool(['map', 'delete', 'pinned', map, 'key', 'hex', ...hexLE(key, 8)]);
    };

    it('--cgroupmap traces only cgroups in the map, following changes made while tracing', async () => {
      setKey(cgMap, cgroupId(cgIn), 8);
      const agent = await Agent.start(['-o', 'json', '--cgroupmap', cgMap]);

      const out1 = runBinds(['--netns', '--cgroup', cgOut, 'tcp,4,127.0.0.1,0']);
      const in1 = runBinds(['--netns', '--cgroup', cgIn, 'tcp,4,127.0.0.1,0']);
      const [r] = await agent.recordsOf(in1.pid, 1);
      expect(r['bindsnoop.cgroup.id']).toBe(cgroupId(cgIn));
      expect(pidsOf(agent)).not.toContain(out1.pid);

      // added while tracing: takes effect at once
      setKey(cgMap, cgroupId(cgOut), 8);
      const out2 = runBinds(['--netns', '--cgroup', cgOut, 'tcp,4,127.0.0.1,0']);
      await agent.recordsOf(out2.pid, 1);

      // removed while tracing
      deleteKey(cgMap, cgroupId(cgIn));
      const in2 = runBinds(['--netns', '--cgroup', cgIn, 'tcp,4,127.0.0.1,0']);
      const out3 = runBinds(['--netns', '--cgroup', cgOut, 'tcp,4,127.0.0.1,0']);
      await agent.recordsOf(out3.pid, 1);
      expect(pidsOf(agent)).toEqual([in1.pid, out2.pid, out3.pid]);
      expect(in2.results).toHaveLength(1);
      await agent.stop();
    });

    it('--mntnsmap traces only mount namespaces in the map', async () => {
      const inside = await WaitingHelper.start(['--netns', '--mntns', 'tcp,4,127.0.0.1,0']);
      setKey(mntMap, inside.mntns, 4);
      const agent = await Agent.start(['-o', 'json', '--mntnsmap', mntMap]);
      const host = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
      await inside.helper.bind();
      const [r] = await agent.recordsOf(inside.pid, 1);
      expect(r['bindsnoop.mntns.id']).toBe(inside.mntns);
      expect(host.mntns).not.toBe(inside.mntns);
      expect(pidsOf(agent)).toEqual([inside.pid]);
      await agent.stop();
    });

    it('rejects a missing or wrongly shaped map with exit status 2, loading nothing', async () => {
      const missing = runTracingBpf(['--cgroupmap', `/sys/fs/bpf/${tag}-absent`]);
      expect(missing.status).toBe(2);
      expect(missing.loadedPrograms).toBe(0);
      expect(missing.stderr).toContain(`no BPF object is pinned at /sys/fs/bpf/${tag}-absent`);
      expect(missing.stderr).toContain('bpftool map create');
      expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace

      const wrong = runTracingBpf(['--cgroupmap', mntMap]); // value 4, not 8
      expect(wrong.status).toBe(2);
      expect(wrong.stderr).toContain('expected a hash map with 8-byte keys and 8-byte values');
      expect(wrong.loadedPrograms).toBe(0);
    });

    it('says plainly when the path is a regular file or a pinned program, not a map (exit 2)', async () => {
      const file = `/tmp/${tag}-not-a-map`;
      writeFileSync(file, '');
      const regular = runTracingBpf(['--cgroupmap', file]);
      rmSync(file);
      expect(regular.status).toBe(2);
      expect(regular.stderr).toContain(`${file} is not a pinned BPF object (it is not on a BPF filesystem)`);
      // the example it gives is a path where a map can be pinned, not the file's own
      expect(regular.stderr).toContain(`e.g. bpftool map create /sys/fs/bpf/${tag}-not-a-map type hash key 8 value 8 entries 128 name filter`);
      expect(regular.stderr).not.toContain(`bpftool map create ${file}`);
      // a program pinned where a map should be: one of a running agent's own
      const agent = await Agent.start(['-q']);
      const prog = `/sys/fs/bpf/${tag}-prog`;
      bpftool(['prog', 'pin', 'id', String(agent.held().programs[0].id), prog]);
      await agent.stop();
      try {
        const pinnedProg = runTracingBpf(['--cgroupmap', prog]);
        expect(pinnedProg.status).toBe(2);
        expect(pinnedProg.stderr).toContain('the object pinned there is not a map (a program or a link?)');
        expect(pinnedProg.loadedPrograms).toBe(0);
      } finally {
        rmSync(prog, { force: true });
      }
    });
  });

  describe('by executable (filter.executables, filter.excludeExecutables: in user space)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-select-exe-'));
    const program = path.join(dir, 'binder');
    copyFileSync(HELPER, program);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const withConfig = (filter: object): string => {
      const file = path.join(dir, `config-${Object.keys(filter).join('-')}.json`);
      writeFileSync(file, JSON.stringify({ filter }));
      return file;
    };

    it('traces only executables under the given prefixes', async () => {
      const agent = await Agent.start(['-o', 'json', '-c', withConfig({ executables: [`${dir}/`] })]);
      const other = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
      const wanted = runBinds(['--netns', 'tcp,4,127.0.0.1,0'], program);
      const [r] = await agent.recordsOf(wanted.pid, 1);
      expect(r['process.executable.path']).toBe(program);
      expect(pidsOf(agent)).not.toContain(other.pid);
      await agent.stop();
    });

    it('drops executables under the excluded prefixes', async () => {
      const agent = await Agent.start(['-o', 'json', '-c', withConfig({ excludeExecutables: [`${dir}/`] })]);
      const excluded = runBinds(['--netns', 'tcp,4,127.0.0.1,0'], program);
      const other = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
      await agent.recordsOf(other.pid, 1);
      expect(pidsOf(agent)).not.toContain(excluded.pid);
      await agent.stop();
    });

    it('refuses a relative prefix, and a selection --count cannot apply (exit 2, nothing loaded)', () => {
      const relative = runTracingBpf(['-c', withConfig({ executables: ['bin/'] })]);
      expect(relative.status).toBe(2);
      expect(relative.stderr).toContain('filter.executables');
      expect(relative.stderr).toContain('absolute path prefixes');
      expect(relative.loadedPrograms).toBe(0);
      const count = runTracingBpf(['--count', '-c', withConfig({ excludeExecutables: ['/tmp/'] })]);
      expect(count.status).toBe(2);
      expect(count.stderr).toContain('cannot apply to --count');
      expect(count.loadedPrograms).toBe(0);
    });
  });
});
