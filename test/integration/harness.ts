import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { afterAll, describe, expect } from 'vitest';
import { LOSS_STAGES } from '../../src/agent/accounting';
import { findCgroup2Mount } from '../../src/kubernetes/node-maps';
import { scaledMillis, waitUntil } from '../helpers/wait';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const HELPER = path.join(ROOT, 'test', 'helpers', 'bind_helper');
/** the same, linked statically: it runs in a chroot with nothing else in it */
export const HELPER_STATIC = path.join(ROOT, 'test', 'helpers', 'bind_helper.static');
export const TRACING_LINE = 'Tracing binds ... Hit Ctrl-C to end';

/** Root with BTF; elsewhere privileged tests skip, except under CI where they must run. */
export const privileged = process.getuid?.() === 0 && existsSync('/sys/kernel/btf/vmlinux');
export const describePrivileged = privileged || process.env.CI === 'true' ? describe : describe.skip;

const live = new Set<ChildProcessWithoutNullStreams>();
// Whatever a test file left running (a failed test's agent) is killed when the file ends.
afterAll(() => {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The bindsnoop CLI as a user runs it, in a child process. */
export class Agent {
  stdout = '';
  stdoutBytes: Buffer[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;

  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    // the table and JSON lines are UTF-8; a character split between two reads is decoded whole
    const decoder = new StringDecoder('utf8');
    proc.stdout.on('data', (d: Buffer) => {
      this.stdoutBytes.push(d);
      this.stdout += decoder.write(d);
    });
    proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  static spawn(args: readonly string[], env: NodeJS.ProcessEnv = {}, command: readonly string[] = [], nodeFlags: readonly string[] = [], cli = CLI): Agent {
    const argv = [...command, process.execPath, ...nodeFlags, cli, ...args];
    const proc = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: 'pipe' });
    live.add(proc);
    proc.on('exit', () => live.delete(proc));
    return new Agent(proc);
  }

  /** Starts it and waits for "Tracing binds", which it prints once attached. */
  static async start(args: readonly string[], env: NodeJS.ProcessEnv = {}, nodeFlags: readonly string[] = []): Promise<Agent> {
    const agent = Agent.spawn(args, env, [], nodeFlags);
    let exit: Exit | undefined;
    void agent.exited.then((e) => (exit = e));
    await waitUntil(
      'bindsnoop to attach',
      () => {
        if (exit) throw new Error(`bindsnoop exited (${exit.code}) before tracing: ${agent.stderr}`);
        return agent.stdout.includes(TRACING_LINE) || agent.stderr.includes(TRACING_LINE);
      },
      // loading the programs is CPU work: on a busy host it takes longer
      scaledMillis(15_000),
    );
    return agent;
  }

  /** The whole lines printed so far (one still being written, not yet ended by its newline, is not one). */
  lines(): string[] {
    return this.stdout.slice(0, this.stdout.lastIndexOf('\n') + 1).split('\n').filter((l) => l.length > 0);
  }

  jsonRecords(): Record<string, unknown>[] {
    return this.lines()
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
    return waitUntil(what, probe, timeoutMs);
  }

  /** The JSON records of one process, once `count` of them have arrived. */
  recordsOf(pid: number, count: number, timeoutMs = 5000): Promise<Record<string, unknown>[]> {
    return this.waitFor(
      () => {
        const mine = this.jsonRecords().filter((r) => r['process.pid'] === pid);
        return mine.length >= count ? mine : undefined;
      },
      `${count} bind records of pid ${pid}`,
      timeoutMs,
    );
  }

  /** The programs and links this agent holds now. */
  held(): HeldObjects {
    if (this.proc.pid === undefined) throw new Error('bindsnoop did not start');
    return heldBy(this.proc.pid);
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
    this.proc.kill(signal);
    return this.exited;
  }
}

/** The CLI's end-of-run report: "exported X of Y binds" and "lost binds: stage N (reason N), ...". */
export function endReport(stderr: string): { exported: number; seen: number; lost: Record<string, number> } {
  const m = /exported (\d+) of (\d+) binds/.exec(stderr);
  if (!m) throw new Error(`no end report in: ${stderr}`);
  const lost: Record<string, number> = {};
  const l = /lost binds: (.*)/.exec(stderr);
  if (l) {
    for (const part of l[1].replace(/\([^)]*\)/g, '').split(',')) {
      const [stage, n] = part.trim().split(/\s+/);
      lost[stage] = Number(n);
    }
  }
  return { exported: Number(m[1]), seen: Number(m[2]), lost };
}

export interface HelperRun {
  pid: number;
  /** the binding thread's id, with --thread */
  tid?: number;
  mntns: number;
  netns: number;
  /** "ok PORT" / "err ERRNO", one per SPEC */
  results: string[];
  /** its /proc/self/exe at the binds */
  exe?: string;
  /** with --repeat: how many binds it made */
  done?: number;
  exit: Exit;
}

