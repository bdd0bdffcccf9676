import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Agent, CLI, describePrivileged, runBinds, runTracingBpf } from './harness';

function cli(args: readonly string[], prefix: readonly string[] = [], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const argv = [...prefix, process.execPath, CLI, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('command line errors and help (no privileges needed)', () => {
  const cases: [string, string[], RegExp][] = [
    ['a PID that is not a number', ['-p', 'abc'], /argument 'abc' is invalid\. a PID is a whole number/],
    ['a port out of range', ['-P', '70000'], /'70000' is not a port/],
    ['a port list with junk', ['-P', '80,http'], /'http' is not a port/],
    ['too many ports', ['-P', Array.from({ length: 65 }, (_, i) => 1000 + i).join(',')], /too many ports \(65\)/],
    ['a negative UID', ['-u', '-1'], /-u, --uid <UID>/],
    ['an unknown flag', ['--bogus'], /unknown option '--bogus'/],
    ['an unknown output format', ['-o', 'xml'], /Allowed choices are table, json/],
    ['a missing value', ['-p'], /argument missing/],
    ['a stray argument', ['extra'], /too many arguments/],
  ];
  for (const [what, args, message] of cases) {
    it(`rejects ${what} with a usage message and status 2`, () => {
      const r = cli(args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^usage: bindsnoop \[-h\]/);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('-h shows usage, every option and bcc\'s examples', () => {
    const r = cli(['-h']);
    expect(r.status).toBe(0);
    for (const text of ['usage: bindsnoop', '-t, --timestamp', '-w, --wide', '-p PID, --pid PID', '-P PORT, --port PORT',
      '-E, --errors', '-U, --print-uid', '-u UID, --uid UID', '--count', '--cgroupmap CGROUPMAP', '--mntnsmap MNTNSMAP',
      'bindsnoop -P 80,81    # only trace port 80 and 81', 'SOL_SOCKET SO_REUSEPORT             ....r']) {
      expect(r.stdout).toContain(text);
    }
  });

  it('-h speaks of the installed command and of every protocol, without bcc\'s typo', () => {
    const r = cli(['-h']);
    expect(r.stdout).toContain('Trace socket binds (every protocol');
    expect(r.stdout).not.toContain('./bindsnoop');
    expect(r.stdout).not.toContain('Trace TCP binds');
    expect(r.stdout).not.toContain('bins call');
    expect(r.stdout).toMatch(/^ {4}bindsnoop -t {10}# include timestamps$/m);
  });

  it('--version prints the version', () => {
    expect(cli(['--version']).stdout).toMatch(/^bindsnoop \d+\.\d+\.\d+\n$/);
  });
});

describePrivileged('configuration errors', () => {
  it('a bad configuration exits 2 naming each bad key, before anything is loaded', async () => {
    const file = `/tmp/bindsnoop-cli-bad-${process.pid}.yaml`;
    writeFileSync(file, 'otlp:\n  protocol: grpc\n  flushIntervalMs: 5\n');
    const r = runTracingBpf(['-c', file, '-E'], {
      BINDSNOOP_OTLP_TIMEOUT_MILLIS: 'never',
      // an OTEL_ variable the agent cannot use is warned about and ignored, as the SDK specification says
      OTEL_EXPORTER_OTLP_COMPRESSION: 'deflate',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer hush',
    });
    rmSync(file);
    expect(r.status).toBe(2);
    expect(r.loadedPrograms).toBe(0);
    expect(r.stderr).toMatch(/^bindsnoop: invalid configuration:$/m);
    expect(r.stderr).toContain('otlp.protocol');
    expect(r.stderr).toContain('otlp.flushIntervalMs');
    expect(r.stderr).toContain('otlp.timeoutMillis (from BINDSNOOP_OTLP_TIMEOUT_MILLIS)');
    expect(r.stderr).toContain("bindsnoop: OTEL_EXPORTER_OTLP_COMPRESSION: 'deflate' is not one of gzip, none; ignored (the default applies)\n");
    expect(r.stderr).not.toContain('hush');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('Tracing binds');
  });

  it('an unreadable CA certificate is a configuration error too (exit 2)', () => {
    const r = cli(['-q'], [], { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://127.0.0.1:1', OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('otlp.certificate: cannot read /nonexistent/ca.pem (ENOENT)');
  });
});

describePrivileged('privileges', () => {
  it('without capabilities it fails with one line naming what is needed, status 1', () => {
    // uid 0 but no capabilities at all: what a non-root user gets
    const r = cli([], ['setpriv', '--inh-caps=-all', '--bounding-set=-all']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toBe('bindsnoop: missing CAP_BPF and CAP_PERFMON (effective: none): run as root or with CAP_BPF and CAP_PERFMON\n');
  });

  it('without BTF it fails with one line saying what the kernel lacks, status 1', () => {
    // a mount namespace of its own where /sys/kernel/btf is an empty tmpfs
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs none /sys/kernel/btf && exec "${process.execPath}" "${CLI}"`], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^bindsnoop: this kernel \(Linux [^)]+\) lacks BTF type information at \/sys\/kernel\/btf\/vmlinux \(CONFIG_DEBUG_INFO_BTF=y\), which Linux 5\.4 brought; bindsnoop needs Linux 5\.8 or newer built with CONFIG_DEBUG_INFO_BTF=y\n$/,
    );
    expect(r.stdout).toBe('');
  });

  it('with an empty BTF file it fails with the missing-BTF line too, not a later errno, status 1', () => {
    // a mount namespace of its own where /sys/kernel/btf/vmlinux is an empty file
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs none /sys/kernel/btf && touch /sys/kernel/btf/vmlinux && exec "${process.execPath}" "${CLI}"`], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^bindsnoop: this kernel \(Linux [^)]+\) lacks BTF type information at \/sys\/kernel\/btf\/vmlinux \(CONFIG_DEBUG_INFO_BTF=y\), .* \(\/sys\/kernel\/btf\/vmlinux is empty or not BTF\)\n$/);
    expect(r.stdout).toBe('');
  });

  it('mounts tracefs itself when it is missing (as root)', async () => {
    execFileSync('umount', ['/sys/kernel/tracing']);
    expect(existsSync('/sys/kernel/tracing/events/syscalls')).toBe(false);
    const agent = await Agent.start(['-o', 'json']);
    expect(existsSync('/sys/kernel/tracing/events/syscalls')).toBe(true);
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    await agent.recordsOf(run.pid, 1);
    await agent.stop();
  });

  const nobody = (caps: string): string[] => ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=-all,${caps}`, `--ambient-caps=-all,${caps}`, `--bounding-set=-all,${caps}`];

  it('a non-root user with CAP_BPF and CAP_PERFMON is told what is refused (tracefs, mode 0700), not that tracefs is missing (exit 1)', async () => {
    const agent = Agent.spawn(['-o', 'json'], {}, nobody('+bpf,+perfmon'));
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    expect(agent.stderr).toMatch(/tracefs is mounted at \/sys\/kernel\/tracing but this user \(uid 65534\) may not read it \(mode 0700, owner uid 0\): .*run as uid 0 with CAP_BPF and CAP_PERFMON, or also grant CAP_DAC_READ_SEARCH/);
    expect(agent.stderr).not.toMatch(/not mounted/);
  });

  it('a non-root user with CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH traces', async () => {
    const agent = Agent.spawn(['-o', 'json'], {}, nobody('+bpf,+perfmon,+dac_read_search'));
    await agent.waitFor(() => agent.stderr.includes('Tracing binds') || agent.proc.exitCode !== null, 'attach', 15_000);
    expect(agent.stderr).toContain('Tracing binds');
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    await agent.recordsOf(run.pid, 1);
    expect((await agent.stop()).code).toBe(0);
  });

  it('CAP_BPF and CAP_PERFMON alone are enough to trace (as uid 0)', async () => {
    const agent = Agent.spawn(['-o', 'json'], {}, ['setpriv', '--inh-caps=-all,+bpf,+perfmon', '--bounding-set=-all,+bpf,+perfmon']);
    await agent.waitFor(() => agent.stderr.includes('Tracing binds') || agent.proc.exitCode !== null, 'attach', 15_000);
    expect(agent.stderr).toContain('Tracing binds');
    const run = runBinds(['--netns', 'tcp,4,127.0.0.1,0']);
    await agent.recordsOf(run.pid, 1);
    expect((await agent.stop()).code).toBe(0);
  });
});
