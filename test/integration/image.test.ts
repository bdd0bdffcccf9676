import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadAddon } from '../../src/kernel/native';
import { K8sTools } from '../helpers/helm';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { waitUntil } from '../helpers/wait';
import { describePrivileged, expectReleased, heldBy, ROOT, runBinds } from './harness';

/**
 * The real image, built from the Dockerfile (scripts/build-image.sh, on a
 * locally made stand-in base), run by podman with the DaemonSet's settings:
 * its capabilities, read-only root, no privilege escalation, host PID, memory
 * and CPU limits, seccomp as a containerd node's RuntimeDefault, and its host
 * mounts. Binds made on the host arrive at a test OTLP receiver.
 */
const PODMAN = ['podman', '--runtime', 'runc'];
const SHIPPED_SECCOMP = path.join(ROOT, 'k8s', 'seccomp', 'bindsnoop.json');

type Container = { securityContext: { capabilities: { add: string[] } }; resources: { limits: { memory: string; cpu: string } } };

const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const podman = (args: string[], timeout = 120_000) => spawnSync(PODMAN[0], [...PODMAN.slice(1), ...args], { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });

describePrivileged('the container image, run as the DaemonSet runs it', () => {
  let index = '';
  let image = '';
  let receiver: OtlpReceiver;
  const work = mkdtempSync(path.join(tmpdir(), 'bindsnoop-image-'));
  const pinDir = `/sys/fs/bpf/bindsnoop-image-${process.pid}`;
  const name = `bindsnoop-image-test-${process.pid}`;

  beforeAll(() => {
    const r = spawnSync(path.join(ROOT, 'scripts', 'build-image.sh'), [`localhost/bindsnoop-otel:test-${process.pid}`], { encoding: 'utf8', timeout: 1_500_000 });
    if (r.status !== 0) throw new Error(`image build failed (${r.status}): ${r.stderr.slice(-3000)}`);
    index = r.stdout.trim().split('\n').pop() ?? '';
    image = `${index}-amd64`;
  }, 1_500_000);

  it('runs on Node.js 24, the current LTS line', () => {
    const r = podman(['run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--entrypoint', 'node', image, '--version']);
    expect(r.stdout.trim(), r.stderr).toMatch(/^v24\./);
  });

  it('is one OCI image index for amd64 and arm64, labelled with the version, the commit and the licence', () => {
    const layout = path.join(work, 'oci');
    const pushed = podman(['manifest', 'push', '--all', '--format', 'oci', index, `oci:${layout}`], 600_000);
    expect(pushed.status, pushed.stderr).toBe(0);
    const top = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; mediaType: string }[] };
    const blob = (digest: string) => JSON.parse(readFileSync(path.join(layout, 'blobs', ...digest.split(':')), 'utf8')) as Record<string, unknown>;
    expect(top.manifests).toHaveLength(1);
    const imageIndex = blob(top.manifests[0].digest) as { mediaType: string; manifests: { digest: string; platform: { os: string; architecture: string } }[] };
    expect(imageIndex.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(imageIndex.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort()).toEqual(['linux/amd64', 'linux/arm64']);
    const commit = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    for (const m of imageIndex.manifests) {
      const config = blob((blob(m.digest) as { config: { digest: string } }).config.digest) as { architecture: string; config: { Labels: Record<string, string> } };
      expect(config.architecture).toBe(m.platform.architecture);
      expect(config.config.Labels).toMatchObject({
        'org.opencontainers.image.title': 'bindsnoop-otel',
        'org.opencontainers.image.version': PACKAGE.version,
        'org.opencontainers.image.licenses': 'Apache-2.0',
      });
      expect(config.config.Labels['org.opencontainers.image.revision']).toMatch(new RegExp(`^${commit}(-dirty)?$`));
      // the source's address only once the package names one: never an empty label
      const source = (PACKAGE as { repository?: { url?: string } | string }).repository;
      if (source) expect(config.config.Labels['org.opencontainers.image.source']).toBe(typeof source === 'string' ? source : source.url);
      else expect(config.config.Labels).not.toHaveProperty('org.opencontainers.image.source');
    }
  }, 600_000);

  it('arm64: starts under emulation, and carries the very addon and BPF object the package ships for arm64', () => {
    const arm = `${index}-arm64`;
    const v = podman(['run', '--rm', '--platform', 'linux/arm64', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', arm, '--version'], 300_000);
    expect(v.stdout, v.stderr).toMatch(new RegExp(`^bindsnoop ${PACKAGE.version.replace(/\./g, '\\.')} \\(commit [0-9a-f]{40}(-dirty)?\\)\n$`));
    const arch = podman(['run', '--rm', '--platform', 'linux/arm64', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--entrypoint', 'node', arm, '-p', 'process.arch'], 300_000);
    expect(arch.stdout.trim(), arch.stderr).toBe('arm64');
    const dir = '/usr/lib/node_modules/bindsnoop-otel/native/prebuilds/linux-arm64';
    const sums = podman(['run', '--rm', '--platform', 'linux/arm64', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--entrypoint', 'sha256sum', arm, `${dir}/bindsnoop.napi.glibc.node`, `${dir}/bindsnoop.bpf.o`], 300_000);
    const digest = (f: string) => createHash('sha256').update(readFileSync(path.join(ROOT, 'native', 'prebuilds', 'linux-arm64', f))).digest('hex');
    expect(sums.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0]), sums.stderr).toEqual([digest('bindsnoop.napi.glibc.node'), digest('bindsnoop.bpf.o')]);
  }, 600_000);

  afterAll(() => {
    spawnSync(PODMAN[0], [...PODMAN.slice(1), 'rm', '-f', name]);
    if (index) {
      podman(['manifest', 'rm', index]);
      podman(['rmi', `${index}-amd64`, `${index}-arm64`]);
    }
    rmSync(work, { recursive: true, force: true });
    rmSync(pinDir, { recursive: true, force: true });
    if (existsSync(`${pinDir}-handover`)) loadAddon().removePinnedSet(`${pinDir}-handover`);
  });

  it('under a runtime default seccomp profile that refuses bpf() without CAP_SYS_ADMIN: says seccomp, not capabilities (exit 1)', () => {
    // podman's own default (Debian 12's containers-common) is such a profile
    const r = spawnSync(PODMAN[0], [...PODMAN.slice(1), 'run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'BPF,PERFMON', '--pid', 'host', '--user', '0',
      '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '-v', '/sys/kernel/tracing:/sys/kernel/tracing:ro', image, '--daemon'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain('this process runs under a seccomp filter (Seccomp: 2 in /proc/self/status)');
    expect(r.stderr).toContain('k8s/seccomp/bindsnoop.json');
    expect(r.stderr).not.toContain('run as root or with CAP_BPF and CAP_PERFMON');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('builds from the Dockerfile, runs with only the manifest\'s capabilities, and exports host binds', async () => {
    receiver = await OtlpReceiver.start();
    // the DaemonSet as the Helm chart renders it by default (the same as k8s/: the chart test compares them)
    const rendered = K8sTools.load(path.join(work, 'helm')).template();
    expect(rendered.status, rendered.stderr).toBe(0);
    const ds = rendered.objects.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: { containers: Container[] } } } };
    const c = ds.spec.template.spec.containers[0];
    const caps = c.securityContext.capabilities.add;
    mkdirSync(path.join(work, 'config'));
    mkdirSync(path.join(work, 'pods'));
    mkdirSync(path.join(work, 'containers'));
    writeFileSync(
      path.join(work, 'config', 'config.yaml'),
      [
        'filter: {errors: true}',
        `otlp: {endpoint: "${receiver.url}", flushIntervalMillis: 50}`,
        `kubernetes: {enabled: true, pinDir: "${pinDir}"}`,
        // as the chart runs it: the programs stay attached for the next agent (removed below with bindsnoop cleanup)
        `handover: {enabled: true, pinDir: "${pinDir}-handover"}`,
        'server: {port: 0, host: 127.0.0.1}',
        '',
      ].join('\n'),
    );
    const args = [
      ...PODMAN.slice(1), 'run', '--rm', '--name', name,
      '--cap-drop', 'ALL', '--cap-add', caps.join(','),
      '--read-only', '--pid', 'host', '--user', '0',
      // the profile shipped for nodes whose runtime default refuses bpf() without CAP_SYS_ADMIN
      '--security-opt', 'no-new-privileges', '--security-opt', `seccomp=${SHIPPED_SECCOMP}`,
      '--memory', c.resources.limits.memory.replace(/Mi$/, 'm'), '--cpus', c.resources.limits.cpu,
      '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
      // to reach the test receiver on the host's loopback (in a cluster: the collector Service)
      '--network', 'host',
      '-e', 'NODE_NAME=image-test-node',
      '-v', `${path.join(work, 'config')}:/etc/bindsnoop:ro`,
      '-v', '/sys/fs/bpf:/sys/fs/bpf',
      '-v', '/sys/kernel/tracing:/sys/kernel/tracing:ro',
      '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro',
      '-v', `${path.join(work, 'pods')}:/var/log/pods:ro`,
      '-v', `${path.join(work, 'containers')}:/var/log/containers:ro`,
      image,
    ];
    const proc = spawn(PODMAN[0], args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    proc.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    const until = (what: string, ok: () => boolean): Promise<unknown> =>
      waitUntil(what, () => {
        if (proc.exitCode !== null) throw new Error(`the container exited while waiting for ${what}:\n${logs}`);
        return ok();
      }, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}; container said:\n${logs}`);
      });
    try {
      await until('the agent to serve', () => /"msg":"serving/.test(logs));
      const lines = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines[0]).toMatchObject({ msg: 'effective capabilities', capabilities: ['CAP_PERFMON', 'CAP_BPF'] });
      const port = lines.find((l) => String(l.msg).startsWith('serving'))!.port as number;
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

      const run = runBinds(['--netns', '--comm', 'image-probe', 'tcp,4,127.0.0.1,4900', 'tcp,4,127.0.0.1,4900']);
      await until('the binds at the receiver', () => receiver.records().filter((r) => r.attributes['process.pid'] === run.pid).length === 2);
      const [ok, failed] = receiver.records().filter((r) => r.attributes['process.pid'] === run.pid);
      // host PID namespace: the pid is the host's
      expect(ok.attributes).toMatchObject({ 'thread.name': 'image-probe', 'network.local.port': 4900 });
      expect(failed.attributes).toMatchObject({ 'error.type': 'EADDRINUSE' });
      expect(ok.resource).toMatchObject({ 'service.name': 'bindsnoop', 'k8s.node.name': 'image-test-node' });
      // the pinned maps it made are on the host's bpffs
      expect(spawnSync('bpftool', ['map', 'show', 'pinned', `${pinDir}/cgroups`]).status).toBe(0);

      // podman stop sends SIGTERM: a clean exit that leaves the pinned set attached for the next agent
      const hostPid = Number(spawnSync(PODMAN[0], [...PODMAN.slice(1), 'inspect', '--format', '{{.State.Pid}}', name], { encoding: 'utf8' }).stdout.trim());
      const held = heldBy(hostPid);
      expect(held.programs.length).toBeGreaterThanOrEqual(2);
      spawnSync(PODMAN[0], [...PODMAN.slice(1), 'stop', '-t', '20', name]);
      expect(await exited).toBe(0);
      expect(logs).toMatch(/"msg":"stopped"/);
      expect(readdirSync(`${pinDir}-handover`).filter((f) => f.startsWith('link-')).length).toBe(held.links.length);
      // bindsnoop cleanup, run from the image with the same privileges, removes it: nothing the agent held stays
      const cleanup = spawnSync(PODMAN[0], [
        ...PODMAN.slice(1), 'run', '--rm', '--cap-drop', 'ALL', '--cap-add', caps.join(','), '--read-only', '--user', '0',
        '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
        '--security-opt', 'no-new-privileges', '--security-opt', `seccomp=${SHIPPED_SECCOMP}`, '-v', '/sys/fs/bpf:/sys/fs/bpf',
        image, 'cleanup', '--pin-dir', `${pinDir}-handover`,
      ], { encoding: 'utf8', timeout: 60_000 });
      expect(cleanup.status, cleanup.stderr).toBe(0);
      expect(cleanup.stderr).toMatch(/^bindsnoop cleanup: removed the pinned set under .*: \d+ links \(their programs detached\) and 4 maps/);
      await expectReleased(held);
    } finally {
      proc.kill('SIGKILL');
      await receiver.stop();
    }
  }, 120_000);
});