function parseHelperOutput(out: string): Omit<HelperRun, 'exit'> {
  const lines = out.split('\n').filter(Boolean);
  const value = (key: string): number => Number(lines.find((l) => l.startsWith(`${key} `))?.split(' ')[1]);
  return {
    pid: value('pid'),
    tid: lines.some((l) => l.startsWith('tid ')) ? value('tid') : undefined,
    mntns: value('mntns'),
    netns: value('netns'),
    results: lines.filter((l) => l.startsWith('ok ') || l.startsWith('err ')),
    exe: lines.find((l) => l.startsWith('exe '))?.slice('exe '.length),
    done: lines.some((l) => l.startsWith('done ')) ? value('done') : undefined,
  };
}

/** Runs the bind helper (or a copy of it at `program`) to completion (see test/helpers/bind_helper.c for SPEC). */
export function runBinds(args: readonly string[], program = HELPER): HelperRun {
  const r = spawnSync(program, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bind_helper failed (${r.status}): ${r.stderr}`);
  return { ...parseHelperOutput(r.stdout), exit: { code: r.status, signal: r.signal } };
}

/** Runs the bind helper without blocking this process (a receiver in it keeps answering). */
export function runBindsAsync(args: readonly string[]): Promise<HelperRun> {
  const proc = spawn(HELPER, args, { stdio: 'pipe' });
  live.add(proc);
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  return new Promise((resolve, reject) =>
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      if (code !== 0) reject(new Error(`bind_helper failed (${code}): ${err}`));
      else resolve({ ...parseHelperOutput(out), exit: { code, signal } });
    }),
  );
}

/** A helper started with --wait: it has its pid and namespaces, and binds when told. */
export class WaitingHelper {
  private out = '';
  private readonly exited: Promise<Exit>;

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.on('data', (d: Buffer) => (this.out += d.toString('utf8')));
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(args: readonly string[], program = HELPER): Promise<{ helper: WaitingHelper; pid: number; mntns: number; netns: number }> {
    const proc = spawn(program, ['--wait', ...args], { stdio: 'pipe' });
    live.add(proc);
    const helper = new WaitingHelper(proc);
    const info = await waitUntil('bind_helper to start', () => (helper.out.includes('netns ') ? parseHelperOutput(helper.out) : undefined));
    return { helper, pid: info.pid, mntns: info.mntns, netns: info.netns };
  }

  async bind(): Promise<HelperRun> {
    this.proc.stdin.end('go\n');
    const exit = await this.exited;
    live.delete(this.proc);
    return { ...parseHelperOutput(this.out), exit };
  }
}

/** The cgroup v2 mount (/sys/fs/cgroup/unified on hybrid hosts). */
export function cgroup2Mount(): string {
  const mount = findCgroup2Mount();
  if (!mount) throw new Error('no cgroup2 mount');
  return mount;
}

/** Removes a cgroup tree depth first: a cgroup directory goes only once its children have (its files go with it). */
export function removeCgroupTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const child = path.join(dir, e);
    if (statSync(child).isDirectory()) removeCgroupTree(child);
  }
  rmdirSync(dir);
}

/** cgroup v2 id of a directory: its inode number. */
export function cgroupId(dir: string): number {
  return statSync(dir).ino;
}

export function bpftool(args: readonly string[]): string {
  const r = spawnSync('bpftool', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Little-endian hex bytes of a u64/u32, as bcc's docs feed them to bpftool. */
export function hexLE(value: number | bigint, bytes: 8 | 4): string[] {
  const b = Buffer.alloc(bytes);
  if (bytes === 8) b.writeBigUInt64LE(BigInt(value));
  else b.writeUInt32LE(Number(value));
  return [...b].map((x) => x.toString(16).padStart(2, '0'));
}

interface BpfObject {
  id: number;
  name?: string;
  /** a program's tag (a hash of its instructions) */
  tag?: string;
}

/** The tags of these programs, as bpftool shows them, sorted. */
export function programTags(held: HeldObjects): string[] {
  const ids = new Set(held.programs.map((p) => p.id));
  return bpfObjects('prog')
    .filter((p) => ids.has(p.id))
    .map((p) => p.tag ?? '')
    .sort();
}

function bpfObjects(kind: 'prog' | 'link'): BpfObject[] {
  return JSON.parse(bpftool([kind, 'show', '--json'])) as BpfObject[];
}

/**
 * The BPF programs and links one process holds, from its open file
 * descriptors (/proc/PID/fdinfo names each one's id), so that a test sees its
 * own agent's and never another tracer's on the same machine.
 */
export interface HeldObjects {
  programs: { id: number; name: string }[];
  links: number[];
}

export function heldBy(pid: number): HeldObjects {
  const programIds: number[] = [];
  const links: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let info = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const id = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+)$`, 'm').exec(info)?.[1]);
    if (target === 'anon_inode:bpf-prog') programIds.push(id('prog_id'));
    else if (target === 'anon_inode:bpf_link') links.push(id('link_id'));
  }
  const names = new Map(bpfObjects('prog').map((p) => [p.id, p.name ?? '']));
  return { programs: programIds.map((id) => ({ id, name: names.get(id) ?? '' })), links };
}

