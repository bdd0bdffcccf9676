import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as path from 'node:path';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exeCase, expectExeCases } from '../helpers/exe-cases';
import { installPackage, must, pack, PACKAGE, prepareRoot, type InstalledRoot } from '../helpers/package-root';
import { describePrivileged, ROOT } from './harness';
import { asPrinted, collectedRecords, collectorBinary, type OtlpJsonRequest } from '../helpers/collector';

/**
 * The shipped CLI (this build's dist/, addon and Node) on Debian's kernels,
 * booted under qemu with this machine's root filesystem shared read-only
 * (test/vm/boot.sh runs test/vm/matrix-guest.sh inside). On each kernel every
 * backend it offers must report the same binds the same way; fentry and kprobe
 * must also see io_uring's IORING_OP_BIND (6.11+) and a VXLAN device's
 * in-kernel socket, which the syscall tracepoints cannot; and every backend
 * names the executable, read in the kernel, as the process itself does:
 * deleted, run from a memfd, in another mount namespace, at a 4,000-byte path.
 */
type Json = Record<string, string | number | boolean>;

interface Matrix {
  kernel: string;
  auto: string;
  backends: Map<string, string>;
  helper: Map<string, string[]>;
  events: Map<string, Json[]>;
  /** a bindsnoop that did not exit on SIGINT: its threads and their kernel stacks */
  hangs: string[];
  /** the npm package installed in a clean Debian 11 root: its --version, backend line, a bind by node and its records */
  pkg: { version: string; auto: string; bind: number[]; events: Json[] };
  /** what the OpenTelemetry Collector run in the guest wrote out */
  collected: OtlpJsonRequest[];
  /** by backend: a daemon with handover killed in a flood and started again (test/vm/matrix-guest.sh's HANDOVER line) */
  handover: Map<string, string>;
  handoverCleanup: Map<string, string>;
}

/** A HANDOVER line's parts: the binds made, the restarted daemon's counters, the Collector's count. Pure. */
function parseHandover(line: string): { made: number; metrics: Map<string, number>; collected: { records: number; duplicates: number } } {
  const made = Number(/^made=(\d+)/.exec(line)?.[1]);
  const collected = JSON.parse(/ collected=(\{.*\})$/.exec(line)?.[1] ?? '{}') as { records: number; duplicates: number };
  const metrics = new Map<string, number>();
  for (const sample of line.replace(/^made=\d+ /, '').replace(/ collected=.*$/, '').split(';')) {
    const m = /^(\S+) (\S+)$/.exec(sample);
    if (m) metrics.set(m[1], Number(m[2]));
  }
  return { made, metrics, collected };
}

/** the package, installed as a user installs it, shared with every guest (read-only over 9p) */
let installed: InstalledRoot | undefined;
const PKG_UID = 62000 + (process.pid % 3000);

/**
 * Boots the matrix. An emulated guest kernel can stall (once, Debian's 5.10 under TCG reported a soft lockup on a
 * CPU and never finished; a normal boot takes about a minute): such a boot is ended after 5 minutes and tried once
 * more, and the stall is printed so that it shows in the log. A second stall fails the test.
 */
function bootMatrix(suite: string): Matrix {
  let r = boot(suite);
  if (!r.stdout.includes('MATRIX DONE')) {
    const stall = r.stdout.split('\n').filter((l) => /soft lockup|rcu.*stall|hung task/i.test(l)).slice(0, 5);
    console.warn(`kernels: the ${suite} guest did not finish (status ${r.status}); trying once more. Its console said:\n${stall.join('\n') || r.stdout.slice(-1500)}`);
    r = boot(suite);
  }
  return parseMatrix(r);
}

function boot(suite: string): SpawnSyncReturns<string> {
  const pkgArgs = installed ? [path.join(installed.state, 'upper'), installed.lower, String(PKG_UID)] : [];
  return spawnSync(path.join(ROOT, 'test', 'vm', 'boot.sh'), [suite, path.join(ROOT, 'test', 'vm', 'matrix-guest.sh'), ROOT, ...pkgArgs], {
    encoding: 'utf8',
    timeout: 520_000,
    maxBuffer: 64 << 20,
    // the guest also starts an OpenTelemetry Collector, under emulation
    env: { ...process.env, BINDSNOOP_VM_TIMEOUT: '420' },
  });
}

