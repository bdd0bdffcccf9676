// Cost of tracing to the traced process: a socket+bind+close loop timed
// untraced and under bindsnoop, alternating rounds, reported as ratios.
// Run as root after a build: node bench/bind-overhead.mjs [binds per round] [rounds]
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const helper = path.join(root, 'test/helpers/bind_helper');
const cli = path.join(root, 'dist/cli/main.js');
const binds = Number(process.argv[2] ?? 20000);
const rounds = Number(process.argv[3] ?? 5);

function loop() {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(helper, ['--netns', '--repeat', String(binds), 'tcp,4,127.0.0.1,0']);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

// A receiver that accepts every OTLP request, so export cost is the agent's own.
const sinkServer = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
await new Promise((r) => sinkServer.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${sinkServer.address().port}`;

async function traced(args, env = {}) {
  const agent = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  agent.stderr.on('data', (d) => (err += d));
  const ready = Date.now();
  // -q and -o json print the banner on stderr once attached
  while (!err.includes('Tracing binds')) {
    if (Date.now() - ready > 15000) throw new Error(`agent did not attach: ${err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = loop();
  agent.kill('SIGINT');
  await new Promise((r) => agent.on('exit', r));
  const lost = /lost binds: (.*)/.exec(err)?.[1] ?? 'none';
  return { ms, lost };
}

const modes = [
  ['untraced', null],
  ['bindsnoop -q (kernel + reader + decode)', ['-q']],
  ['bindsnoop -o json > /dev/null', ['-o', 'json']],
  ['bindsnoop -P 1 (all filtered in kernel)', ['-q', '-P', '1']],
  ['bindsnoop -q with OTLP export', ['-q'], { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }],
];
const results = new Map(modes.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, args, env] of modes) {
    const { ms, lost } = args ? await traced(args, env) : { ms: loop(), lost: 'n/a' };
    results.get(name).push(ms);
    if (lost !== 'none' && lost !== 'n/a') console.log(`  round ${r} ${name}: lost ${lost}`);
  }
}
sinkServer.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results.get('untraced'));
console.log(`${binds} socket+bind+close per round, ${rounds} rounds, median wall time`);
for (const [name, xs] of results) {
  const m = median(xs);
  console.log(`${name.padEnd(44)} ${m.toFixed(1).padStart(8)} ms  ${(m / base).toFixed(2)}x  (${(binds / m * 1000).toFixed(0)} binds/s)`);
}
