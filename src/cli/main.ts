#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BootClock } from '../clock';
import { BindsnoopError } from '../errors';
import type { BindEvent } from '../event';
import { bindAttributes } from '../naming';
import { loadAddon } from '../native';
import { InterfaceNames } from '../net/interfaces';
import { BindSource, DEFAULT_SOURCE_TUNING } from '../source';
import { formatCountTable } from '../sinks/count';
import { formatJsonLine } from '../sinks/json';
import { latin1Bytes, TableFormatter, TRACING_LINE } from '../sinks/table';
import { HELP, parseArgs, USAGE, type CliOptions } from './args';

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

/** Turns decoded events into output lines, one write per batch. */
function makeEventPrinter(opts: CliOptions): (events: BindEvent[]) => void {
  if (opts.quiet || opts.count) return () => undefined;
  if (opts.output === 'json') {
    const clock = new BootClock(() => loadAddon().clockPair());
    const interfaces = new InterfaceNames();
    return (events) => {
      let out = '';
      for (const e of events) {
        const attrs = bindAttributes(e, interfaces.lookup(e.boundDevIf, e.netnsId));
        out += formatJsonLine(clock.toWallNs(e.tsBootNs), attrs) + '\n';
      }
      process.stdout.write(out);
    };
  }
  const table = new TableFormatter(opts);
  return (events) => {
    let out = '';
    for (const e of events) out += table.row(e) + '\n';
    process.stdout.write(latin1Bytes(out));
  };
}

function reportLosses(source: BindSource): void {
  const s = source.stats();
  const parts: string[] = [];
  if (s.kernelRingFull) parts.push(`${s.kernelRingFull} dropped in the kernel (ring buffer full)`);
  if (s.kernelInflightFull) parts.push(`${s.kernelInflightFull} not tracked (too many binds in flight)`);
  if (s.kernelCountFull) parts.push(`${s.kernelCountFull} not counted (count table full)`);
  if (s.readerQueueFull) parts.push(`${s.readerQueueFull} dropped by the reader (output too slow)`);
  if (parts.length) process.stderr.write(`bindsnoop: lost binds: ${parts.join(', ')}\n`);
}

export function run(argv: readonly string[]): void {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof BindsnoopError) fail(e);
    throw e;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  if (opts.version) {
    process.stdout.write(`bindsnoop ${version()}\n`);
    return;
  }

  let source: BindSource;
  try {
    source = BindSource.open({
      pid: opts.pid,
      uid: opts.uid,
      ports: opts.ports,
      includeErrors: opts.errors,
      countMode: opts.count,
      cgroupMapPath: opts.cgroupMap,
      mntnsMapPath: opts.mntnsMap,
      ...DEFAULT_SOURCE_TUNING,
    });
  } catch (e) {
    if (e instanceof BindsnoopError) fail(e);
    throw e;
  }

  // The table goes to stdout as bcc's does; with JSON or -q stdout carries only data.
  const banner = opts.output === 'json' || opts.quiet ? process.stderr : process.stdout;
  banner.write(`${TRACING_LINE}\n`);
  if (!opts.count && !opts.quiet && opts.output === 'table') {
    process.stdout.write(new TableFormatter(opts).header() + '\n');
  }

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await source.stop();
    if (opts.count) process.stdout.write(formatCountTable(source.counts()));
    reportLosses(source);
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

  source.start(makeEventPrinter(opts));
}

if (require.main === module) run(process.argv.slice(2));
