import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/peers';
import { scaledMillis, waitUntil } from '../helpers/wait';
import { CLI, describePrivileged, HELPER, ROOT, TRACING_LINE } from './harness';

/**
 * The README as a new user follows it: every fenced shell block is marked in
 * the README's source (`<!-- readme-walk: NAME -->`) and run here as written
 * (a port or a pinned path made unique to the run), or marked as not runnable
 * here with the reason. A block without a mark fails: the README cannot grow a
 * command nobody ran. What a user must never see: a stack trace, a missing
 * file, or anything but the tool's output on stdout.
 */
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface Block {
  mark: string;
  commands: string;
}

/** The fenced sh blocks, each with the mark just before it. Pure. */
function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const re = /(?:<!-- readme-walk: ([^\n]*?) -->\n)?```sh\n([\s\S]*?)```/g;
  for (const m of markdown.matchAll(re)) blocks.push({ mark: m[1] ?? '', commands: m[2] });
  return blocks;
}

const blocks = shellBlocks(README);
const block = (mark: string): string => {
  const b = blocks.find((x) => x.mark === mark || x.mark.startsWith(`${mark} `));
  if (!b) throw new Error(`no README block marked ${mark}`);
  return b.commands;
};

const work = mkdtempSync(path.join(tmpdir(), 'bindsnoop-readme-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A directory whose `bindsnoop` is this build's CLI, as the installed command is. */
function binDir(): string {
  const dir = path.join(work, 'bin');
  if (!existsSync(dir)) {
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'bindsnoop'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(path.join(dir, 'bindsnoop'), 0o755);
  }
  return dir;
}

/** Runs shell text with bash, this build's bindsnoop first on PATH; collects its output. */
function shell(text: string, cwd = ROOT): { proc: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const proc = spawn('bash', ['-c', text], { cwd, env: { ...process.env, PATH: `${binDir()}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, out: () => out, err: () => err, exited };
}

/** Ctrl-C to the whole command, as a terminal sends it to the foreground process group. */
function ctrlC(proc: ChildProcess): void {
  process.kill(-proc.pid!, 'SIGINT');
}

/** What a user must never see. */
function expectClean(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at \S+ \(/); // a stack trace
  expect(stderr).not.toMatch(/ENOENT|No such file|command not found|not found: /);
}

describe('the README', () => {
  it('marks every fenced shell block as walked here or says why it is not', () => {
    expect(blocks.length).toBeGreaterThan(3);
    const known = ['dev', 'cgroupmap', 'export', 'receiver'];
    for (const b of blocks) {
      expect(b.mark, `an unmarked block:\n${b.commands}`).not.toBe('');
      expect(known.includes(b.mark.split(' ')[0]) || /^not run \(.+\)$/.test(b.mark), `unknown mark "${b.mark}"`).toBe(true);
    }
  });
});

describePrivileged('walking the README', () => {
  it('its cgroup-map recipe, pasted: only this shell\'s cgroup is traced', async () => {
    const map = `/sys/fs/bpf/bindsnoop-readme-${process.pid}`;
    const recipe = block('cgroupmap').replaceAll('/sys/fs/bpf/cgroupset', map);
    // the recipe's shell binds once the tracer is up (a process of the same cgroup), and is interrupted as a user would
    const run = shell(recipe);
    try {
      await waitUntil('the tracer', () => run.out().includes(TRACING_LINE) || run.proc.exitCode !== null, scaledMillis(20_000));
      expect(run.proc.exitCode, run.err()).toBeNull();
      const bind = spawnSync(HELPER, ['--netns', '--comm', 'readme-walk', 'tcp,4,127.0.0.1,0'], { encoding: 'utf8' });
      expect(bind.status).toBe(0);
      await waitUntil('the bind of a process in the shell\'s cgroup', () => run.out().includes('readme-walk'), scaledMillis(10_000));
      ctrlC(run.proc);
      expect(await run.exited).toBe(0);
      expect(run.out().split('\n')[0]).toBe(TRACING_LINE);
      expectClean(run.err());
    } finally {
      rmSync(map, { force: true });
    }
  });

  it('its export recipe with its local receiver: the binds arrive, the end report says so', async () => {
    const port = String(await freePort());
    const receiver = shell(block('receiver').replaceAll('4318', port));
    try {
      const exporter = shell(block('export').replaceAll('4318', port));
      await waitUntil('the tracer', () => exporter.err().includes(TRACING_LINE) || exporter.proc.exitCode !== null, scaledMillis(20_000));
      expect(exporter.proc.exitCode, exporter.err()).toBeNull();
      spawnSync(HELPER, ['--netns', 'tcp,4,127.0.0.1,0']);
      await waitUntil('a request at the receiver', () => /^POST \/v1\/logs \d+ bytes$/m.test(receiver.out()), scaledMillis(15_000));
      ctrlC(exporter.proc);
      expect(await exporter.exited).toBe(0);
      // -q: nothing on stdout; the end report names what was exported
      expect(exporter.out()).toBe('');
      expect(exporter.err()).toMatch(/bindsnoop: exported (\d+) of \1 binds/);
      expectClean(exporter.err() + receiver.err());
    } finally {
      ctrlC(receiver.proc);
      await receiver.exited;
    }
  });

  it('its two commands from a fresh clone: ./dev run sets up, builds, and stdout carries only the tool\'s output', async () => {
    expect(block('dev')).toContain('./dev run');
    const clone = path.join(work, 'clone');
    expect(spawnSync('git', ['clone', '-q', ROOT, clone]).status).toBe(0);
    // the tree as committed, built from nothing (the npm cache and the Debian packages make it a minute or two)
    const run = shell('./dev run -t -E', clone);
    await waitUntil('the tracer of the fresh clone', () => run.out().includes(TRACING_LINE) || run.proc.exitCode !== null, scaledMillis(600_000));
    expect(run.proc.exitCode, run.err()).toBeNull();
    ctrlC(run.proc);
    expect(await run.exited).toBe(0);
    // bcc's first line first: npm, make and tsc said what they had to on stderr
    expect(run.out().split('\n')[0]).toBe(TRACING_LINE);
    expect(run.out().split('\n')[1]).toMatch(/^TIME\(s\)\s+RC\s+PID COMM/);
    expectClean(run.err());
  }, 900_000);
});
