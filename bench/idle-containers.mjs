// What an idle DaemonSet agent costs as its node's containers grow: the daemon with -K and no binds, its cgroup
// root holding N kubelet-shaped container cgroups (made here, on the real cgroup v2 tree), CPU from the threads'
// own nanosecond counters over a span, resident memory at its end. One build, or several side by side:
//
//   node bench/idle-containers.mjs [--seconds=20] [--containers=0,200,1000] [BUILD_DIR ...]
//
// Each BUILD_DIR is a built checkout (dist/, native/build, bpf/); none: this one. Run as root.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU time of the process's threads in ms, to the nanosecond (/proc/PID/task/TID/schedstat). */
function threadsCpuMs(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {} // a thread that ended meanwhile
  }
  return ns / 1e6;
}

function cgroup2Mount() {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre.split(' ')[4];
  }
  throw new Error('no cgroup2 mount');
}

function removeTree(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const child = path.join(dir, e);
    if (statSync(child).isDirectory()) removeTree(child);
  }
  rmdirSync(dir);
}

/** N container cgroups as the kubelet's systemd driver makes them, two containers a pod. */
function makeContainers(root, n) {
  for (let i = 0; i < n; i++) {
    const pod = `00000000-0000-4000-8000-${String(Math.floor(i / 2)).padStart(12, '0')}`.replace(/-/g, '_');
    mkdirSync(path.join(root, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${pod}.slice`, `cri-containerd-${i.toString(16).padStart(64, 'c')}.scope`), { recursive: true });
  }
}

/** The idle daemon of the build at `dir` with `containers` container cgroups (and `env`): millicores and resident MiB. */
export async function idleCost(dir, containers, seconds, env = {}) {
  const root = path.join(cgroup2Mount(), `bindsnoop-bench-idle-${process.pid}`);
  const logs = mkdtempSync(path.join(os.tmpdir(), 'bindsnoop-idle-'));
  const pinDir = `/sys/fs/bpf/bindsnoop-bench-idle-${process.pid}`;
  mkdirSync(root, { recursive: true });
  makeContainers(root, containers);
  const proc = spawn(process.execPath, [path.join(dir, 'dist', 'cli', 'main.js'), '--daemon', '-K'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      BINDSNOOP_SERVER_PORT: '0',
      BINDSNOOP_SERVER_HOST: '127.0.0.1',
      NODE_NAME: 'bench-node',
      BINDSNOOP_KUBERNETES_PIN_DIR: pinDir,
      BINDSNOOP_KUBERNETES_CGROUP_ROOT: root,
      BINDSNOOP_KUBERNETES_POD_LOGS_DIR: logs,
      BINDSNOOP_KUBERNETES_CONTAINER_LOGS_DIR: logs,
      ...env,
    },
  });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  try {
    const started = Date.now();
    while (!/"msg":"serving/.test(err)) {
      if (proc.exitCode !== null || Date.now() - started > 20000) throw new Error(`the daemon did not start: ${err}`);
      await sleep(20);
    }
    await sleep(3000); // start-up settles: the first passes over the tree
    const before = threadsCpuMs(proc.pid);
    await sleep(seconds * 1000);
    const cpuMs = threadsCpuMs(proc.pid) - before;
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0);
    return { containers, millicores: (cpuMs / (seconds * 1000)) * 1000, rssMiB: rssKb / 1024 };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
    removeTree(root);
    rmSync(logs, { recursive: true, force: true });
    rmSync(pinDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
  const seconds = Number(opt('seconds', '20'));
  const counts = opt('containers', '0,200,1000').split(',').map(Number);
  const dirs = args.filter((a) => !a.startsWith('--'));
  const builds = dirs.length ? dirs : [path.resolve(import.meta.dirname, '..')];
  console.log(`| containers | ${builds.map((b) => `${path.basename(b)} millicores | MiB`).join(' | ')} |`);
  console.log(`|---|${builds.map(() => '---|---').join('|')}|`);
  for (const n of counts) {
    const row = [];
    for (const b of builds) {
      const r = await idleCost(b, n, seconds);
      row.push(`${r.millicores.toFixed(1)} | ${r.rssMiB.toFixed(0)}`);
    }
    console.log(`| ${n} | ${row.join(' | ')} |`);
  }
}
