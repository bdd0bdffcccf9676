// Two builds side by side in one run (a change's cost, before and after): a
// socket+bind+close loop timed untraced and under each build's full agent
// (-q, exporting OTLP to a local sink; optionally more flags), rounds
// alternating, and each agent's CPU per bind over the loop and its flush.
//
//   node bench/compare-builds.mjs BEFORE_DIR AFTER_DIR [binds per round] [rounds] [-- agent flags]
//   --rate=50000 (first)   the loop paced at so many binds a second (its binds spread over binds/rate
//                          seconds), and each agent's losses
//
// Each DIR is a built checkout (dist/, native/build, bpf/). Run as root.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as path from 'node:path';

const rateArg = process.argv[2]?.startsWith('--rate=') ? process.argv[2] : undefined;
const argv = process.argv.slice(rateArg ? 3 : 2);
const dash = argv.indexOf('--');
const positional = dash >= 0 ? argv.slice(0, dash) : argv;
const extra = dash >= 0 ? argv.slice(dash + 1) : [];
const [before, after] = positional;
if (!before || !after) {
  console.error('usage: node bench/compare-builds.mjs [--rate=BINDS_PER_SECOND] BEFORE_DIR AFTER_DIR [binds per round] [rounds] [-- agent flags]');
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
  const child = spawn(helper, ['--netns', ...pace, '--repeat', String(binds), 'tcp,4,127.0.0.1,0'], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  const agent = spawn(process.execPath, [path.join(dir, 'dist/cli/main.js'), '-q', ...extra], {
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
  const ms = await loop();
  await new Promise((r) => setTimeout(r, 1000)); // the last batch exported
  const cpu = cpuMs(agent.pid) - cpu0;
  agent.kill('SIGINT');
  await new Promise((r) => agent.on('exit', r));
  const lost = /lost binds: (.*)/.exec(err)?.[1];
  if (lost && process.env.VERBOSE) console.log(`  ${dir}: lost ${lost}`);
  return { ms, cpuUsPerBind: (cpu * 1000) / binds, lost: lost ? Number(/\d+/.exec(lost)?.[0] ?? 0) : 0 };
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
console.log(`${binds} socket+bind+close per round${rate ? ` at ${rate}/s` : ''}, ${rounds} rounds, medians; agent: -q ${extra.join(' ')} exporting OTLP`);
for (const [name, xs] of Object.entries(results)) {
  const ms = median(xs.map((x) => x.ms));
  const cpu = name === 'untraced' ? '' : `  agent CPU ${median(xs.map((x) => x.cpuUsPerBind)).toFixed(2)} µs/bind, lost ${xs.map((x) => x.lost).join('/')}`;
  console.log(`${name.padEnd(9)} ${(ms / binds * 1000).toFixed(2).padStart(7)} µs/iteration  ${(ms / base).toFixed(2)}x${cpu}`);
}
