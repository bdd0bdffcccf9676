import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = '/var/cache/bindsnoop-testbuild';
/** what the build is made from: a change to any of it makes another build */
const SOURCES = ['bpf', 'native', 'src', 'package.json', 'tsconfig.json'];
/** the version the build says it is, in the pinned set and its logs */
export const TEST_LAYOUT_VERSION = '0.0.0-test-layout';

function filesOf(p: string): string[] {
  const st = statSync(p);
  if (!st.isDirectory()) return [p];
  return readdirSync(p)
    .filter((n) => !['build', '.output', 'prebuilds', 'node_modules'].includes(n))
    .sort()
    .flatMap((n) => filesOf(path.join(p, n)));
}

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): void {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}) in ${cwd}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-4000)}`);
}

/**
 * This checkout built with another record layout (bpf/bindsnoop.h's BINDSNOOP_TEST_LAYOUT: one field more, layout
 * version 2), as a later release may have: its CLI, for the handover's version-skew test. Built once for the
 * content of its sources and cached under /var/cache/bindsnoop-testbuild.
 */
export function testLayoutCli(): string {
  const hash = createHash('sha256');
  for (const file of SOURCES.flatMap((s) => filesOf(path.join(ROOT, s)))) hash.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file));
  const dir = path.join(CACHE, hash.digest('hex').slice(0, 16));
  const cli = path.join(dir, 'dist', 'cli', 'main.js');
  if (existsSync(cli)) return cli;
  mkdirSync(CACHE, { recursive: true });
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  for (const s of SOURCES) cpSync(path.join(ROOT, s), path.join(work, s), { recursive: true, filter: (src) => !/\/(build|\.output|prebuilds)$/.test(src) });
  const pkg = JSON.parse(readFileSync(path.join(work, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(path.join(work, 'package.json'), JSON.stringify({ ...pkg, version: TEST_LAYOUT_VERSION }, null, 2));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'));
  run('make', ['-s', '-C', 'bpf', 'BPF_CFLAGS=-DBINDSNOOP_TEST_LAYOUT'], work);
  // through npx, as ./dev builds the addon: npm's configuration (its nodedir: the headers this host has) applies
  run('npx', ['--no-install', 'node-gyp', 'rebuild', '--directory', 'native'], work, { CPPFLAGS: '-DBINDSNOOP_TEST_LAYOUT' });
  run(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], work);
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  return cli;
}
