import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent, cgroup2Mount, cgroupId, describePrivileged, HELPER, HELPER_STATIC, runBinds, WaitingHelper } from './harness';

/**
 * Real binds from child processes, each in its own network namespace so ports
 * never clash, read back as JSON records from the real CLI.
 */
describePrivileged('what each bind record says', () => {
  let agent: Agent;
  const cgroupDir = path.join(cgroup2Mount(), `bindsnoop-test-records-${process.pid}`);

  beforeAll(async () => {
    mkdirSync(cgroupDir, { recursive: true });
    agent = await Agent.start(['-E', '-o', 'json']);
  });
  afterAll(async () => {
    await agent?.stop();
    rmdirSync(cgroupDir);
  });

  function port(result: string): number {
    expect(result).toMatch(/^ok \d+$/);
    return Number(result.split(' ')[1]);
  }

  it('says who started the process and when: its parent\'s pid and comm, its start time (a shell that forks the binder)', async () => {
    const before = Date.now();
    const shell = spawnSync('sh', ['-c', `${HELPER} --netns --comm rec-child tcp,4,127.0.0.1,0; true`], { encoding: 'utf8' });
    expect(shell.status, shell.stderr).toBe(0);
    const after = Date.now();
    const childPid = Number(/^pid (\d+)$/m.exec(shell.stdout)?.[1]);
    const [r] = await agent.recordsOf(childPid, 1);
    expect(r).toMatchObject({ 'process.pid': childPid, 'thread.name': 'rec-child', 'process.parent_pid': shell.pid, 'bindsnoop.parent.comm': 'sh' });
    // the helper's start, by the boot clock made wall time as the record's own time is
    const started = Date.parse(r['process.creation.time'] as string);
    expect(started).toBeGreaterThanOrEqual(before - 1000);
    expect(started).toBeLessThanOrEqual(after + 1000);
    expect(started).toBeLessThanOrEqual(Date.parse(r.time as string));
  });

  it('names the parent process, not the thread of it that forked the binder (its group leader\'s comm, as /proc/PPID/comm)', async () => {
    const script = [
      'import ctypes, subprocess, sys, threading',
      'libc = ctypes.CDLL(None)',
      'libc.prctl(15, b"gtbind", 0, 0, 0)',
      'def spawn():',
      '    libc.prctl(15, b"spawner-thr", 0, 0, 0)',
      `    out = subprocess.run([${JSON.stringify(HELPER)}, "--netns", "tcp,4,127.0.0.1,0"], capture_output=True, text=True).stdout`,
      '    print(out, end="")',
      't = threading.Thread(target=spawn); t.start(); t.join()',
      'print("parent", __import__("os").getpid())',
    ].join('\n');
    const run = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const pid = Number(/^pid (\d+)$/m.exec(run.stdout)?.[1]);
    const parent = Number(/^parent (\d+)$/m.exec(run.stdout)?.[1]);
    const [r] = await agent.recordsOf(pid, 1);
    expect(r).toMatchObject({ 'process.parent_pid': parent, 'bindsnoop.parent.comm': 'gtbind' });
  });

  it('says which names are not UTF-8, so two such names are not taken for one', async () => {
    const shell = spawnSync('sh', ['-c', `exec ${HELPER} --comm "$(printf 'bad\\377name')" --netns tcp,4,127.0.0.1,0`], { encoding: 'utf8' });
    expect(shell.status, shell.stderr).toBe(0);
    const pid = Number(/^pid (\d+)$/m.exec(shell.stdout)?.[1]);
    const [r] = await agent.recordsOf(pid, 1);
    expect(r['thread.name']).toBe('bad\ufffdname');
    expect(r['bindsnoop.invalid_utf8']).toEqual(['thread.name']);
    // a name that is UTF-8 carries no such attribute
    const plain = runBinds(['--netns', '--comm', 'grüße', 'tcp,4,127.0.0.1,0']);
    const [q] = await agent.recordsOf(plain.pid, 1);
    expect(q['thread.name']).toBe('grüße');
    expect(q).not.toHaveProperty('bindsnoop.invalid_utf8');
  });

  /** A copy of the helper in a fresh directory of its own (removed with the suite). */
  function helperCopy(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-exe-'));
    dirs.push(dir);
    const program = path.join(dir, 'binder');
    copyFileSync(HELPER, program);
    return program;
  }
  const dirs: string[] = [];
  afterAll(() => {
    // rm(1): the deep tree is longer than PATH_MAX
    for (const dir of dirs) spawnSync('rm', ['-rf', dir]);
  });

  /** the executable's flags a record carries (each only when true) */
  const exeFlags = (r: Record<string, unknown>) => Object.keys(r).filter((k) => k.startsWith('bindsnoop.process.executable.')).map((k) => [k.slice('bindsnoop.process.executable.'.length), r[k]]);

  it('names the executable a process that binds and exits at once was run from, as its /proc/self/exe does', async () => {
    const program = helperCopy();
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0'], program);
    expect(run.exe).toBe(program);
    const [r] = await agent.recordsOf(run.pid, 1);
    expect(r).toMatchObject({ 'process.executable.path': program, 'process.executable.name': 'binder' });
    expect(exeFlags(r)).toEqual([]);
    // the command line is read only when asked to
    expect(Object.keys(r).filter((k) => k.includes('command_args'))).toEqual([]);
  });

  it('flags an executable deleted before the bind, with the " (deleted)" /proc/self/exe gives', async () => {
    const program = helperCopy();
    const { helper, pid } = await WaitingHelper.start(['--netns', 'tcp,4,127.0.0.1,0'], program);
    unlinkSync(program);
    const run = await helper.bind();
    expect(run.exe).toBe(`${program} (deleted)`);
    const [r] = await agent.recordsOf(pid, 1);
    expect(r).toMatchObject({ 'process.executable.path': `${program} (deleted)`, 'process.executable.name': 'binder' });
    expect(exeFlags(r)).toEqual([['deleted', true]]);
  });

  it('flags a fileless process run from a memfd (fexecve) as anonymous and deleted', async () => {
    const run = runBinds(['--memfd', '--netns', 'tcp,4,127.0.0.1,0']);
    expect(run.exe).toBe('/memfd:bind-helper (deleted)');
    const [r] = await agent.recordsOf(run.pid, 1);
    expect(r).toMatchObject({ 'process.executable.path': '/memfd:bind-helper (deleted)', 'process.executable.name': 'memfd:bind-helper' });
    expect(exeFlags(r)).toEqual([['deleted', true], ['anonymous', true]]);
  });

  it('gives the path a process in another mount namespace sees (on a mount this namespace does not have)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-mntns-'));
    dirs.push(dir);
    const inside = path.join(dir, 'bin', 'binder');
    const shell = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      `mount -t tmpfs bindsnoop-test "${dir}" && mkdir "${dir}/bin" && cp "${HELPER}" "${inside}" && exec "${inside}" --netns tcp,4,127.0.0.1,0`], { encoding: 'utf8' });
    expect(shell.status, shell.stderr).toBe(0);
    const pid = Number(/^pid (\d+)$/m.exec(shell.stdout)?.[1]);
    expect(/^exe (.*)$/m.exec(shell.stdout)?.[1]).toBe(inside);
    expect(existsSync(inside)).toBe(false);
    const [r] = await agent.recordsOf(pid, 1);
    expect(r['bindsnoop.mntns.id']).not.toBe(statSync('/proc/self/ns/mnt').ino);
    expect(r).toMatchObject({ 'process.executable.path': inside, 'process.executable.name': 'binder' });
    expect(exeFlags(r)).toEqual([]);
  });

  it('a process that unshares its mount namespace after exec: the plain path, not unreachable', async () => {
    const program = helperCopy();
    const run = runBinds(['--mntns', '--netns', 'tcp,4,127.0.0.1,0'], program);
    expect(run.exe).toBe(program);
    const [r] = await agent.recordsOf(run.pid, 1);
    expect(r['bindsnoop.mntns.id']).not.toBe(statSync('/proc/self/ns/mnt').ino);
    expect(r).toMatchObject({ 'process.executable.path': program });
    expect(exeFlags(r)).toEqual([]);
  });

  it('a path of 64 one-byte directories and a mount crossing (under 256 bytes) comes back whole', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-steps-'));
    dirs.push(dir);
    const deep = path.join(dir, ...Array.from({ length: 64 }, () => 'a'));
    const program = path.join(deep, 'binder');
    expect(program.length).toBeLessThan(256);
    // a tmpfs mounted in the middle of the path: its crossing is a step of the walk too
    const shell = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      `mkdir -p "${path.join(dir, 'a')}" && mount -t tmpfs steps "${path.join(dir, 'a')}" && mkdir -p "${deep}" && cp "${HELPER}" "${program}" && exec "${program}" --netns tcp,4,127.0.0.1,0`], { encoding: 'utf8' });
    expect(shell.status, shell.stderr).toBe(0);
    const pid = Number(/^pid (\d+)$/m.exec(shell.stdout)?.[1]);
    expect(/^exe (.*)$/m.exec(shell.stdout)?.[1]).toBe(program);
    const [r] = await agent.recordsOf(pid, 1);
    expect(r).toMatchObject({ 'process.executable.path': program, 'process.executable.name': 'binder' });
    expect(exeFlags(r)).toEqual([]);
  });

  it('a chrooted process: its path as it sees it, flagged chrooted, with its root from the namespace\'s root', async () => {
    const jail = mkdtempSync(path.join(tmpdir(), 'bindsnoop-jail-'));
    dirs.push(jail);
    mkdirSync(path.join(jail, 'usr', 'sbin'), { recursive: true });
    // a static binder named as the host's nginx: only the jail's path tells them apart
    copyFileSync(HELPER_STATIC, path.join(jail, 'usr', 'sbin', 'nginx'));
    const run = spawnSync('chroot', [jail, '/usr/sbin/nginx', '--netns', 'tcp,4,127.0.0.1,0'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const pid = Number(/^pid (\d+)$/m.exec(run.stdout)?.[1]);
    const [r] = await agent.recordsOf(pid, 1);
    expect(r).toMatchObject({ 'process.executable.path': '/usr/sbin/nginx', 'bindsnoop.process.chrooted': true, 'bindsnoop.process.root': jail });
    expect(exeFlags(r)).toEqual([]);
    // a process not chrooted carries neither
    const plain = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    const [q] = await agent.recordsOf(plain.pid, 1);
    expect(q).not.toHaveProperty('bindsnoop.process.chrooted');
    expect(q).not.toHaveProperty('bindsnoop.process.root');
  });

  it('keeps the last components of a 4,000-byte path and flags it truncated', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-deep-'));
    dirs.push(dir);
    const name = 'd'.repeat(200);
    const levels = Math.floor((4090 - dir.length - '/binder'.length) / (name.length + 1));
    const full = `${dir}/${`${name}/`.repeat(levels)}binder`;
    expect(full.length).toBeGreaterThan(4000);
    // built a directory at a time: the whole path is too long for one mkdir -p or exec
    const shell = spawnSync('sh', ['-c',
      `cd "${dir}" && for i in $(seq ${levels}); do mkdir ${name} && cd ${name} || exit 1; done; cp "${HELPER}" binder && exec ./binder --netns tcp,4,127.0.0.1,0`], { encoding: 'utf8' });
    expect(shell.status, shell.stderr).toBe(0);
    const pid = Number(/^pid (\d+)$/m.exec(shell.stdout)?.[1]);
    expect(/^exe (.*)$/m.exec(shell.stdout)?.[1]).toBe(full);
    const [r] = await agent.recordsOf(pid, 1);
    const shown = r['process.executable.path'] as string;
    expect(r).toMatchObject({ 'process.executable.name': 'binder' });
    expect(exeFlags(r)).toEqual([['truncated', true]]);
    // what fits: whole components from the leaf, no leading "/" (the start is not known)
    expect(shown).toMatch(/^d+\/.*binder$/);
    expect(full.endsWith(`/${shown}`)).toBe(true);
    expect(shown.length).toBeGreaterThan(255 - name.length - 1);
    expect(shown.length).toBeLessThan(256);
  });

  it('reports an IPv4 TCP bind with its process, thread, namespaces, cgroup and port', async () => {
    const run = runBinds(['--netns', '--comm', 'rec-tcp4', '--cgroup', cgroupDir, 'tcp,4,127.0.0.1,0']);
    const [r] = await agent.recordsOf(run.pid, 1);
    expect(r).toMatchObject({
      'process.pid': run.pid,
      'thread.id': run.pid,
      'thread.name': 'rec-tcp4',
      'process.real_user.id': 0,
      'network.transport': 'tcp',
      'network.type': 'ipv4',
      'network.local.address': '127.0.0.1',
      'network.local.port': port(run.results[0]),
      'bindsnoop.return_code': 0,
      'bindsnoop.requested.address': '127.0.0.1',
      'bindsnoop.requested.port': 0,
      'bindsnoop.opts': '.....',
      'bindsnoop.bound_dev_if': 0,
      'bindsnoop.netns.id': run.netns,
      'bindsnoop.mntns.id': run.mntns,
      'bindsnoop.cgroup.id': cgroupId(cgroupDir),
    });
    expect(r).not.toHaveProperty('error.type');
    expect(r['bindsnoop.netns.id']).not.toBe(statSync('/proc/self/ns/net').ino);
  });

  it('tells the thread that bound from its process', async () => {
    const run = runBinds(['--netns', '--thread', '--comm', 'rec-thread', 'tcp,4,127.0.0.1,0']);
    expect(run.tid).toBeGreaterThan(0);
    expect(run.tid).not.toBe(run.pid);
    const [r] = await agent.recordsOf(run.pid, 1);
    expect(r).toMatchObject({ 'process.pid': run.pid, 'thread.id': run.tid, 'thread.name': 'rec-thread' });
  });

  it('reports IPv6 and UDP binds with canonical addresses', async () => {
    const run = runBinds(['--netns', 'udp,6,::1,0', 'tcp,6,::,0', 'udp,4,0.0.0.0,0', 'tcp,6,::ffff:127.0.0.1,0']);
    const records = await agent.recordsOf(run.pid, 4);
    const summary = records.map((r) => [
      r['network.transport'],
      r['network.type'],
      r['network.local.address'],
      r['network.local.port'],
    ]);
    expect(summary).toEqual([
      ['udp', 'ipv6', '::1', port(run.results[0])],
      ['tcp', 'ipv6', '::', port(run.results[1])],
      ['udp', 'ipv4', '0.0.0.0', port(run.results[2])],
      ['tcp', 'ipv6', '::ffff:127.0.0.1', port(run.results[3])],
    ]);
  });

  it('reports a multicast bind with the group address it bound (bcc showed 0.0.0.0)', async () => {
    const run = runBinds(['--netns', 'udp,4,224.0.0.251,5353', 'udp,6,ff0e::fb,5353']);
    expect(run.results).toEqual(['ok 5353', 'ok 5353']);
    const records = await agent.recordsOf(run.pid, 2);
    expect(records.map((r) => r['network.local.address'])).toEqual(['224.0.0.251', 'ff0e::fb']);
  });

  it('names the transport of MPTCP and UDP-Lite sockets', async () => {
    const run = runBinds(['--netns', 'mptcp,4,127.0.0.1,0', 'udplite,4,127.0.0.1,0']);
    const records = await agent.recordsOf(run.pid, 2);
    expect(records.map((r) => r['network.transport'])).toEqual(['mptcp', 'udplite']);
    expect(records[0]['network.local.port']).toBe(Number(run.results[0].split(' ')[1]));
  });

  it('does not call a raw socket\'s protocol number a port: no network.local.port, bindsnoop.raw_socket true', async () => {
    const run = runBinds(['--netns', 'raw,4,127.0.0.1,4399', 'udp,4,127.0.0.1,0']);
    const [raw, udp] = await agent.recordsOf(run.pid, 2);
    expect(raw).toMatchObject({ 'network.transport': 'raw', 'network.local.address': '127.0.0.1', 'bindsnoop.raw_socket': true, 'bindsnoop.requested.port': 4399 });
    // before: network.local.port 255, IPPROTO_RAW's number, as if it were a port
    expect(raw).not.toHaveProperty('network.local.port');
    expect(udp).toMatchObject({ 'bindsnoop.raw_socket': false, 'network.local.port': Number(run.results[1].split(' ')[1]) });
  });

  it('shows each socket option letter: F T N R r', async () => {
    const run = runBinds([
      '--netns',
      'tcp,4,127.0.0.1,0,F',
      'tcp,4,127.0.0.1,0,T',
      'tcp,4,127.0.0.1,0,N',
      'tcp,4,127.0.0.1,0,R',
      'udp,4,127.0.0.1,0,r',
      'tcp,6,::1,0,FTNRr',
    ]);
    const records = await agent.recordsOf(run.pid, 6);
    expect(records.map((r) => r['bindsnoop.opts'])).toEqual(['F....', '.T...', '..N..', '...R.', '....r', 'FTNRr']);
    const all = records[5];
    expect(all).toMatchObject({
      'bindsnoop.opt.freebind': true,
      'bindsnoop.opt.transparent': true,
      'bindsnoop.opt.bind_address_no_port': true,
      'bindsnoop.opt.reuseaddr': true,
      'bindsnoop.opt.reuseport': true,
    });
    expect(records[0]).toMatchObject({ 'bindsnoop.opt.freebind': true, 'bindsnoop.opt.reuseport': false });
    // IP_BIND_ADDRESS_NO_PORT with port 0 defers the port to connect(): bound port 0, as bcc shows it
    expect(records[2]['network.local.port']).toBe(0);
  });

  it('reports SO_BINDTODEVICE as the interface index, and its name in our own network namespace', async () => {
    const inNetns = runBinds(['--netns', 'udp,4,127.0.0.1,0,-,lo']);
    const [a] = await agent.recordsOf(inNetns.pid, 1);
    expect(a['bindsnoop.bound_dev_if']).toBe(1);
    // an index from another network namespace cannot be named from here
    expect(a).not.toHaveProperty('network.interface.name');

    const here = runBinds(['udp,4,127.0.0.1,0,-,lo']);
    const [b] = await agent.recordsOf(here.pid, 1);
    expect(b['bindsnoop.bound_dev_if']).toBe(1);
    expect(b['network.interface.name']).toBe('lo');
  });

  it('reports failed binds with the errno name and what was requested', async () => {
    const run = runBinds([
      '--netns',
      'tcp,4,127.0.0.1,4242',
      'tcp,4,127.0.0.1,4242', // EADDRINUSE
      'tcp,4,192.0.2.7,80', // EADDRNOTAVAIL: not an address of this namespace
      'udp,6,2001:db8::1,53', // EADDRNOTAVAIL
    ]);
    expect(run.results).toEqual(['ok 4242', 'err 98', 'err 99', 'err 99']);
    const records = await agent.recordsOf(run.pid, 4);
    expect(records[1]).toMatchObject({
      'bindsnoop.return_code': -98,
      'error.type': 'EADDRINUSE',
      'bindsnoop.requested.address': '127.0.0.1',
      'bindsnoop.requested.port': 4242,
    });
    // a failed bind bound nothing
    expect(records[1]).not.toHaveProperty('network.local.address');
    expect(records[1]).not.toHaveProperty('network.local.port');
    expect(records[2]).toMatchObject({
      'bindsnoop.return_code': -99,
      'error.type': 'EADDRNOTAVAIL',
      'bindsnoop.requested.address': '192.0.2.7',
      'bindsnoop.requested.port': 80,
    });
    expect(records[2]).not.toHaveProperty('network.local.port');
    expect(records[3]).toMatchObject({
      'error.type': 'EADDRNOTAVAIL',
      'network.type': 'ipv6',
      'bindsnoop.requested.address': '2001:db8::1',
      'bindsnoop.requested.port': 53,
    });
  });

  it('ignores binds of unix sockets', async () => {
    const sock = `/tmp/bindsnoop-test-${process.pid}.sock`;
    const run = runBinds(['--netns', `unix,${sock}`, 'tcp,4,127.0.0.1,0']);
    rmSync(sock, { force: true });
    const records = await agent.recordsOf(run.pid, 1);
    // the TCP bind after it arrived, the unix one never does
    await new Promise((r) => setTimeout(r, 200));
    const mine = agent.jsonRecords().filter((r) => r['process.pid'] === run.pid);
    expect(mine).toHaveLength(1);
    expect(records[0]['network.transport']).toBe('tcp');
  });

  it('stamps each record with the wall-clock time of the bind', async () => {
    const before = Date.now();
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    const after = Date.now();
    const [r] = await agent.recordsOf(run.pid, 1);
    const time = r.time as string;
    expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const ms = Date.parse(time);
    expect(ms).toBeGreaterThanOrEqual(before - 50);
    expect(ms).toBeLessThanOrEqual(after + 50);
  });
});

