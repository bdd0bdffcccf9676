import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersions } from '../../src/kernel/addon-file';
import { readElf } from '../helpers/elf';
import { expectExeCases } from '../helpers/exe-cases';
import { IN_ROOT, INSTALLED, installPackage, must, pack, PACKAGE, prepareRoot, sh, type InstalledRoot } from '../helpers/package-root';
import { waitUntil } from '../helpers/wait';
import { describePrivileged, ROOT } from './harness';

/**
 * The npm package as a user gets it: packed from this build (scripts/pack.sh),
 * then installed with `npm install -g` into clean Debian 11, 12 and 13 roots
 * that have the official Node.js build and npm and nothing else (no compiler,
 * no libbpf, no libelf), where it must start and trace a real bind on this
 * machine's kernel with its prebuilt addon.
 */
const pkg = PACKAGE;
const SUITES = [
  { suite: 'bullseye', debian: 11 },
  { suite: 'bookworm', debian: 12 },
  { suite: 'trixie', debian: 13 },
];
/** binds made by this file's children carry this uid, so the host's other binds are not read */
const UID = 61000 + (process.pid % 4000);

let tarball = '';
const work = mkdtempSync('/var/tmp/bindsnoop-package-');

describePrivileged('the npm package', () => {
  beforeAll(() => {
    tarball = pack(path.join(work, 'pack'));
  }, 900_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('holds what runs and nothing else: dist, both prebuilds with their BPF objects, the config example, README, LICENSE', () => {
    const listing = JSON.parse(must(sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], 60_000), 'npm pack --dry-run')) as { files: { path: string }[] }[];
    const files = listing[0].files.map((f) => f.path).sort();
    for (const want of [
      'dist/cli/main.js',
      'dist/kernel/addon-file.js',
      'config/bindsnoop.example.yaml',
      'README.md',
      'LICENSE',
      'package.json',
      'scripts/install.js',
      'native/binding.gyp',
      'k8s/seccomp/bindsnoop.json',
      ...pkg.bindsnoop.prebuilds.platforms.flatMap((p) => [`native/prebuilds/${p}/bindsnoop.napi.glibc.node`, `native/prebuilds/${p}/bindsnoop.bpf.o`]),
      'native/prebuilds/SHA256SUMS',
      'native/prebuilds/licenses/libbpf-LICENSE',
      'native/prebuilds/licenses/zlib-LICENSE',
    ]) {
      expect(files, want).toContain(want);
    }
    for (const f of files) {
      expect(f, 'no tests, sources of the program, caches or build trees').not.toMatch(/^(test|src|bench|scripts\/(?!install\.js)|node_modules|native\/build|\.)|\.test\.|\.ts$|\.map$|\.tsbuildinfo|\.inputs/);
    }
  });

  it('declares what it runs on: bin, engines, os, cpu, license', () => {
    const p = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(p.bin).toEqual({ bindsnoop: 'dist/cli/main.js' });
    expect(p.os).toEqual(['linux']);
    expect(p.cpu).toEqual(pkg.bindsnoop.prebuilds.platforms.map((x) => x.replace('linux-', '')));
    expect(p.license).toBe('Apache-2.0');
    expect((p.engines as { node: string }).node).toMatch(/20/);
  });

  it('prebuilds: libbpf, libelf and zlib inside (no libbpf.so needed), and nothing newer than the stated glibc baseline', () => {
    for (const platform of pkg.bindsnoop.prebuilds.platforms) {
      const elf = readElf(path.join(ROOT, 'native', 'prebuilds', platform, 'bindsnoop.napi.glibc.node'));
      expect(elf.machine, platform).toBe(platform === 'linux-x64' ? 'x86-64' : 'aarch64');
      expect(elf.needed.filter((n) => /bpf|elf|libz/.test(n)), platform).toEqual([]);
      const newest = elf.glibcVersions.sort((a, b) => compareVersions(b, a))[0];
      expect(compareVersions(newest, pkg.bindsnoop.prebuilds.glibc), `${platform} needs GLIBC_${newest}`).toBeLessThanOrEqual(0);
      // the addon carries its architecture's BPF object, the one shipped beside it
      const object = readFileSync(path.join(ROOT, 'native', 'prebuilds', platform, 'bindsnoop.bpf.o'));
      expect(readFileSync(path.join(ROOT, 'native', 'prebuilds', platform, 'bindsnoop.napi.glibc.node')).includes(object), platform).toBe(true);
    }
  });

  for (const { suite, debian } of SUITES) {
    describe(`installed with npm install -g on a clean Debian ${debian} (${suite})`, () => {
      let root: InstalledRoot;
      const state = path.join(work, suite);
      const inRoot = (args: string[], timeout?: number) => root.run(args, timeout);

      beforeAll(() => {
        root = prepareRoot(suite, 'amd64', state, tarball);
      }, 1_500_000);

      it('has no compiler and no libbpf, installs, and `bindsnoop --version` names the version and the commit', () => {
        expect(inRoot(['sh', '-c', 'command -v cc gcc g++ make; ls /usr/lib/*/libbpf.so* /usr/lib/*/libelf*.so* 2>/dev/null; true']).stdout.trim()).toBe('');
        must(installPackage(root), 'npm install -g');
        const commit = must(sh('git', ['-C', ROOT, 'rev-parse', 'HEAD']), 'git rev-parse').trim();
        expect(must(inRoot(['bindsnoop', '--version']), 'bindsnoop --version')).toMatch(new RegExp(`^bindsnoop ${pkg.version.replace(/\./g, '\\.')} \\(commit ${commit}(-dirty)?\\)\\n$`));
        // the prebuild was taken: nothing was built on this host
        expect(inRoot(['ls', `${INSTALLED}/native/build`]).status).not.toBe(0);
      }, 600_000);

      it('traces a real bind made in the root, one JSON record checked field by field', async () => {
        const tracer = spawn(IN_ROOT, [root.lower, state, 'bindsnoop', '-o', 'json', '-u', String(UID)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        tracer.stdout.on('data', (d: Buffer) => (out += d.toString()));
        tracer.stderr.on('data', (d: Buffer) => (err += d.toString()));
        try {
          await waitUntil('bindsnoop traces', () => err.includes('Tracing binds') || tracer.exitCode !== null, 60_000);
          expect(err, err).toContain('Tracing binds');
          const child = must(
            inRoot(['node', '-e', `process.setuid(${UID}); const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(process.pid, s.address().port); s.close(); })`]),
            'a bind in the root',
          );
          const [pid, port] = child.trim().split(' ').map(Number);
          // the executable as the process in the root (a chroot) sees it, not the host's path to it
          const node = must(inRoot(['sh', '-c', 'readlink -f "$(command -v node)"']), 'node\'s path').trim();
          const line = await waitUntil('the record', () => out.split('\n').find((l) => l.includes(`"process.pid":${pid},`)), 30_000);
          const r = JSON.parse(line) as Record<string, unknown>;
          expect(r).toMatchObject({
            'service.name': 'bindsnoop',
            'service.version': pkg.version,
            'process.pid': pid,
            'thread.id': pid,
            // Node names its main thread; its listen() sets SO_REUSEADDR
            'thread.name': 'MainThread',
            'process.real_user.id': UID,
            'network.transport': 'tcp',
            'network.type': 'ipv4',
            'network.local.address': '127.0.0.1',
            'network.local.port': port,
            'bindsnoop.requested.address': '127.0.0.1',
            'bindsnoop.requested.port': 0,
            'bindsnoop.return_code': 0,
            'bindsnoop.opts': '...R.',
            'bindsnoop.kernel_socket': false,
            'process.executable.path': node,
            'process.executable.name': 'node',
          });
          expect(r).not.toHaveProperty('bindsnoop.process.executable.unreachable');
          expect(r['bindsnoop.backend']).toMatch(/^(fentry|kprobe|tracepoint)$/);
          expect(Date.now() - Date.parse(r.time as string)).toBeLessThan(120_000);
        } finally {
          tracer.kill('SIGINT');
          await new Promise((resolve) => (tracer.exitCode !== null ? resolve(undefined) : tracer.once('exit', resolve)));
        }
        expect(tracer.exitCode, err).toBe(0);
      }, 180_000);
    });
  }

  it('--build-from-source where make, a compiler and libbpf-dev are (this machine): builds the addon against the host\'s libbpf, and it traces', async () => {
    const prefix = path.join(work, 'from-source');
    must(sh('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', '--build-from-source', tarball], 900_000), 'npm install --build-from-source');
    const built = path.join(prefix, 'lib', 'node_modules', pkg.name, 'native', 'build', 'Release', 'bindsnoop.node');
    expect(existsSync(built)).toBe(true);
    expect(readElf(built).needed).toContain('libbpf.so.1');
    const tracer = spawn(path.join(prefix, 'bin', 'bindsnoop'), ['-o', 'json', '-u', String(UID)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    tracer.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await waitUntil('bindsnoop traces', () => err.includes('Tracing binds') || tracer.exitCode !== null, 60_000);
      expect(err).toContain('Tracing binds');
    } finally {
      tracer.kill('SIGINT');
      await new Promise((resolve) => (tracer.exitCode !== null ? resolve(undefined) : tracer.once('exit', resolve)));
    }
    expect(tracer.exitCode, err).toBe(0);
  }, 900_000);

  it('arm64: installed in a clean Debian 12 arm64 root, its prebuilt addon loads and traces a bind in an arm64 guest (Debian\'s 6.1 under qemu)', () => {
    // npm install -g runs in the arm64 root under qemu-user; the guest boots with that root over virtio-9p
    const root = prepareRoot('bookworm', 'arm64', path.join(work, 'arm64'), tarball);
    must(installPackage(root), 'npm install -g (arm64)');
    const merged = path.join(work, 'arm64-root');
    must(sh('cp', ['-a', `${root.lower}/.`, merged]), 'copy the root');
    must(sh('cp', ['-a', `${root.state}/upper/.`, `${merged}/`]), 'copy the install');
    copyFileSync(path.join(ROOT, 'test', 'vm', 'package-guest.sh'), path.join(merged, 'root', 'package-guest.sh'));
    // binds by unusual executables in the arm64 kernel: the bind helper, built for arm64 (static: the root has no libc
    // to spare for it), and the cases the amd64 matrix runs
    const testDir = path.join(merged, 'usr', 'local', 'lib', 'bindsnoop-test');
    mkdirSync(testDir, { recursive: true });
    must(sh('aarch64-linux-gnu-gcc', ['-static', '-O2', '-pthread', '-o', path.join(testDir, 'bind_helper'), path.join(ROOT, 'test', 'helpers', 'bind_helper.c')]), 'build the bind helper for arm64');
    copyFileSync(path.join(ROOT, 'test', 'vm', 'exe-cases.sh'), path.join(testDir, 'exe-cases.sh'));
    const boot = spawnSync(path.join(ROOT, 'test', 'vm', 'boot.sh'), ['bookworm', '/root/package-guest.sh', String(UID)], {
      encoding: 'utf8',
      timeout: 1_200_000,
      maxBuffer: 64 << 20,
      env: { ...process.env, BINDSNOOP_VM_ARCH: 'arm64', BINDSNOOP_VM_ROOT: merged, BINDSNOOP_VM_TIMEOUT: '1100' },
    });
    const lines = boot.stdout.replace(/\r/g, '').split('\n');
    const value = (tag: string) => lines.filter((l) => l.startsWith(`${tag} `)).map((l) => l.slice(tag.length + 1));
    expect(lines, boot.stdout.slice(-4000) + boot.stderr.slice(-2000)).toContain('MATRIX DONE');
    expect(value('KERNEL')[0]).toMatch(/^6\.1\..*-arm64 aarch64$/);
    expect(value('PKGVERSION')[0]).toMatch(new RegExp(`^bindsnoop ${pkg.version.replace(/\./g, '\\.')} \\(commit [0-9a-f]{40}(-dirty)?\\)$`));
    // arm64's BPF trampolines need 6.4 to attach to kernel functions: auto takes kprobes here
    expect(value('PKGAUTO')[0]).toMatch(/^bindsnoop: tracing with the kprobe backend/);
    const [pid, port] = value('PKGBIND')[0].split(' ').map(Number);
    const events = value('PKGEVENT').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['process.pid'] === pid);
    expect(events).toEqual([
      expect.objectContaining({
        'service.version': pkg.version,
        'bindsnoop.backend': 'kprobe',
        'thread.name': 'MainThread',
        'process.real_user.id': UID,
        'network.transport': 'tcp',
        'network.local.address': '0.0.0.0',
        'network.local.port': port,
        'bindsnoop.return_code': 0,
        'bindsnoop.opts': '...R.',
        // the executable's path, walked in the arm64 kernel
        'process.executable.path': value('PKGNODE')[0],
        'process.executable.name': 'node',
      }),
    ]);
    expect(events[0]).not.toHaveProperty('bindsnoop.process.executable.truncated');
    expect(value('PKGNODE')[0]).toMatch(/^\/.*\/node$/);
    expectExeCases(value('PKGHELPER'), value('PKGEVENT').map((l) => JSON.parse(l) as Record<string, unknown>), 'arm64');
    expect(value('PKGEXIT')[0]).toBe('0');
    rmSync(merged, { recursive: true, force: true });
  }, 2_400_000);

  describe('bad prebuilds and hosts, in the Debian 12 root', () => {
    const state = path.join(work, 'bookworm');
    const inRoot = (args: string[]) => sh(IN_ROOT, [must(sh(path.join(ROOT, 'scripts', 'debian-root.sh'), ['bookworm', 'amd64']), 'root').trim(), state, ...args], 900_000);

    it('a corrupted prebuild: one line naming its path, exit 1, nothing loaded', () => {
      const file = path.join(state, 'upper', INSTALLED, 'native', 'prebuilds', 'linux-x64', 'bindsnoop.napi.glibc.node');
      expect(existsSync(file)).toBe(true);
      const saved = readFileSync(file);
      try {
        truncateSync(file, 4096);
        const r = inRoot(['bindsnoop', '-o', 'json']);
        expect(r.status).toBe(1);
        // dlopen of a truncated shared object dies of SIGBUS: the file is checked against the package's digests first
        expect(r.stderr).toBe(
          `bindsnoop: the native addon ${INSTALLED}/native/prebuilds/linux-x64/bindsnoop.napi.glibc.node is damaged (its SHA-256 is not the one the package lists): reinstall the package, or build it from source: npm rebuild -g bindsnoop-otel --build-from-source (needs make, a C++ compiler, python3 and libbpf 1.x with its headers)\n`,
        );
      } finally {
        writeFileSync(file, saved);
      }
    });

    it('no prebuild for this platform (musl, say): says what is supported and how to build, exit 1', () => {
      const r = inRoot(['env', 'LIBC=musl', 'bindsnoop', '-o', 'json']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^bindsnoop: no native addon in \/usr\/local\/lib\/node_modules\/bindsnoop-otel\/native for linux-x64 \(musl\) \(prebuilt for linux-x64 and linux-arm64 with glibc 2\.31 or newer\); or build it from source: npm rebuild -g bindsnoop-otel --build-from-source .*\n$/);
    });

    it('--build-from-source on a host without a compiler: the install fails saying what it needs', () => {
      const r = inRoot(['npm', 'install', '-g', '--no-audit', '--no-fund', '--build-from-source', `/root/${path.basename(tarball)}`]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('bindsnoop-otel: building the native addon from source failed');
      // what is missing in that root, by name (a root with every tool would say the error itself is the cause)
      expect(r.stderr).toMatch(/missing: make, a C\+\+ compiler, .*\(Debian and Ubuntu: apt install make g\+\+ python3 libbpf-dev\)/);
    }, 600_000);
  });
});
