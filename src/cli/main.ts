#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describeLosses, totalLost, type Accounting } from '../accounting';
import { loadConfig } from '../config/load';
import type { AppConfig } from '../config/schema';
import { BindsnoopError } from '../errors';
import { Pipeline } from '../pipeline';
import { describeBackend, type BindSource } from '../source';
import { formatCountTable } from '../sinks/count';
import { TRACING_LINE } from '../sinks/table';
import pino from 'pino';
import { effectiveCapabilities, missingCapabilities } from '../caps';
import { startAgentServer } from '../server';
import { flagsToConfig, HELP, parseArgs, USAGE, type CliOptions } from './args';

function version(): string {
  const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function fail(error: BindsnoopError): never {
  if (error.code === 'USAGE') process.stderr.write(`${USAGE}\nbindsnoop: error: ${error.message}\n`);
  else process.stderr.write(`bindsnoop: ${error.message}\n`);
  process.exit(error.exitStatus);
}

/** Runs `step`; a BindsnoopError ends the program with its message and status, anything else is a bug. */
function orFail<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof BindsnoopError) fail(e);
    throw e;
  }
}

function reportEnd(a: Accounting | undefined, exporting: boolean, source: BindSource, count: boolean): void {
  if (!a) return;
  if (totalLost(a.lost) > 0) {
    process.stderr.write(`bindsnoop: lost binds: ${describeLosses(a.lost, a.exportFailures)}\n`);
  }
  const kernelCountFull = source.stats().kernelCountFull;
  if (count && kernelCountFull) process.stderr.write(`bindsnoop: ${kernelCountFull} binds not counted (count table full)\n`);
  if (exporting) {
    process.stderr.write(`bindsnoop: exported ${a.exported} of ${a.seen} binds\n`);
  }
}

export function run(argv: readonly string[]): void {
  const opts: CliOptions = orFail(() => parseArgs(argv));
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  if (opts.version) {
    process.stdout.write(`bindsnoop ${version()}\n`);
    return;
  }

  // Everything the user configured is checked before anything is loaded.
  const config: AppConfig = orFail(() => loadConfig({ file: opts.config, env: process.env, flags: flagsToConfig(opts) }));
  const capabilities = effectiveCapabilities(readFileSync('/proc/self/status', 'utf8'));
  const missing = missingCapabilities(capabilities);
  if (opts.daemon) {
    runDaemon(config, opts, capabilities, missing);
    return;
  }
  if (missing.length) {
    fail(new BindsnoopError('KERNEL', `missing ${missing.join(' and ')} (effective: ${capabilities.join(', ') || 'none'}): run as root or with CAP_BPF and CAP_PERFMON`, 'EPERM'));
  }
  const pipeline = orFail(
    () =>
      new Pipeline({
        config,
        table: { timestamp: opts.timestamp, wide: opts.wide, printUid: opts.printUid },
        countMode: opts.count,
        version: version(),
        write: (chunk) => process.stdout.write(chunk),
        warn: (line) => process.stderr.write(`bindsnoop: ${line}\n`),
      }),
  );
  const source = orFail(() => pipeline.start());
  process.stderr.write(`bindsnoop: ${describeBackend(source.backend())}\n`);

  // The table goes to stdout as bcc's does; with JSON or -q stdout carries only data.
  const tableOnStdout = config.output.format === 'table' || opts.count;
  (tableOnStdout ? process.stdout : process.stderr).write(`${TRACING_LINE}\n`);
  const header = pipeline.tableHeader();
  if (header) process.stdout.write(header + '\n');

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      const accounting = await pipeline.stop();
      if (opts.count) process.stdout.write(formatCountTable(source.counts()));
      reportEnd(accounting, pipeline.otlp !== undefined, source, opts.count);
    } catch (e) {
      // the programs are detached by then or with the process; say what failed, without a stack
      process.stderr.write(`bindsnoop: error while stopping: ${(e as Error).message}\n`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGHUP', () => void shutdown());
  // `bindsnoop | head`: the reader went away; stop quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') void shutdown();
    else throw err;
  });
}

/**
 * Daemon mode: no table, JSON logs on stderr, /healthz /readyz /metrics.
 * SIGTERM: not ready at once, detach, drain, flush within
 * otlp.shutdownTimeoutMillis, log what was lost, exit 0. Pinned maps stay.
 */
function runDaemon(config: AppConfig, opts: CliOptions, capabilities: string[], missing: string[]): void {
  const log = pino({ base: { service: 'bindsnoop', version: version() }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
  log.info({ capabilities }, 'effective capabilities');
  if (missing.length) {
    log.error({ missing, capabilities }, `missing ${missing.join(' and ')}: grant CAP_BPF and CAP_PERFMON (securityContext.capabilities.add)`);
    process.exit(1);
  }
  const quit = (e: unknown): never => {
    if (e instanceof BindsnoopError) {
      log.error({ code: e.code, errno: e.errnoCode }, e.message);
      process.exit(e.exitStatus);
    }
    throw e;
  };
  let built: Pipeline | undefined;
  try {
    built = new Pipeline({
      config,
      table: { timestamp: false, wide: false, printUid: false },
      countMode: false,
      version: version(),
      write: () => undefined,
      warn: (line) => log.warn(line),
    });
    const source = built.start();
    const backend = source.backend();
    log.info({ backend: backend.name, notes: backend.notes }, describeBackend(backend));
  } catch (e) {
    quit(e);
  }
  if (!built) return;
  const pipeline: Pipeline = built;
  log.info({ endpoint: pipeline.otlp ? 'on' : 'off', kubernetes: config.kubernetes.enabled }, 'tracing binds');
  void startAgentServer(pipeline, config.server.port, config.server.host)
    .then(({ server, port }) => {
      log.info({ port, host: config.server.host }, 'serving /healthz /readyz /metrics');
      let stopping = false;
      const shutdown = async (signal: string): Promise<void> => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping: not ready, detaching, flushing');
        const a = await pipeline.stop();
        const lost = a ? Object.fromEntries(Object.entries(a.lost)) : {};
        log.info({ seen: a?.seen, exported: a?.exported, lost, exportFailures: Object.fromEntries(a?.exportFailures ?? []) }, 'stopped');
        server.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
      process.on('SIGINT', () => void shutdown('SIGINT'));
    })
    .catch((e: Error) => {
      log.error({ port: config.server.port }, `cannot serve HTTP: ${e.message}`);
      void pipeline.stop().then(() => process.exit(1));
    });
}

if (require.main === module) run(process.argv.slice(2));
