import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';

/*
 * The real peers the suite runs (the OpenTelemetry Collector, etcd, kube-apiserver), built from their own
 * modules by test/peers/build.sh, once a process (the binary cached by the hash of its module's files).
 */
const ROOT = path.join(__dirname, '..', '..');
const built = new Map<string, string>();

/** The binary of test/peers/NAME, built when its module changed (a cold build of kube-apiserver takes minutes). */
export function peerBinary(name: 'collector' | 'etcd' | 'kube-apiserver'): string {
  const known = built.get(name);
  if (known) return known;
  const run = spawnSync(path.join(ROOT, 'test', 'peers', 'build.sh'), [name], { encoding: 'utf8', timeout: 1_800_000 });
  if (run.status !== 0) throw new Error(`building the ${name} peer failed:\n${run.stderr.slice(-4000)}`);
  const binary = run.stdout.trim();
  built.set(name, binary);
  return binary;
}

/** A TCP port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
