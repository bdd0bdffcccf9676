// The benchmark suite (npm run bench): every figure measured side by side in one
// run on this machine, recorded with the machine, kernel, backend, commit and
// date in docs/BENCHMARKS.md and bench/results.json.
//
//   node bench/run.mjs            the default run (a few minutes)
//   node bench/run.mjs --long     throughput steps of 30 s
//   node bench/run.mjs --smoke    a few thousand binds per figure (CI: it runs, it records numbers)
//   --out DIR                     where results.json and BENCHMARKS.md go (default: bench/ and docs/)
//   --no-vm                       without the kernel-side cost in a VM (Debian's 6.12 under qemu, where fentry and
//                                 kprobe attach; booted by test/vm/boot.sh, which runs this with --kernel-only inside)
//   --kernel-only                 only the kernel-side cost, printed as one KERNELCOST line (the VM's run)
//
// Groups: kernel-side cost of a compiled socket+bind+close loop (untraced, bindsnoop -q, every bind filtered in
// the kernel, the full agent exporting OTLP, and bpftrace's one-liner as the peer), per backend available here;
// throughput (the highest paced rate exported whole, and the loss curve above it); agent cost (CPU per 100,000
// binds end to end, idle millicores in daemon mode with Kubernetes on, resident memory steady and peak); latency
// (bind to record at the receiver, p50 and p99, default batching). Run as root after a build.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { createServer } from 'node:http';
import { idleCost } from './idle-containers.mjs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const helper = path.join(root, 'test/helpers/bind_helper');
const cli = path.join(root, 'dist/cli/main.js');
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const long = args.includes('--long');
const kernelOnly = args.includes('--kernel-only');
const withVm = !smoke && !kernelOnly && !args.includes('--no-vm');
const outIndex = args.indexOf('--out');
const outDir = outIndex >= 0 ? args[outIndex + 1] : undefined;

const USAGE = `usage: npm run bench -- [--long | --smoke] [--no-vm] [--out DIR]   (or ./dev bench, which builds first)
  --long     throughput steps of 30 s (10 s by default)
  --smoke    a few thousand binds per figure: it runs and records numbers (CI)
  --no-vm    without the kernel-side cost in a VM (Debian's 6.12 kernel under qemu: fentry and kprobe)
  --out DIR  where results.json and BENCHMARKS.md go (default: bench/ and docs/)`;
if (args.includes('-h') || args.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = args.filter((a, i) => !['--long', '--smoke', '--out', '--no-vm', '--kernel-only'].includes(a) && !(i > 0 && args[i - 1] === '--out'));
if (unknown.length > 0 || (outIndex >= 0 && !outDir)) {
  console.error(`bench: ${unknown.length ? `unknown argument ${unknown[0]}` : '--out needs a directory'}\n${USAGE}`);
  process.exit(2);
}
// what the benchmark runs: the built CLI and the compiled bind loop (./dev bench builds both)
for (const [file, what] of [[cli, 'the built CLI (npm run build)'], [helper, 'the bind loop (make -C test/helpers)']]) {
  if (!existsSync(file)) {
    console.error(`bench: ${file} is missing: build ${what} first, or run ./dev bench, which builds everything`);
    process.exit(2);
  }
}
if (process.getuid?.() !== 0) {
  console.error('bench: run as root (it loads BPF programs)');
  process.exit(2);
}

const P = smoke
  ? { loopBinds: 2000, rounds: 1, rates: [2000], oneCoreRates: [2000], stepSeconds: 1, idleSeconds: 2, idleContainers: [200], collectorRates: [2000], latencyRate: 1000, latencySeconds: 1, scalePods: 200, nodePods: 20 }
  : kernelOnly
    ? { loopBinds: 20000, rounds: 5 } // under qemu's TCG a bind costs tens of times what it costs on the host
    : { loopBinds: 50000, rounds: 5, rates: [10000, 20000, 30000, 40000, 50000, 60000], oneCoreRates: [20000, 30000, 40000, 50000], stepSeconds: long ? 30 : 10, idleSeconds: long ? 60 : 20, idleContainers: [200, 1000], collectorRates: [10000, 20000, 30000, 40000], latencyRate: 2000, latencySeconds: 10, scalePods: 10000, nodePods: 110 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

/** An OTLP/HTTP receiver on 127.0.0.1: accepts everything; in JSON mode notes each record's delay. */
async function receiver() {
  const delaysMs = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const arrivedNs = BigInt(Date.now()) * 1_000_000n;
      if (String(req.headers['content-type']).startsWith('application/json')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rl of body.resourceLogs ?? [])
          for (const sl of rl.scopeLogs ?? []) for (const lr of sl.logRecords ?? []) delaysMs.push(Number(arrivedNs - BigInt(lr.timeUnixNano)) / 1e6);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, delaysMs, close: () => server.close() };
}

/** Process CPU time (user+system) in ms and resident memory in MiB, from /proc. */
function usage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / 100, rssMiB: rssKb / 1024 };
}