function parseMatrix(r: SpawnSyncReturns<string>): Matrix {
  const lines = r.stdout.replace(/\r/g, '').split('\n');
  const m: Matrix = {
    kernel: '', auto: '', backends: new Map(), helper: new Map(), events: new Map(), hangs: [], pkg: { version: '', auto: '', bind: [], events: [] }, collected: [],
    handover: new Map(), handoverCleanup: new Map(),
  };
  for (const line of lines) {
    const [tag, name, ...rest] = line.split(' ');
    if (tag === 'KERNEL') m.kernel = name;
    else if (tag === 'AUTO') m.auto = line.slice(5);
    else if (tag === 'BACKEND') m.backends.set(name, rest.join(' '));
    else if (tag === 'HELPER') m.helper.set(name, [...(m.helper.get(name) ?? []), rest.join(' ')]);
    else if (tag === 'EVENT') m.events.set(name, [...(m.events.get(name) ?? []), JSON.parse(rest.join(' ')) as Json]);
    else if (tag === 'HANG') m.hangs.push(line);
    else if (tag === 'PKGVERSION') m.pkg.version = line.slice(11);
    else if (tag === 'PKGAUTO') m.pkg.auto = line.slice(8);
    else if (tag === 'PKGBIND') m.pkg.bind = [Number(name), Number(rest[0])];
    else if (tag === 'PKGEVENT') m.pkg.events.push(JSON.parse(line.slice(9)) as Json);
    else if (tag === 'OTELCOL') m.collected.push(JSON.parse(line.slice(8)) as OtlpJsonRequest);
    else if (tag === 'HANDOVER') m.handover.set(name, rest.join(' '));
    else if (tag === 'HANDOVERCLEANUP') m.handoverCleanup.set(name, rest.join(' '));
  }
  if (!lines.includes('MATRIX DONE')) throw new Error(`the VM did not finish (status ${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
  return m;
}

/** What a user compares across backends: everything but times, ids and ephemeral port numbers. */
function comparable(e: Json): Json {
  const port = e['network.local.port'];
  return {
    transport: e['network.transport'],
    type: e['network.type'],
    // a failed bind claims no local address
    address: e['network.local.address'] ?? 'none',
    port: port === undefined ? 'none' : e['bindsnoop.requested.port'] === 0 && port !== 0 ? 'ephemeral' : port,
    rc: e['bindsnoop.return_code'],
    error: e['error.type'] ?? '',
    requested: `${e['bindsnoop.requested.address']}:${e['bindsnoop.requested.port']}`,
    opts: e['bindsnoop.opts'],
    comm: e['thread.name'],
    container: e['container.id'] ?? '',
    pod: e['k8s.pod.uid'] ?? '',
    kernelSocket: e['bindsnoop.kernel_socket'],
    // every bind of the matrix comes from a program the guest's bash script started
    parent: e['bindsnoop.parent.comm'],
    started: typeof e['process.creation.time'] === 'string',
    exe: e['process.executable.name'],
  };
}

const CONTAINER = 'a'.repeat(64);
const POD = '11111111-2222-4333-8444-555555555555';
const fromHelper = (o: Partial<Json>): Json => ({
  transport: 'tcp', type: 'ipv4', address: '127.0.0.1', port: 'ephemeral', rc: 0, error: '', requested: '127.0.0.1:0',
  opts: '.....', comm: 'bind_helper', container: CONTAINER, pod: POD, kernelSocket: false, parent: 'bash', started: true, exe: 'bind_helper', ...o,
});
/** test/vm/matrix-guest.sh's bind_helper SPECs, as every backend must report them */
const HELPER_BINDS: Json[] = [
  fromHelper({ opts: 'F....' }),
  fromHelper({ opts: '.T...' }),
  fromHelper({ opts: '..N..', port: 0 }), // IP_BIND_ADDRESS_NO_PORT with port 0 binds no port yet
  fromHelper({ opts: '...R.' }),
  fromHelper({ opts: '....r' }),
  fromHelper({ transport: 'udp', type: 'ipv6', address: '::1', requested: '::1:0' }),
  fromHelper({ type: 'ipv6', address: '::1', port: 7001, requested: '::1:7001' }),
  fromHelper({ transport: 'udp', port: 7002, requested: '127.0.0.1:7002' }),
  fromHelper({ port: 7003, requested: '127.0.0.1:7003', opts: 'FTNRr' }),
  fromHelper({ address: 'none', port: 'none', rc: -98, error: 'EADDRINUSE', requested: '127.0.0.1:7003' }),
];
/** MPTCP binds its first subflow, a kernel socket: through inet_bind before 6.6, straight to inet_bind_sk after */
const MPTCP_BINDS: Json[] = [
  fromHelper({ transport: 'mptcp' }),
  fromHelper({ transport: 'mptcp', type: 'ipv6', address: '::1', requested: '::1:0' }),
];

/** Since 6.6 every inet bind, MPTCP's included, passes inet_bind_sk(): the hooks move there. Debian's 5.10 has no MPTCP. */
const KERNELS = [
  { suite: 'bullseye', release: /^5\.10\./, uring: false, mptcp: false, hooks: 'inet_bind and inet6_bind', perfLinks: false },
  { suite: 'bookworm', release: /^6\.1\./, uring: false, mptcp: true, hooks: 'inet_bind and inet6_bind', perfLinks: true },
  { suite: 'trixie', release: /^6\.12\./, uring: true, mptcp: true, hooks: 'inet_bind_sk and inet6_bind_sk', perfLinks: true },
];

describePrivileged('the shipped CLI on other kernels', () => {
  const work = mkdtempSync('/var/tmp/bindsnoop-kernels-');
  beforeAll(() => {
    // the OpenTelemetry Collector the guests run (a static Go binary, read over 9p like the rest of this root)
    mkdirSync(path.join(ROOT, 'build'), { recursive: true });
    writeFileSync(path.join(ROOT, 'build', 'vm-otelcol'), collectorBinary());
    const root = prepareRoot('bullseye', 'amd64', path.join(work, 'root'), pack(path.join(work, 'pack')));
    must(installPackage(root), 'npm install -g');
    installed = root;
  }, 1_500_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const k of KERNELS) {
    describe(`Debian ${k.suite}`, () => {
      it('picks fentry, and every backend reports the same binds; fentry and kprobe also see io_uring and kernel binds', () => {
        const m = bootMatrix(k.suite);
        expect(m.kernel).toMatch(k.release);
        // every bindsnoop exited on SIGINT (the guest reports one that did not, with its threads' kernel stacks)
        expect(m.hangs).toEqual([]);
        // x86_64 has had BPF trampolines since 5.5: auto takes fentry, and says so
        expect(m.auto).toBe(`bindsnoop: tracing with the fentry backend (fexit on ${k.hooks})`);
        for (const b of ['fentry', 'kprobe', 'tracepoint', 'hide']) expect(m.backends.get(b), b).toBe('ok');

        for (const b of ['fentry', 'kprobe', 'tracepoint', 'hide']) {
          const events = m.events.get(b) ?? [];
          const helper = m.helper.get(b) ?? [];
          const pidOf = (prefix: string) => Number(helper.find((l) => l.startsWith(`${prefix}pid `))?.split(' ').at(-1));
          expect(events.filter((e) => e['process.pid'] === pidOf('')).map(comparable), b).toEqual(HELPER_BINDS);

          // the executable, read in the kernel at the bind, as each process's own /proc/self/exe names it
          const plain = exeCase(helper, '', events);
          expect(plain.exe).toBe(path.join(ROOT, 'test', 'helpers', 'bind_helper'));
          expect(new Set(plain.records.map((r) => JSON.stringify(r))), b).toEqual(new Set([JSON.stringify({ path: plain.exe, name: 'bind_helper', flags: [] })]));
          expectExeCases(helper, events, b);
          if (k.mptcp) expect(events.filter((e) => e['process.pid'] === pidOf('mptcp ')).map(comparable), `${b}: mptcp`).toEqual(MPTCP_BINDS);
          expect(new Set(events.map((e) => e['bindsnoop.backend'])), b).toEqual(new Set([b === 'hide' ? 'fentry' : b]));

          const uring = events.filter((e) => e['thread.name'] === 'uring_bind');
          const seesAroundSyscall = b !== 'tracepoint';
          if (k.uring) {
            expect(m.helper.get(b)).toContain('uring ok 7100');
            expect(uring.map(comparable), `${b}: io_uring`).toEqual(
              seesAroundSyscall ? [{ ...fromHelper({ port: 7100, requested: '127.0.0.1:7100' }), comm: 'uring_bind', container: '', pod: '', exe: 'uring_bind' }] : [],
            );
          }
          // `ip link set vx0 up` makes the kernel bind the VXLAN UDP port on a socket of its own
          const vxlan = events.filter((e) => e['network.local.port'] === 4789);
          const wantsKernel = b === 'fentry' || b === 'kprobe';
          expect(vxlan.map(comparable), `${b}: vxlan`).toEqual(
            wantsKernel
              ? [{ transport: 'udp', type: 'ipv4', address: '0.0.0.0', port: 4789, rc: 0, error: '', requested: '0.0.0.0:4789', opts: '.....', comm: 'ip', container: '', pod: '', kernelSocket: true, parent: 'bash', started: true, exe: 'ip' }]
              : [],
          );
        }

        // through the real OpenTelemetry Collector, run in the guest: what only fentry sees (io_uring's binds, the
        // kernel's own VXLAN socket), a plain bind and SCTP's (this host's kernel has no SCTP), each written out as
        // -o json printed it
        expect(m.backends.get('otelcol')).toBeUndefined();
        const printed = (m.events.get('otelcol') ?? []).filter((e) => e['thread.name'] === 'uring_bind' || e['network.local.port'] === 4790 || e['thread.name'] === 'bind_helper');
        expect(printed.map((e) => `${String(e['thread.name'])} ${String(e['network.transport'])} ${String(e['network.type'])}`)).toEqual([
          ...(k.uring ? ['uring_bind tcp ipv4'] : []),
          'ip udp ipv4',
          'bind_helper tcp ipv4',
          'bind_helper sctp ipv4',
          'bind_helper sctp ipv6',
        ]);
        const collected = collectedRecords(m.collected).map(asPrinted);
        for (const e of printed) expect(collected.filter((c) => c['process.pid'] === e['process.pid'] && c.time === e.time), String(e['thread.name'])).toEqual([e]);

        // handover: a daemon killed with SIGKILL in the middle of a flood and started again, under each backend: the
        // binds of the gap read from the pinned ring, each bind exported once or counted under a named reason
        for (const b of ['fentry', 'kprobe', 'tracepoint']) {
          const line = m.handover.get(b) ?? '';
          if (b !== 'fentry' && !k.perfLinks) {
            // kprobes and tracepoints attach through perf events, whose links can be pinned since 5.15
            expect(line, b).toMatch(/^unavailable: .*cannot pin the link of .*Linux 5\.15 and later can/);
            continue;
          }
          const { made, metrics, collected } = parseHandover(line);
          expect(made, `${b}: ${line}`).toBeGreaterThan(1000);
          const sample = (name: string): number => metrics.get(name) ?? 0;
          const lost = [...metrics].filter(([name]) => name.startsWith('bindsnoop_events_lost_total{')).reduce((sum, [, n]) => sum + n, 0);
          const unknown = sample('bindsnoop_handover_lost_total{reason="agent_ended",delivery="unknown"}');
          expect(sample('bindsnoop_handover_recovered_total'), `${b}: ${line}`).toBeGreaterThan(0);
          expect(collected.duplicates, `${b}: ${line}`).toBe(0);
          expect(collected.records, `${b}: ${line}`).toBeLessThanOrEqual(made - (lost - unknown));
          expect(collected.records, `${b}: ${line}`).toBeGreaterThanOrEqual(made - lost);
          expect(m.handoverCleanup.get(b), b).toMatch(/^bindsnoop cleanup: removed the pinned set under \/sys\/fs\/bpf\/handover: \d+ links \(their programs detached\) and 4 maps/);
        }

        // the npm package, installed on a clean Debian 11, with its prebuilt addon (libbpf inside) and its Node
        expect(m.pkg.version).toMatch(new RegExp(`^bindsnoop ${PACKAGE.version.replace(/\./g, '\\.')} \\(commit [0-9a-f]{40}(-dirty)?\\)$`));
        expect(m.pkg.auto).toBe(`bindsnoop: tracing with the fentry backend (fexit on ${k.hooks})`);
        const [pid, port] = m.pkg.bind;
        expect(m.pkg.events.filter((e) => e['process.pid'] === pid)).toEqual([
          expect.objectContaining({
            'service.version': PACKAGE.version,
            'bindsnoop.backend': 'fentry',
            'thread.name': 'MainThread',
            'process.real_user.id': PKG_UID,
            'network.transport': 'tcp',
            'network.local.address': '127.0.0.1',
            'network.local.port': port,
            'bindsnoop.return_code': 0,
            'bindsnoop.opts': '...R.',
          }),
        ]);
      }, 900_000);
    });
  }
});
