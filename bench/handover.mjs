// Handover, measured side by side in one run (docs/BENCHMARKS.md, "Handover"):
//   gap:  a daemon exporting a 20,000 binds/s flood is killed (SIGKILL) and started again a second later, with
//         handover off and on: binds made, exported, counted lost, and neither (unseen and uncounted);
//   cost: a socket+bind+close loop timed under the daemon with handover off and on, every bind filtered out in the
//         kernel (the programs' own cost, no user-space work: with handover the heartbeat check comes first), in
//         alternating rounds, as ratios to the untraced loop.
// Run as root after a build: node bench/handover.mjs [flood seconds] [cost rounds] [--cost-only]
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const helper = path.join(root, 'test/helpers/bind_helper');
const cli = path.join(root, 'dist/cli/main.js');
const numbers = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const costOnly = process.argv.includes('--cost-only');
const floodSeconds = Number(numbers[0] ?? 8);
const rounds = Number(numbers[1] ?? 5);
const UID = 61_234;
const PIN_DIR = `/sys/fs/bpf/bindsnoop-bench-handover-${process.pid}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A receiver of OTLP/JSON that counts the records of UID's binds.
let collected = 0;
const sink = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    for (const rl of body.resourceLogs ?? [])
      for (const sl of rl.scopeLogs ?? [])
        for (const r of sl.logRecords ?? [])
          if ((r.attributes ?? []).some((kv) => kv.key === 'process.real_user.id' && Number(kv.value.intValue) === UID)) collected++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${sink.address().port}`;

function daemon(handover, filterUid = UID) {
  const env = {
    ...process.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    BINDSNOOP_FILTER_UID: String(filterUid),
    BINDSNOOP_SERVER_PORT: '0',
    BINDSNOOP_SERVER_HOST: '127.0.0.1',
    BINDSNOOP_HANDOVER_ENABLED: String(handover),
    BINDSNOOP_HANDOVER_PIN_DIR: PIN_DIR,
  };
  const proc = spawn(process.execPath, [cli, '--daemon'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const exited = new Promise((r) => proc.on('exit', r));
  const ready = (async () => {
    const t0 = Date.now();
    while (!err.includes('"msg":"serving')) {
      if (Date.now() - t0 > 30_000) throw new Error(`the daemon did not start: ${err}`);
      await sleep(20);
    }
  })();
  const books = () => {
    const line = err.split('\n').find((l) => l.includes('"msg":"stopped"'));
    return line ? JSON.parse(line) : undefined;
  };
  return { proc, ready, exited, books };
}

function cleanup() {
  spawnSync(process.execPath, [cli, 'cleanup', '--pin-dir', PIN_DIR], { stdio: 'ignore' });
}

async function gap(handover) {
  collected = 0;
  const first = daemon(handover);
  await first.ready;
  const flood = spawn(helper, ['--uid', String(UID), '--repeat', String(20_000 * floodSeconds), '--rate', '20000', '--seconds', String(floodSeconds + 4), 'udp,4,127.0.0.1,+30000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  flood.stdout.on('data', (d) => (out += d));
  const floodDone = new Promise((r) => flood.on('exit', r));
  await sleep(2000);
  first.proc.kill('SIGKILL');
  await first.exited;
  await sleep(1000);
  const second = daemon(handover);
  await second.ready;
  await floodDone;
  await sleep(3000);
  second.proc.kill('SIGTERM');
  await second.exited;
  await sleep(200);
  const made = Number(/done (\d+)/.exec(out)?.[1]);
  const b = second.books() ?? {};
  const lost = Object.values(b.lost ?? {}).reduce((s, n) => s + n, 0);
  const unknown = b.handover?.lost?.agent_ended ?? 0;
  cleanup();
  return { handover, made, exported: collected, countedLost: lost - unknown, deliveryUnknown: unknown, neither: Math.max(0, made - collected - lost) };
}

function loop() {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(helper, ['--uid', String(UID), '--repeat', '20000', 'udp,4,127.0.0.1,0']);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return Number(process.hrtime.bigint() - t0) / 20_000; // ns a bind
}

async function cost() {
  const times = { untraced: [], off: [], on: [] };
  for (let i = 0; i < rounds; i++) {
    times.untraced.push(loop());
    for (const handover of [false, true]) {
      // another uid: each of the loop's binds is dropped by the programs' filter, in the kernel
      const d = daemon(handover, UID + 1);
      await d.ready;
      await sleep(300);
      times[handover ? 'on' : 'off'].push(loop());
      d.proc.kill(handover ? 'SIGKILL' : 'SIGTERM');
      await d.exited;
      if (handover) cleanup();
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(times.untraced);
  return { untracedNsPerBind: Math.round(base), offRatio: +(median(times.off) / base).toFixed(3), onRatio: +(median(times.on) / base).toFixed(3), onMinusOffNs: Math.round(median(times.on) - median(times.off)) };
}

const results = { ...(costOnly ? {} : { gap: [await gap(false), await gap(true)] }), cost: await cost() };
sink.close();
console.log(JSON.stringify(results, null, 2));
