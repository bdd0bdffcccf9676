// Two builds side by side in one run (a change's cost, before and after): a
// socket+bind+close loop timed untraced and under each build's full agent
// (-q, exporting OTLP to a local sink; optionally more flags), rounds
// alternating, and each agent's CPU per bind over the loop and its flush.
//
//   node bench/compare-builds.mjs [--rate=N] [--one-core] BEFORE_DIR AFTER_DIR [binds per round] [rounds] [-- agent flags]
//   --rate=50000           the loop paced at so many binds a second (its binds spread over binds/rate
//                          seconds), and each agent's losses
//   --one-core             the agent held to CPU 0 (sched affinity), the loop on CPU 1
// Each agent's resident memory is sampled every 100 ms over its loop: the median round's peak is reported.
//
// Each DIR is a built checkout (dist/, native/build, bpf/). Run as root.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as path from 'node:path';

const options = [];
while (process.argv[2 + options.length]?.startsWith('--')) options.push(process.argv[2 + options.length]);
const rateArg = options.find((o) => o.startsWith('--rate='));
const oneCore = options.includes('--one-core');
const argv = process.argv.slice(2 + options.length);
const dash = argv.indexOf('--');
const positional = dash >= 0 ? argv.slice(0, dash) : argv;
const extra = dash >= 0 ? argv.slice(dash + 1) : [];
const [before, after] = positional;
if (!before || !after) {
  console.error('usage: node bench/compare-builds.mjs [--rate=BINDS_PER_SECOND] [--one-core] BEFORE_DIR AFTER_DIR [binds per round] [rounds] [-- agent flags]');
  process.exit(2);
}
const binds = Number(positional[2] ?? 50000);
const rounds = Number(positional[3] ?? 5);
const helper = path.resolve(import.meta.dirname, '..', 'test/helpers/bind_helper');
const TICKS_PER_SECOND = 100; // USER_HZ
const rate = rateArg ? Number(rateArg.slice('--rate='.length)) : 0;

/** The loop's wall time in ms; spawned, not spawnSync'd: the sink in this process keeps answering meanwhile. */
async function loop() {
  const t0 = process.hrtime.bigint();
  const pace = rate > 0 ? ['--rate', String(rate)] : [];
  const command = [...(oneCore ? ['taskset', '-c', '1'] : []), helper, '--netns', ...pace, '--repeat', String(binds), 'tcp,4,127.0.0.1,0'];
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => child.on('exit', r));
  if (code !== 0) throw new Error(err);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** utime + stime of a process, in ms */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${sink.address().port}`;

async function traced(dir) {
  const command = [...(oneCore ? ['taskset', '-c', '0'] : []), process.execPath, path.join(dir, 'dist/cli/main.js'), '-q', ...extra];
  const agent = spawn(command[0], command.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '200' },
  });
  let err = '';
  agent.stderr.on('data', (d) => (err += d));
  const started = Date.now();
  while (!err.includes('Tracing binds')) {
    if (Date.now() - started > 15000 || agent.exitCode !== null) throw new Error(`${dir}: the agent did not attach: ${err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 500)); // past its start-up work
  const cpu0 = cpuMs(agent.pid);
  let peakRssMiB = 0;
  const sampler = setInterval(() => {
    try {
      peakRssMiB = Math.max(peakRssMiB, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
    } catch {}
  }, 100);
  const ms = await loop();
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 1000)); // the last batch exported
  const cpu = cpuMs(agent.pid) - cpu0;
  agent.kill('SIGINT');
  await new Promise((r) => agent.on('exit', r));
  const lost = /lost binds: (.*)/.exec(err)?.[1];
  if (lost && process.env.VERBOSE) console.log(`  ${dir}: lost ${lost}`);
  return { ms, cpuUsPerBind: (cpu * 1000) / binds, lost: lost ? Number(/\d+/.exec(lost)?.[0] ?? 0) : 0, peakRssMiB };
}

const results = { untraced: [], before: [], after: [] };
for (let r = 0; r < rounds; r++) {
  results.untraced.push({ ms: await loop() });
  // alternate which build goes first
  const order = r % 2 ? ['after', 'before'] : ['before', 'after'];
  for (const which of order) results[which].push(await traced(which === 'before' ? before : after));
}
sink.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results.untraced.map((x) => x.ms));
console.log(`${binds} socket+bind+close per round${rate ? ` at ${rate}/s` : ''}${oneCore ? ', the agent on CPU 0 and the loop on CPU 1' : ''}, ${rounds} rounds, medians; agent: -q ${extra.join(' ')} exporting OTLP`);
for (const [name, xs] of Object.entries(results)) {
  const ms = median(xs.map((x) => x.ms));
  const cpu = name === 'untraced' ? '' : `  agent CPU ${median(xs.map((x) => x.cpuUsPerBind)).toFixed(2)} µs/bind, lost ${xs.map((x) => x.lost).join('/')}, resident peak ${median(xs.map((x) => x.peakRssMiB)).toFixed(0)} MiB`;
  console.log(`${name.padEnd(9)} ${(ms / binds * 1000).toFixed(2).padStart(7)} µs/iteration  ${(ms / base).toFixed(2)}x${cpu}`);
}