/** The kernel frees programs and links shortly after their last fd closes: wait for that, then assert all are gone. */
export async function expectReleased(held: HeldObjects): Promise<void> {
  const alive = () => {
    const progs = new Set(bpfObjects('prog').map((p) => p.id));
    const links = new Set(bpfObjects('link').map((l) => l.id));
    return [
      ...held.programs.filter((p) => progs.has(p.id)).map((p) => `prog ${p.id} ${p.name}`),
      ...held.links.filter((id) => links.has(id)).map((id) => `link ${id}`),
    ];
  };
  await waitUntil('the programs and links to be freed', () => alive().length === 0).catch(() => undefined);
  expect(alive()).toEqual([]);
}

/**
 * Runs the CLI under strace and returns its exit status, stderr and whether it
 * ever asked the kernel to load a BPF program: for the paths that must stop
 * before anything is loaded (bad flags, bad configuration, a wrong filter map).
 */
export function runTracingBpf(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string; loadedPrograms: number } {
  const trace = path.join(mkdtempSync('/tmp/bindsnoop-strace-'), 'bpf.trace');
  try {
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=bpf', '-e', 'signal=none', '-o', trace, process.execPath, CLI, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    const calls = readFileSync(trace, 'utf8');
    return { status: r.status, stderr: r.stderr, loadedPrograms: (calls.match(/bpf\(BPF_PROG_LOAD/g) ?? []).length };
  } finally {
    rmSync(path.dirname(trace), { recursive: true, force: true });
  }
}

/* The agent as the DaemonSet runs it: --daemon, JSON logs on stderr, /healthz /readyz /metrics. */

export type LogLine = Record<string, unknown> & { msg: string; level: number };

export function logLines(agent: Agent): LogLine[] {
  return agent.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** A daemon started and serving; `startMillis` (scaled to the load) bounds the wait for that, 15 s by default. */
export async function startDaemon(env: NodeJS.ProcessEnv, prefix: readonly string[] = [], args: readonly string[] = [], startMillis = 15_000, cli = CLI): Promise<{ agent: Agent; base: string }> {
  const agent = Agent.spawn(['--daemon', ...args], { BINDSNOOP_SERVER_PORT: '0', BINDSNOOP_SERVER_HOST: '127.0.0.1', ...env }, prefix, [], cli);
  let exited = false;
  void agent.exited.then(() => (exited = true));
  const line = await agent.waitFor(() => {
    if (exited) throw new Error('the daemon exited before serving');
    return logLines(agent).find((l) => l.msg.startsWith('serving'));
  }, 'the HTTP server', scaledMillis(startMillis)).catch((e: Error) => {
    throw new Error(`${e.message}; the daemon said:\n${agent.stderr.slice(-4000)}`);
  });
  return { agent, base: `http://127.0.0.1:${line.port as number}` };
}

/** One sample's value in Prometheus text. */
export function sampleOf(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

export async function metric(base: string, name: string): Promise<number> {
  return sampleOf(await (await fetch(`${base}/metrics`)).text(), name);
}

/**
 * The books from one scrape of /metrics: seen, exported, lost (all stages) and
 * pending, read together, as binds may flow between two scrapes (a busy host).
 */
export async function books(base: string): Promise<{ seen: number; exported: number; lost: number; pending: number }> {
  return booksIn(await (await fetch(`${base}/metrics`)).text());
}

/** The books in one scrape's Prometheus text: seen, exported, lost (all stages) and pending. */
export function booksIn(text: string): { seen: number; exported: number; lost: number; pending: number } {
  let lost = 0;
  for (const stage of LOSS_STAGES) lost += sampleOf(text, `bindsnoop_events_lost_total{stage="${stage}"}`);
  return { seen: sampleOf(text, 'bindsnoop_events_total'), exported: sampleOf(text, 'bindsnoop_events_exported_total'), lost, pending: sampleOf(text, 'bindsnoop_events_pending') };
}

/**
 * A user id of this test run's own, that no other process binds as: a test that
 * counts binds selects them with -u (and bind_helper --uid), as a user selects
 * theirs, so a neighbour binding on the same host does not enter its counts.
 */
export const OWN_UID = 60_000 + (process.pid % 5000);
