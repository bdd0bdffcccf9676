#!/usr/bin/env node
import { fstatSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import * as path from 'node:path';
import pino from 'pino';
import { Agent } from '../agent/agent';
import { describeLosses, totalLost, type Accounting } from '../agent/accounting';
import { describeTakeover, handoverFields } from '../agent/handover';
import { loadConfig, logsUrl } from '../config/load';
import type { AppConfig } from '../config/schema';
import { loadAddon } from '../kernel/native';
import { describeBackend } from '../kernel/source';
import { BindsnoopError } from '../model/errors';
import { formatCountJson, formatCountTable } from '../output/count';
import { TRACING_LINE } from '../output/table';
import { startAgentServer } from '../server';
import { flagsToConfig, HELP, parseArgs, USAGE, type CliOptions } from './args';
import { effectiveCapabilities, missingCapabilities } from './caps';
import { runCleanup } from './cleanup';
import { StdoutWriter } from './stdout-writer';

/** The logs URL as a log line may show it: scheme, host, port and path; no user, password or query (either may hold a key). */
export function logEndpoint(config: AppConfig): string {
  const url = logsUrl(config);
  if (!url) return 'off';
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'on';
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The commit a package or image was built from (scripts/pack.sh writes it; a checkout has none). */
function buildCommit(): string | undefined {
  try {
    const info = JSON.parse(readFileSync(path.resolve(__dirname, '..', 'build-info.json'), 'utf8')) as { commit?: unknown };
    return typeof info.commit === 'string' ? info.commit : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The two front ends of one lifecycle: the terminal (bcc's table, JSON lines or
 * --count, messages on stderr) and the daemon (JSON logs, the HTTP server).
 * Everything else (building the agent, signals, stopping, exit statuses) is
 * the same for both.
 */
interface FrontEnd {
  /** a user's mistake or the kernel's refusal, worded for this front end */
  fail(error: BindsnoopError): never;
  warn(line: string): void;
  /** a batch of table rows or JSON lines for stdout */
  print(chunk: string | Buffer, binds: number): void;
  /** stdout's backlog is at its bound: rows made now would be dropped (the terminal only) */
  stdoutFull?(): boolean;
  /** binds whose rows were not made because stdout was full, counted with those not printed */
  stdoutDropped?(binds: number): void;
  /** the process's effective capabilities, checked before anything loads: ends the program when one is missing */
  checkCapabilities(capabilities: string[], missing: string[]): void;
  /** once attached */
  started(agent: Agent, config: AppConfig): Promise<void>;
  /** told to stop (a signal, a closed pipe) */
  stopping(signal: string, agent: Agent): void;
  /** after the agent stopped and flushed */
  stopped(agent: Agent, accounting: Accounting | undefined, signal: string): void | Promise<void>;
}

/**
 * What may wait for stdout at most: a reader that stops reading (a pipe nobody
 * drains) must not grow the agent's memory; what does not fit is dropped and
 * counted, and the count is reported at the end.
 */
const STDOUT_BACKLOG_BYTES = 8 << 20;

/** How often a pipe on stdout is checked for a reader that left. */
const STDOUT_READER_CHECK_MILLIS = 200;

/** At exit, how long lines still waiting for stdout get to reach it before they are counted as not printed. */
const STDOUT_FINAL_DRAIN_MILLIS = 1000;

/**
 * stdout as the table and JSON lines reach it: a pipe or socket is made
 * non-blocking (a reader that stops must not stall the agent) and watched for a
 * reader that left (`| head -1` ends bindsnoop at once, not at the next bind).
 */
function openStdout(onGone: () => void): StdoutWriter {
  const writer = new StdoutWriter(1, STDOUT_BACKLOG_BYTES, onGone);
  let st;
  try {
    st = fstatSync(1);
  } catch {
    return writer;
  }
  if (st.isFIFO() || st.isSocket()) {
    const addon = loadAddon();
    addon.setNonBlocking(1);
    const timer = setInterval(() => {
      if (!addon.peerClosed(1)) return;
      clearInterval(timer);
      onGone();
    }, STDOUT_READER_CHECK_MILLIS);
    timer.unref();
  }
  return writer;
}

function terminal(opts: CliOptions, onStdoutGone: () => void): FrontEnd {
  let readerGone = false;
  /** --count with -o json: the counts as JSON lines instead of bcc's table */
  let countAsJson = false;
  let out: StdoutWriter | undefined;
  const stdout = (): StdoutWriter =>
    (out ??= openStdout(() => {
      readerGone = true;
      onStdoutGone();
    }));
  return {
    print(chunk, binds) {
      stdout().print(chunk, binds);
    },
    stdoutFull: () => stdout().full(),
    stdoutDropped: (binds) => stdout().countDropped(binds),
    fail(error) {
      if (error.code === 'USAGE') process.stderr.write(`${USAGE}\nbindsnoop: error: ${error.message}\n`);
      else process.stderr.write(`bindsnoop: ${error.message}\n`);
      process.exit(error.exitStatus);
    },
    warn: (line) => process.stderr.write(`bindsnoop: ${line}\n`),
    checkCapabilities(capabilities, missing) {
      if (!missing.length) return;
      this.fail(new BindsnoopError('KERNEL', `missing ${missing.join(' and ')} (effective: ${capabilities.join(', ') || 'none'}): run as root or with CAP_BPF and CAP_PERFMON`, 'EPERM'));
    },
    async started(agent, config) {
      process.stderr.write(`bindsnoop: ${describeBackend(agent.backend()!)}\n`);
      // the table goes to stdout as bcc's does; with JSON or -q stdout carries only data
      countAsJson = config.output.format === 'json';
      const tableOnStdout = config.output.format === 'table' || (opts.count && !countAsJson);
      if (tableOnStdout) stdout().print(`${TRACING_LINE}\n`, 0);
      else process.stderr.write(`${TRACING_LINE}\n`);
      const header = agent.tableHeader();
      if (header) stdout().print(header + '\n', 0);
    },
    stopping(signal, agent) {
      // the flush can take up to otlp.shutdownTimeoutMillis: say what it waits for, and how not to wait
      const pending = agent.exporting ? (agent.accounting()?.pending ?? 0) : 0;
      if (pending > 0 && signal !== 'EPIPE') process.stderr.write(`bindsnoop: flushing ${pending} binds to ${agent.endpoint} (Ctrl-C again to stop)\n`);
    },
    async stopped(agent, a) {
      if (opts.count) stdout().print(countAsJson ? formatCountJson(agent.counts()) : formatCountTable(agent.counts()), 0);
      // lines still waiting for a reader that does not read are dropped at exit: count them too
      const notPrinted = await stdout().finish(STDOUT_FINAL_DRAIN_MILLIS);
      // a reader that left (| head) chose not to read the rest: not worth a word
      if (notPrinted && !readerGone) process.stderr.write(`bindsnoop: ${notPrinted} binds not printed: stdout was not read fast enough (${STDOUT_BACKLOG_BYTES >> 20} MiB waited)\n`);
      if (!a) return;
      if (totalLost(a.lost) > 0) process.stderr.write(`bindsnoop: lost binds: ${describeLosses(a.lost, a.exportFailures, a.handover?.losses)}\n`);
      const countFull = agent.kernelStats()?.kernelCountFull ?? 0;
      if (opts.count && countFull) process.stderr.write(`bindsnoop: ${countFull} binds not counted (count table full)\n`);
      if (agent.exporting) process.stderr.write(`bindsnoop: exported ${a.exported} of ${a.seen} binds\n`);
      else if (opts.quiet && !opts.count) process.stderr.write(`bindsnoop: traced ${a.seen} binds (-q: none printed)\n`);
    },
  };
}

function daemon(): FrontEnd {
  const log = pino({ base: { service: 'bindsnoop', version: version() }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
  let server: Server | undefined;
  return {
    fail(error) {
      log.error({ code: error.code, errno: error.errnoCode }, error.message);
      process.exit(error.exitStatus);
    },
    warn: (line) => log.warn(line),
    print: () => undefined, // the daemon prints no table
    checkCapabilities(capabilities, missing) {
      log.info({ capabilities }, 'effective capabilities');
      if (!missing.length) return;
      log.error({ missing, capabilities }, `missing ${missing.join(' and ')}: grant CAP_BPF and CAP_PERFMON (securityContext.capabilities.add)`);
      process.exit(1);
    },
    async started(agent, config) {
      const backend = agent.backend()!;
      log.info({ backend: backend.name, notes: backend.notes }, describeBackend(backend));
      const handover = agent.handover();
      if (handover) log.info({ handover: handoverFields(handover), pinDir: config.handover.pinDir }, describeTakeover(handover));
      // the URL the records go to, without credentials (a user:password in it, or a query, is never logged)
      log.info({ endpoint: agent.exporting ? logEndpoint(config) : 'off', kubernetes: config.kubernetes.enabled }, 'tracing binds');
      try {
        const started = await startAgentServer(agent, config.server.port, config.server.host);
        server = started.server;
        log.info({ port: started.port, host: config.server.host }, 'serving /healthz /readyz /metrics');
      } catch (e) {
        log.error({ port: config.server.port }, `cannot serve HTTP: ${(e as Error).message}`);
        await agent.stop();
        process.exit(1);
      }
    },
    stopping(signal, agent) {
      if (agent.removesPinnedSet()) log.info({ signal }, 'stopping: not ready, detaching, flushing; its DaemonSet is deleted, so no agent will take over: the pinned set is removed');
      else if (agent.handover()) log.info({ signal }, 'stopping: not ready, flushing; the programs stay attached and their ring keeps what comes meanwhile for the next agent (handover; bindsnoop cleanup removes them)');
      else log.info({ signal }, 'stopping: not ready, detaching, flushing');
    },
    stopped(agent, a, signal) {
      const lost = a ? Object.fromEntries(Object.entries(a.lost)) : {};
      const handover = a?.handover && {
        generation: a.handover.generation,
        recovered: a.handover.recovered,
        duplicatesDropped: a.handover.duplicatesDropped,
        lost: Object.fromEntries(a.handover.losses),
        removed: agent.handover()?.removed ?? false,
      };
      log.info({ signal, seen: a?.seen, exported: a?.exported, lost, exportFailures: Object.fromEntries(a?.exportFailures ?? []), ...(handover ? { handover } : {}) }, 'stopped');
      server?.close();
    },
  };
}

export function run(argv: readonly string[]): void {
  if (argv[0] === 'cleanup') process.exit(runCleanup(argv.slice(1)));
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof BindsnoopError) {
      process.stderr.write(`${USAGE}\nbindsnoop: error: ${e.message}\n`);
      process.exit(e.exitStatus);
    }
    throw e;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  if (opts.version) {
    const commit = buildCommit();
    process.stdout.write(`bindsnoop ${version()}${commit ? ` (commit ${commit})` : ''}\n`);
    return;
  }
  let onStdoutGone = (): void => undefined;
  const front = opts.daemon ? daemon() : terminal(opts, () => onStdoutGone());
  // one error policy: a BindsnoopError ends the program with its message and status, anything else is a bug
  const orFail = <T>(step: () => T): T => {
    try {
      return step();
    } catch (e) {
      if (e instanceof BindsnoopError) front.fail(e);
      throw e;
    }
  };

  // everything the user configured is checked before anything is loaded
  const config = orFail(() => loadConfig({ file: opts.config, env: process.env, flags: flagsToConfig(opts), warn: (line) => front.warn(line) }));
  // -q in a terminal with nothing exported traces and prints nothing: say so, and say at the end what it saw
  const silent = opts.quiet === true && !opts.daemon && !opts.count && !logsUrl(config);
  if (silent) front.warn('-q and no OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, otlp.endpoint): binds are traced and counted, not printed or exported');
  // a host that cannot run the addon is told what is missing before anything is loaded into the kernel
  orFail(() => loadAddon());
  const capabilities = effectiveCapabilities(readFileSync('/proc/self/status', 'utf8'));
  front.checkCapabilities(capabilities, missingCapabilities(capabilities));
  const agent = orFail(
    () =>
      new Agent({
        config,
        table: { timestamp: opts.timestamp, wide: opts.wide, printUid: opts.printUid, exe: opts.exe },
        countMode: opts.count,
        daemon: opts.daemon,
        version: version(),
        write: (chunk, binds) => front.print(chunk, binds),
        stdoutFull: front.stdoutFull && (() => front.stdoutFull?.() === true),
        stdoutDropped: front.stdoutDropped && ((binds: number) => front.stdoutDropped?.(binds)),
        warn: (line) => front.warn(line),
      }),
  );

  // signal handlers before anything is loaded or listens
  let stopping = false;
  let started = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      // asked again while flushing: the user does not want to wait; say what is left behind
      if (signal !== 'EPIPE') {
        const pending = agent.accounting()?.pending ?? 0;
        front.warn(`${signal} again: not waiting for the flush; ${pending} binds not sent`);
        process.exit(1);
      }
      return;
    }
    stopping = true;
    if (!started) process.exit(0);
    front.stopping(signal, agent);
    try {
      await front.stopped(agent, await agent.stop(), signal);
    } catch (e) {
      // the programs are detached by then or with the process; say what failed, without a stack
      front.warn(`error while stopping: ${(e as Error).message}`);
      process.exit(1);
    }
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));
  // `bindsnoop | head`: the reader went away; stop quietly
  onStdoutGone = () => void shutdown('EPIPE');

  orFail(() => agent.start());
  started = true;
  void front.started(agent, config);
}

if (require.main === module) run(process.argv.slice(2));
