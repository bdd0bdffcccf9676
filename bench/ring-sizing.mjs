// How large a ring the kernel needs under an exec-heavy load: WORKERS processes fork and exec the bind helper
// (BINDS binds each) as fast as they can for SECONDS, while `bindsnoop -q` exports to a local sink, once per ring size,
// side by side in one run; the share of binds the ring kept (the rest are the `kernel` losses: the ring was full
// while the reader, sharing the cores with the load, fell behind).
//
//   node bench/ring-sizing.mjs [--seconds=10] [--workers=50] [--binds=10[,N...]] [--rings=1048576,8388608,16777216]
//
// Run as root, after a build and `make -C test/helpers`.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const helper = path.join(root, 'test', 'helpers', 'bind_helper');
const flood = path.join(root, 'test', 'helpers', 'exec_flood');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The exec-heavy run for each ring size: binds made, kept, lost. */
export async function ringSizing({ seconds = 10, workers = 50, bindsPerExec = [10], rings = [1 << 20, 8 << 20, 16 << 20] } = {}) {
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${sink.address().port}`;
  const out = [];
  try {
    for (const binds of bindsPerExec)
    for (const ring of rings) {
      const agent = spawn(process.execPath, [cli, '-q'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: url, BINDSNOOP_READER_RING_BUFFER_BYTES: String(ring) } });
      let err = '';
      agent.stderr.on('data', (d) => (err += d));
      const started = Date.now();
      while (!err.includes('Tracing binds')) {
        if (agent.exitCode !== null || Date.now() - started > 20000) throw new Error(`bindsnoop did not attach: ${err}`);
        await sleep(20);
      }
      const run = spawnSync(flood, [String(workers), '100000000', String(seconds), helper, '--repeat', String(binds), 'tcp,4,127.0.0.1,0'], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`exec_flood: ${run.stderr}`);
      const [, execs, took] = /runs (\d+) seconds ([\d.]+)/.exec(run.stdout).map(Number);
      const runs = execs * binds;
      await sleep(2000);
      agent.kill('SIGINT');
      await new Promise((r) => agent.on('exit', r));
      const seen = Number(/exported \d+ of (\d+) binds/.exec(err)?.[1]);
      const kernel = Number(/kernel (\d+)/.exec(/lost binds: (.*)/.exec(err)?.[1] ?? '')?.[1] ?? 0);
      out.push({ ringBytes: ring, bindsPerExec: binds, binds: runs, bindsPerSecond: runs / took, seen, lostInKernel: kernel, keptPercent: (100 * (seen - kernel)) / seen });
    }
  } finally {
    sink.close();
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
  const results = await ringSizing({ seconds: Number(opt('seconds', '10')), workers: Number(opt('workers', '50')), bindsPerExec: opt('binds', '10').split(',').map(Number), rings: opt('rings', `${1 << 20},${8 << 20},${16 << 20}`).split(',').map(Number) });
  console.log('| ring | binds an exec | binds/s | seen | lost in the kernel | kept |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.ringBytes >> 20} MiB | ${r.bindsPerExec} | ${Math.round(r.bindsPerSecond)} | ${r.seen} | ${r.lostInKernel} | ${r.keptPercent.toFixed(1)}% |`);
}