/** bindsnoop with these flags, once attached; stop() returns its end report and the resource figures sampled meanwhile. */
/** `command` run on one CPU only (sched affinity), when `cpu` is given. */
const onCpu = (cpu, command) => (cpu === undefined ? command : ['taskset', '-c', String(cpu), ...command]);

async function agent(flags, env = {}, cpu = undefined) {
  const [command, ...rest] = onCpu(cpu, [process.execPath, cli, ...flags]);
  const proc = spawn(command, rest, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const started = Date.now();
  while (!/Tracing binds|"msg":"serving/.test(err)) {
    if (proc.exitCode !== null || Date.now() - started > 20000) throw new Error(`bindsnoop did not attach: ${err}`);
    await sleep(10);
  }
  let peakRssMiB = 0;
  const sampler = setInterval(() => {
    try {
      peakRssMiB = Math.max(peakRssMiB, usage(proc.pid).rssMiB);
    } catch {}
  }, 100);
  return {
    pid: proc.pid,
    backend: /tracing with the (\w+) backend/.exec(err)?.[1] ?? /"backend":"(\w+)"/.exec(err)?.[1],
    usage: () => usage(proc.pid),
    async stop() {
      clearInterval(sampler);
      proc.kill('SIGINT');
      await new Promise((r) => proc.on('exit', r));
      const exported = /exported (\d+) of (\d+) binds/.exec(err);
      return { exported: exported ? Number(exported[1]) : undefined, seen: exported ? Number(exported[2]) : undefined, lost: /lost binds: (.*)/.exec(err)?.[1] ?? '', peakRssMiB, stderr: err };
    },
  };
}

/**
 * The compiled loop: socket()+bind(127.0.0.1:0)+close(), `binds` times (paced when `rate`), in its own netns.
 * Asynchronous, so that the agent's memory is sampled meanwhile. Resolves to its wall time in ms.
 */
async function loop(binds, rate, spec = 'tcp,4,127.0.0.1,0', cpu = undefined) {
  const t0 = process.hrtime.bigint();
  const [command, ...rest] = onCpu(cpu, [helper, '--netns', '--repeat', String(binds), ...(rate ? ['--rate', String(rate)] : []), spec]);
  const proc = spawn(command, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => proc.on('exit', r));
  if (code !== 0) throw new Error(`bind_helper: ${err}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** bpftrace's one-liner on the same tracepoints, printing each bind, as the peer. */
async function bpftracePeer() {
  if (spawnSync('bpftrace', ['--version']).status !== 0) return undefined;
  const prog = 'tracepoint:syscalls:sys_enter_bind { @fd[tid] = args->fd; } tracepoint:syscalls:sys_exit_bind /@fd[tid]/ { printf("%d %s %d\\n", pid, comm, args->ret); delete(@fd[tid]); }';
  // its output is read as a terminal would read it ("Attaching N probes..." comes first, on stdout)
  const proc = spawn('bpftrace', ['-e', prog], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let attached = false;
  proc.stdout.on('data', (d) => (attached ||= d.toString().includes('Attaching')));
  proc.stderr.on('data', (d) => (err += d));
  const started = Date.now();
  while (!attached) {
    if (proc.exitCode !== null || Date.now() - started > 20000) throw new Error(`bpftrace did not attach: ${err}`);
    await sleep(10);
  }
  await sleep(300);
  return { stop: async () => (proc.kill('SIGINT'), await new Promise((r) => proc.on('exit', r))) };
}

// ---- what this machine is ----
const meta = {
  date: new Date().toISOString(),
  commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim() || 'unknown',
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
  kernel: os.release(),
  node: process.version,
  mode: smoke ? 'smoke' : long ? 'long' : 'default',
};

// the backends this kernel offers: each tried once
const backends = [];
for (const b of ['fentry', 'kprobe', 'tracepoint']) {
  try {
    const a = await agent(['-q', '--backend', b]);
    await a.stop();
    backends.push(b);
  } catch {}
}
meta.backends = backends;
const sink = await receiver();
const exportEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };

// ---- group 1: kernel-side cost ----
const kernelCost = [];
// one loop first, not counted: the first runs of a process (and, in a VM, of its translated code) are slower
await loop(P.loopBinds);
for (const backend of backends) {
  // the loop binds port 0 (the kernel picks one), except where a mode names the port it binds
  const NAMED = 'tcp,4,127.0.0.1,40000';
  const modes = [
    ['untraced', null],
    ['bindsnoop -q', ['-q']],
    ['every bind filtered in the kernel (-P 1)', ['-q', '-P', '1']],
    ['full agent exporting OTLP', ['-q'], exportEnv],
    ['bpftrace one-liner (peer)', 'bpftrace'],
    ['untraced, binding port 40000', null, undefined, NAMED],
    ['every bind of port 40000 filtered before the bind (-P 1)', ['-q', '-P', '1'], undefined, NAMED],
  ].filter(([name]) => !kernelOnly || !/OTLP|40000/.test(name)); // in a VM: the kernel's part only
  const times = new Map(modes.map(([name]) => [name, []]));
  for (let r = 0; r < P.rounds; r++) {
    for (const [name, flags, env, spec] of modes) {
      if (flags === null) times.get(name).push(await loop(P.loopBinds, undefined, spec));
      else if (flags === 'bpftrace') {
        const peer = await bpftracePeer();
        if (!peer) continue;
        times.get(name).push(await loop(P.loopBinds));
        await peer.stop();
      } else {
        const a = await agent([...flags, '--backend', backend], env);
        times.get(name).push(await loop(P.loopBinds, undefined, spec));
        await a.stop();
      }
    }
  }
  // each mode against the untraced loop binding the same way
  const baseOf = (spec) => median(times.get(modes.find(([, flags, , s]) => flags === null && s === spec)[0]));
  for (const [name, , , spec] of modes) {
    const xs = times.get(name);
    if (!xs.length) continue;
    const ms = median(xs);
    kernelCost.push({ backend, mode: name, usPerBind: (ms * 1000) / P.loopBinds, ratio: ms / baseOf(spec) });
  }
}

if (kernelOnly) {
  console.log(`KERNELCOST ${JSON.stringify({ kernel: os.release(), backends, loopBinds: P.loopBinds, rounds: P.rounds, kernelCost })}`);
  sink.close();
  process.exit(0);
}

// ---- the kernel-side cost in a VM: Debian's 6.12 under qemu (TCG), where fentry and kprobe attach ----
let vmKernelCost;
if (withVm) {
  const boot = spawnSync(path.join(root, 'test/vm/boot.sh'), ['trixie', path.join(root, 'bench/vm-guest.sh'), root], { cwd: root, encoding: 'utf8', timeout: 3_600_000, env: { ...process.env, BINDSNOOP_VM_TIMEOUT: '3000' } });
  const line = /^KERNELCOST (.*)$/m.exec(boot.stdout ?? '');
  vmKernelCost = line ? JSON.parse(line[1]) : { error: `the VM gave no figures (exit ${boot.status}): ${(boot.stdout ?? '').split('\n').slice(-5).join(' ')} ${boot.stderr ?? ''}`.slice(0, 600) };
}

// ---- group 2: throughput, and group 3's CPU and memory under load ----
const backend = backends[0];
const throughput = [];
for (const rate of P.rates) {
  const binds = rate * P.stepSeconds;
  const a = await agent(['-q', '--backend', backend], exportEnv);
  const before = a.usage();
  await loop(binds, rate);
  // the last batch is flushed within the flush interval (1 s): its CPU counts too
  await sleep(1500);
  const steady = a.usage();
  const report = await a.stop();
  const lost = report.seen - report.exported;
  throughput.push({
    rate,
    seconds: P.stepSeconds,
    seen: report.seen,
    exported: report.exported,
    lost,
    lostPercent: (100 * lost) / report.seen,
    losses: report.lost,
    cpuMsPer100k: ((steady.cpuMs - before.cpuMs) / report.seen) * 100000,
    steadyRssMiB: steady.rssMiB,
    peakRssMiB: report.peakRssMiB,
  });
}
const whole = throughput.filter((t) => t.lost === 0).map((t) => t.rate);

// the agent held to one core (sched affinity to CPU 1) while the load runs beside it on CPU 0
const oneCore = [];
if (os.cpus().length >= 2) {
  for (const rate of P.oneCoreRates) {
    const a = await agent(['-q', '--backend', backend], exportEnv, 1);
    await loop(rate * P.stepSeconds, rate, undefined, 0);
    await sleep(1500);
    const report = await a.stop();
    oneCore.push({ rate, seen: report.seen, exported: report.exported, lost: report.seen - report.exported, losses: report.lost });
  }
}
const oneCoreWhole = oneCore.filter((t) => t.lost === 0).map((t) => t.rate);

// the same load through the SDK pipeline (otlp.pipeline: sdk), side by side at the first rate
const sdkRate = P.rates[0];
const sdkAgent = await agent(['-q', '--backend', backend], { ...exportEnv, BINDSNOOP_OTLP_PIPELINE: 'sdk' });
const sdkBefore = sdkAgent.usage();
await loop(sdkRate * P.stepSeconds, sdkRate);
await sleep(1500);
const sdkSteady = sdkAgent.usage();
const sdkReport = await sdkAgent.stop();
const sdkPipeline = {
  rate: sdkRate,
  seen: sdkReport.seen,
  exported: sdkReport.exported,
  cpuMsPer100k: ((sdkSteady.cpuMs - sdkBefore.cpuMs) / sdkReport.seen) * 100000,
  steadyRssMiB: sdkSteady.rssMiB,
  peakRssMiB: sdkReport.peakRssMiB,
};

// ---- the real OpenTelemetry Collector (built from its modules: test/peers), side by side with the local sink ----
// each rate twice, alternating: the agent exporting to the sink, then to the Collector (otlp receiver, batch, the
// file exporter writing to /dev/null); the agent's CPU a bind and its losses, and the Collector's CPU a bind
async function collectorPeer() {
  const build = spawnSync(path.join(root, 'test', 'peers', 'build.sh'), ['collector'], { encoding: 'utf8', timeout: 1_800_000 });
  if (build.status !== 0) return { error: `the Collector did not build: ${build.stderr.slice(-500)}` };
  const binary = build.stdout.trim();
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bindsnoop-bench-otelcol-'));
  const port = await new Promise((resolve) => {
    const s = createTcpServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  writeFileSync(
    path.join(dir, 'config.yaml'),
    [
      `receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:${port}"}}}}`,
      'processors: {batch: {}}',
      'exporters: {file: {path: /dev/null, format: json}}',
      'service: {telemetry: {metrics: {level: none}}, pipelines: {logs: {receivers: [otlp], processors: [batch], exporters: [file]}}}',
      '',
    ].join('\n'),
  );
  const collector = spawn(binary, [`--config=${path.join(dir, 'config.yaml')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  collector.stderr.on('data', (d) => (err += d));
  const started = Date.now();
  while (!err.includes('Everything is ready')) {
    if (collector.exitCode !== null || Date.now() - started > 30000) return { error: `the Collector did not start: ${err.slice(-500)}` };
    await sleep(50);
  }
  const rows = [];
  try {
    for (const rate of P.collectorRates) {
      for (const [peer, url] of [['local sink', sink.url], ['Collector', `http://127.0.0.1:${port}`]]) {
        const a = await agent(['-q', '--backend', backend], { OTEL_EXPORTER_OTLP_ENDPOINT: url });
        const before = a.usage();
        const peerBefore = usage(collector.pid);
        await loop(rate * P.stepSeconds, rate);
        await sleep(1500);
        const steady = a.usage();
        const peerAfter = usage(collector.pid);
        const report = await a.stop();
        rows.push({
          rate,
          peer,
          seen: report.seen,
          exported: report.exported,
          lost: report.seen - report.exported,
          losses: report.lost,
          cpuUsPerBind: ((steady.cpuMs - before.cpuMs) / report.seen) * 1000,
          ...(peer === 'Collector' ? { collectorCpuUsPerBind: ((peerAfter.cpuMs - peerBefore.cpuMs) / report.seen) * 1000 } : {}),
        });
      }
    }
  } finally {
    collector.kill('SIGTERM');
    await new Promise((r) => collector.on('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  return { version, rows };
}
const throughCollector = await collectorPeer();

// ---- group 3: idle cost, daemon mode with Kubernetes on, exporting: an empty node, and as its containers grow ----
const idle = await idleCost(root, 0, P.idleSeconds, exportEnv);
const idleWithContainers = [];
for (const n of P.idleContainers) idleWithContainers.push(await idleCost(root, n, P.idleSeconds, exportEnv));

// ---- group 4: latency, bind to record at the receiver, default batching (OTLP/JSON, to read the times) ----
const lat = await agent(['-q', '--backend', backend], { ...exportEnv, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
sink.delaysMs.length = 0;
await loop(P.latencyRate * P.latencySeconds, P.latencyRate);
await sleep(1500);
await lat.stop();
const latency = { rate: P.latencyRate, records: sink.delaysMs.length, p50Ms: percentile(sink.delaysMs, 50), p99Ms: percentile(sink.delaysMs, 99) };
sink.close();

// ---- scale: pods listed and watched from a local API server (test/integration/scale.test.ts, which asserts too) ----
function scaleRun(pods) {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'bindsnoop-scale-')), 'scale.json');
  const run = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/integration/scale.test.ts'], {
    cwd: root,
    env: { ...process.env, BENCH_SCALE_PODS: String(pods), BENCH_SCALE_OUT: out },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (run.status !== 0) throw new Error(`the scale run failed:\n${run.stdout}\n${run.stderr}`);
  const figures = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(path.dirname(out), { recursive: true, force: true });
  return figures;
}
const scale = scaleRun(P.scalePods);
// a node's worth (110 pods: the kubelet's default maxPods): the daemon's idle memory with the API watch
const scaleNode = scaleRun(P.nodePods);

// ---- record ----
const results = { meta, params: P, kernelCost, vmKernelCost, throughput, highestWholeRate: whole.length ? Math.max(...whole) : 0, oneCore, oneCoreHighestWholeRate: oneCoreWhole.length ? Math.max(...oneCoreWhole) : 0, sdkPipeline, throughCollector, idle, idleWithContainers, latency, scale, scaleNode };
const jsonOut = outDir ? path.join(outDir, 'results.json') : path.join(root, 'bench', smoke ? 'results-smoke.json' : 'results.json');
const mdOut = outDir ? path.join(outDir, 'BENCHMARKS.md') : smoke ? undefined : path.join(root, 'docs', 'BENCHMARKS.md');
if (outDir) mkdirSync(outDir, { recursive: true });
writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');

const f = (x, d = 2) => (x === undefined ? '-' : Number(x).toFixed(d));
const lines = [];
lines.push('# Benchmarks', '');
lines.push(`Measured by \`npm run bench\` (bench/run.mjs; \`--long\` for 30 s throughput steps), all in one run, on ${meta.machine},`);
lines.push(`Linux ${meta.kernel}, Node.js ${meta.node}, backends here: ${backends.join(', ')}; commit ${meta.commit}, ${meta.date}. Raw figures: ${outDir ? path.join(outDir, 'results.json') : 'bench/results.json'}.`);
lines.push('', '## Kernel-side cost', '', `A compiled loop of socket()+bind(127.0.0.1:0)+close(), ${P.loopBinds} iterations, median of ${P.rounds} alternating rounds; the last two rows bind port 40000 instead (a port the request names, so a port filter can decide before the bind), each against its own untraced loop.`, '');
lines.push('| backend | mode | µs per iteration | vs. untraced |', '|---|---|---|---|');
for (const k of kernelCost) lines.push(`| ${k.backend} | ${k.mode} | ${f(k.usPerBind)} | ${f(k.ratio)}x |`);
if (vmKernelCost?.kernelCost) {
  lines.push('', `In a VM: Debian's Linux ${vmKernelCost.kernel} under qemu (TCG, no KVM: every instruction emulated, so only the ratios mean anything), the same loop ${vmKernelCost.loopBinds} times, median of ${vmKernelCost.rounds} alternating rounds, within one boot (bench/vm-guest.sh).`, '');
  lines.push('| backend | mode | µs per iteration | vs. untraced |', '|---|---|---|---|');
  for (const k of vmKernelCost.kernelCost) lines.push(`| ${k.backend} | ${k.mode} | ${f(k.usPerBind)} | ${f(k.ratio)}x |`);
} else if (vmKernelCost) {
  lines.push('', `In a VM: not measured (${vmKernelCost.error}).`);
}
lines.push('', '## Throughput, agent cost and memory', '', `Paced binds for ${P.stepSeconds} s per step, exported over OTLP/HTTP (protobuf) to a local receiver at default settings (${backend} backend).`, '');
lines.push('| binds/s | seen | exported | lost | agent CPU per 100,000 binds | RSS steady | RSS peak |', '|---|---|---|---|---|---|---|');
for (const t of throughput) lines.push(`| ${t.rate} | ${t.seen} | ${t.exported} | ${t.lost} (${f(t.lostPercent, 1)}%${t.losses ? `: ${t.losses}` : ''}) | ${f(t.cpuMsPer100k, 0)} ms (${f(t.cpuMsPer100k / 100000 * 1000, 1)} µs/bind) | ${f(t.steadyRssMiB, 0)} MiB | ${f(t.peakRssMiB, 0)} MiB |`);
lines.push('', `Highest rate exported whole: ${results.highestWholeRate} binds/s.`, '');
if (oneCore.length) {
  lines.push(`The agent held to one core (sched affinity), the load on the other, ${P.stepSeconds} s per step: ${oneCore.map((t) => `${t.rate}/s ${t.lost === 0 ? 'whole' : `${f((100 * t.lost) / t.seen, 1)}% lost (${t.losses})`}`).join('; ')}. Highest rate exported whole on one core: ${results.oneCoreHighestWholeRate} binds/s.`, '');
}
lines.push(`The same ${sdkPipeline.rate} binds/s through the SDK pipeline (\`otlp.pipeline: sdk\`): ${sdkPipeline.exported} of ${sdkPipeline.seen} exported, ${f(sdkPipeline.cpuMsPer100k, 0)} ms of agent CPU per 100,000 binds (${f(sdkPipeline.cpuMsPer100k / 100000 * 1000, 1)} µs/bind), ${f(sdkPipeline.steadyRssMiB, 0)} MiB steady, ${f(sdkPipeline.peakRssMiB, 0)} MiB peak.`, '');
if (throughCollector.rows) {
  lines.push(`Through the real OpenTelemetry Collector (${throughCollector.version}, built from its modules by test/peers/build.sh: otlp receiver, batch, the file exporter to /dev/null), side by side with the local sink, ${P.stepSeconds} s a step:`, '');
  lines.push('| binds/s | peer | seen | exported | lost | agent CPU a bind | the Collector\'s CPU a bind |', '|---|---|---|---|---|---|---|');
  for (const r of throughCollector.rows) lines.push(`| ${r.rate} | ${r.peer} | ${r.seen} | ${r.exported} | ${r.lost}${r.losses ? ` (${r.losses})` : ''} | ${f(r.cpuUsPerBind, 1)} µs | ${r.collectorCpuUsPerBind === undefined ? '-' : `${f(r.collectorCpuUsPerBind, 1)} µs`} |`);
  const wholeVia = (peer) => Math.max(0, ...throughCollector.rows.filter((r) => r.peer === peer && r.lost === 0).map((r) => r.rate));
  lines.push('', `Highest rate exported whole: ${wholeVia('Collector')} binds/s to the Collector, ${wholeVia('local sink')} to the local sink.`, '');
} else {
  lines.push(`Through the real OpenTelemetry Collector: not measured (${throughCollector.error}).`, '');
}
lines.push(`Idle (daemon mode, Kubernetes on, no binds, ${P.idleSeconds} s): ${f(idle.millicores, 1)} millicores, ${f(idle.rssMiB, 0)} MiB resident; ${idleWithContainers.map((r) => `with ${r.containers} container cgroups on the node ${f(r.millicores, 1)} millicores, ${f(r.rssMiB, 0)} MiB`).join('; ')} (bench/idle-containers.mjs).`, '');
lines.push('## Latency', '', `Bind to record at the receiver at default batching (flush every 1 s), ${latency.rate} binds/s, ${latency.records} records (OTLP/JSON, to read the record times): p50 ${f(latency.p50Ms, 0)} ms, p99 ${f(latency.p99Ms, 0)} ms.`, '');
lines.push('## Scale', '', `${scale.pods} pods of ${scale.containers / scale.pods} containers (${scale.containers} containers) listed and watched from a local API server by the daemon with -K (test/integration/scale.test.ts): every pod known ${f(scale.startupMillis / 1000, 1)} s after start; ${f(scale.idleRssMiB, 0)} MiB resident idle (heap ${f(scale.heapUsedMiB, 0)} MiB); ${scale.binds} binds from pods among them, each resolved and exported, at ${f(scale.cpuPerBindMicros, 1)} µs of agent CPU a bind; ${f(scale.peakRssMiB, 0)} MiB resident after.`, '');
lines.push(`A node's worth, ${scaleNode.pods} pods${scaleNode.pods === 110 ? " (the kubelet's default maxPods)" : ' (a smoke run)'}, the same way: every pod known ${f(scaleNode.startupMillis / 1000, 1)} s after start; ${f(scaleNode.idleRssMiB, 0)} MiB resident idle with the API watch (heap ${f(scaleNode.heapUsedMiB, 0)} MiB).`, '');
if (mdOut) {
  const notes = existsSync(mdOut) ? readFileSync(mdOut, 'utf8').split('<!-- notes -->')[1] : undefined;
  writeFileSync(mdOut, lines.join('\n') + '\n<!-- notes -->' + (notes ?? '\n'));
}
console.log(lines.join('\n'));