describePrivileged('the command line, when kernel.readCommandLine asks for it', () => {
  let agent: Agent;
  beforeAll(async () => {
    agent = await Agent.start(['-o', 'json'], { BINDSNOOP_KERNEL_READ_COMMAND_LINE: 'true' });
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it('carries the arguments the process was given, read at the bind, as /proc/PID/cmdline splits them', async () => {
    const run = runBinds(['--netns', '--comm', 'rec-args', 'tcp,4,127.0.0.1,0', 'udp,6,::1,0']);
    const records = await agent.recordsOf(run.pid, 2);
    for (const r of records) {
      expect(r['process.command_args']).toEqual([HELPER, '--netns', '--comm', 'rec-args', 'tcp,4,127.0.0.1,0', 'udp,6,::1,0']);
      expect(r['bindsnoop.process.command_args.truncated']).toBe(false);
    }
  });

  it.each([
    ['a title past argv, into the environment area (nginx, PostgreSQL)', 100, false],
    ['a title longer than the record holds', 400, true],
  ])('a process that rewrote its title (setproctitle): %s, as /proc/PID/cmdline gives it', async (_what, length, truncated) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-title-'));
    const script = path.join(dir, 't.pl');
    // perl's $0 writes the title over argv and on into the environment area, as setproctitle(3) does
    writeFileSync(script, [
      `$0 = "title:" . ("t" x ${length - 6});`,
      'use Socket;',
      'socket(S, PF_INET, SOCK_STREAM, 0) or die; bind(S, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;',
      'open F, "/proc/self/cmdline"; local $/; my $c = <F>; $c =~ s/\\0/|/g; print "pid $$\\ncmdline $c\\n";',
    ].join('\n'));
    const run = spawnSync('perl', [script], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(run.status, run.stderr).toBe(0);
    const pid = Number(/^pid (\d+)$/m.exec(run.stdout)?.[1]);
    const title = `title:${'t'.repeat(length - 6)}`;
    expect(/^cmdline (.*)$/m.exec(run.stdout)?.[1]).toBe(`${title}|`);
    const [r] = await agent.recordsOf(pid, 1);
    expect(r['process.command_args']).toEqual([truncated ? title.slice(0, 255) : title]);
    expect(r['bindsnoop.process.command_args.truncated']).toBe(truncated);
  });

  it('keeps the first 255 bytes of a longer one, and flags it', async () => {
    const spec = 'tcp,4,127.0.0.1,0';
    const filler = Array.from({ length: 40 }, () => '--netns');
    const run = runBinds([...filler, spec]);
    const [r] = await agent.recordsOf(run.pid, 1);
    const full = [HELPER, ...filler, spec].join('\0');
    expect(full.length).toBeGreaterThan(255);
    expect(r['bindsnoop.process.command_args.truncated']).toBe(true);
    expect((r['process.command_args'] as string[]).join('\0')).toBe(full.slice(0, 255));
  });
});
