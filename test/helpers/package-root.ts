import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The npm package installed as a user installs it: packed from this build
 * (scripts/pack.sh), then `npm install -g` in a clean Debian root
 * (scripts/debian-root.sh) that has the official Node.js build and npm and
 * nothing else. The root stays cached and untouched; the install lives in an
 * overlay's upper directory (test/helpers/in-root.sh).
 */
export const REPO = path.resolve(__dirname, '..', '..');
export const IN_ROOT = path.join(REPO, 'test', 'helpers', 'in-root.sh');
export const PACKAGE = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bindsnoop: { prebuilds: { platforms: string[]; glibc: string } };
};
/** where npm install -g puts the package in a root */
export const INSTALLED = `/usr/local/lib/node_modules/${PACKAGE.name}`;

export function sh(cmd: string, args: string[], timeout = 600_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
}

export function must(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr.slice(-3000)}${r.stdout.slice(-1000)}`);
  return r.stdout;
}

/** Packs the package into `dir`; the tarball's path. */
export function pack(dir: string): string {
  return must(sh(path.join(REPO, 'scripts', 'pack.sh'), [dir], 900_000), 'scripts/pack.sh').trim().split('\n').pop() ?? '';
}

export interface InstalledRoot {
  /** the cached clean root */
  lower: string;
  /** the overlay state: STATE/upper holds Node.js, npm and the installed package */
  state: string;
  tarball: string;
  run(args: string[], timeout?: number): SpawnSyncReturns<string>;
}

/** A clean Debian root of `suite` for `arch`, with Node.js and npm, and `tarball` copied to /root (not yet installed). */
export function prepareRoot(suite: string, arch: 'amd64' | 'arm64', state: string, tarball: string): InstalledRoot {
  const lower = must(sh(path.join(REPO, 'scripts', 'debian-root.sh'), [suite, arch], 1_500_000), `debian-root ${suite} ${arch}`).trim();
  const nodeDir = must(sh(path.join(REPO, 'scripts', 'node-binary.sh'), ['', arch === 'amd64' ? 'x64' : 'arm64']), 'node-binary').trim();
  const npmDir = path.join(must(sh('npm', ['root', '-g']), 'npm root').trim(), 'npm');
  must(sh(IN_ROOT, ['--node', nodeDir, npmDir, lower, state]), 'node into the root');
  mkdirSync(path.join(state, 'upper', 'root'), { recursive: true });
  copyFileSync(tarball, path.join(state, 'upper', 'root', path.basename(tarball)));
  return { lower, state, tarball, run: (args, timeout) => sh(IN_ROOT, [lower, state, ...args], timeout) };
}

/** npm install -g of the tarball inside the root. */
export function installPackage(root: InstalledRoot, extra: string[] = []): SpawnSyncReturns<string> {
  return root.run(['npm', 'install', '-g', '--no-audit', '--no-fund', '--loglevel=error', ...extra, `/root/${path.basename(root.tarball)}`], 900_000);
}
